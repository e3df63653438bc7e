from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regulatory.forms import PageChoiceField

from .models import ConsentRecord


class ConsentForm(forms.Form):
    """The site-staff form of one consent, built from the statements of the version in force."""

    version = PageChoiceField(queryset=None, label=_("Form version"), widget=forms.HiddenInput)
    expected_sequence = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    signed_at = forms.DateTimeField(
        label=_("Signed at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M"],
        help_text=_("Local time (Europe/Paris). Checked by the server: never in the future."))
    outcome = forms.ChoiceField(label=_("Decision"), choices=ConsentRecord.Outcome.choices,
                                widget=forms.RadioSelect, initial=ConsentRecord.Outcome.CONSENTED)
    signer_role = forms.ChoiceField(
        label=_("Who signs the continuation consent"), required=False, widget=forms.RadioSelect,
        initial=ConsentRecord.SignerRole.PARTICIPANT,
        choices=[(ConsentRecord.SignerRole.PARTICIPANT, _("The patient, now able to consent")),
                 (ConsentRecord.SignerRole.REPRESENTATIVE,
                  _("A relative or the trusted person, the patient being still unable to consent (the patient "
                    "will be asked as soon as able)"))])
    patient_unable_attested = forms.BooleanField(
        label=_("I attest that the patient is still unable to consent"), required=False)
    surrogate_relationship = forms.CharField(label=_("Relationship to the participant"), required=False,
                                             max_length=120)
    independence_attested = forms.BooleanField(
        label=_("The surrogate is independent of the investigator and of the sponsor"), required=False)
    emergency_conditions_attested = forms.BooleanField(
        label=_("I attest the emergency: the patient cannot consent and no relative could be reached in time"),
        required=False)
    no_prior_objection_attested = forms.BooleanField(
        label=_("No prior objection of the patient to this research is known"), required=False)
    objects_to_data_use = forms.TypedChoiceField(
        label=_("If refusing: does the patient (or the representative, for them) object to the use of data already "
                "collected?"), required=False,
        choices=[("", "—"), ("no", _("No")), ("yes", _("Yes, objects"))],
        coerce=lambda value: {"yes": True, "no": False}.get(value), empty_value=None)
    witness_name = forms.CharField(label=_("Witness (optional)"), required=False, max_length=255)
    signature_drawn = forms.CharField(widget=forms.HiddenInput, required=False, max_length=3_000_000)
    signature_scan = forms.ImageField(label=_("…or the scan of the signed paper form (PNG or JPEG)"),
                                      required=False)
    # Both components of the electronic signature, at every signing (21 CFR 11.200(a)(1)): never filled in for
    # the user, although they are logged in.
    username = forms.CharField(label=_("Your user name, to sign"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none",
                                                             "spellcheck": "false"}))
    password = forms.CharField(label=_("Your password, to sign"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args, versions, statements, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = versions
        self.statements = statements
        for index, statement in enumerate(statements):
            self.fields[f"statement_{index}"] = forms.ChoiceField(
                label=statement["text"] + (" *" if statement.get("mandatory") else ""), widget=forms.RadioSelect,
                choices=[("accept", statement["accept_label"]), ("refuse", statement["refuse_label"])])

    def statement_fields(self):
        return [self[f"statement_{index}"] for index in range(len(self.statements))]

    def clean_signed_at(self):
        value = self.cleaned_data["signed_at"]
        if value.year < 1900:  # a typing slip, and before year 2 the conversion to UTC overflows
            raise ValidationError(forms.DateTimeField.default_error_messages["invalid"], code="invalid")
        if value > timezone.now():
            raise ValidationError(_("The signing time is in the future."))
        return value

    def answers(self) -> dict[int, str]:
        return {index: self.cleaned_data.get(f"statement_{index}") for index in range(len(self.statements))}


class WithdrawalForm(forms.Form):
    reason = forms.CharField(label=_("How the withdrawal was expressed"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    objects_to_data_use = forms.BooleanField(label=_("The participant objects to the use of data already collected"),
                                             required=False)


class DeathForm(forms.Form):
    died_at = forms.DateTimeField(label=_("Date and time of death"),
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                  input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"])

    def clean_died_at(self):
        value = self.cleaned_data["died_at"]
        if value.year < 1900:  # a typing slip, and before year 2 the conversion to UTC overflows
            raise ValidationError(forms.DateTimeField.default_error_messages["invalid"], code="invalid")
        return value
