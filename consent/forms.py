import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regulatory.forms import PageChoiceField

from .models import ConsentRecord, Participant, Withdrawal

# A blank of the form asking for the participant's code ("Code participant", "Participant code"): filled in for
# the person recording, who may still change it.
PARTICIPANT_CODE_LABEL = re.compile(r"code\s+(du\s+)?participant|participant\s+code", re.IGNORECASE)


class ConsentForm(forms.Form):
    """The site-staff form of one consent, built from the statements of the version in force."""

    version = PageChoiceField(queryset=None, label=_("Form version"), widget=forms.HiddenInput)
    expected_sequence = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    signed_at = forms.DateTimeField(
        label=_("Signed at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M"],
        help_text=_("Local time (Europe/Paris). Checked by the server: never in the future."))
    outcome = forms.ChoiceField(label=_("Decision"), choices=[
        (ConsentRecord.Outcome.CONSENTED, _("Consented")), (ConsentRecord.Outcome.REFUSED, _("Refused"))],
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
    # The keyboard's way to sign, for a signer who cannot draw on the screen (WCAG 2.1.1): their full name, typed
    signature_typed = forms.CharField(
        label=_("…or, without drawing, the signer types their full name"), required=False, max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Recorded as a name typed by the signer, not as a drawn signature."))
    signature_scan = forms.ImageField(label=_("…or the scan of the signed paper form (PNG or JPEG)"),
                                      required=False)
    # Both components of the electronic signature, at every signing (21 CFR 11.200(a)(1)): never filled in for
    # the user, although they are logged in.
    username = forms.CharField(label=_("Your user name, to sign"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none",
                                                             "spellcheck": "false"}))
    password = forms.CharField(label=_("Your password, to sign"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    # That the information note was displayed (when: signed by the server as the page was sent) and for how long
    # (seconds, measured by the page until the signer went on to the consent part).
    information_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)
    information_seconds = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0,
                                             max_value=10 ** 7)

    cannot_read = forms.BooleanField(
        label=_("The participant (or the representative) cannot read: an impartial witness attends the whole "
                "discussion and signs"), required=False)

    def __init__(self, *args, versions, statements, consent_blocks=(), participant_code="", ceremony=(),
                 questions=(), main_roles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._ceremony_fields(ceremony, questions, main_roles)
        self.fields["version"].queryset = versions
        self.statements = statements
        for index, statement in enumerate(statements):
            self.fields[f"statement_{index}"] = forms.ChoiceField(
                label=statement["text"] + (" *" if statement.get("mandatory") else ""), widget=forms.RadioSelect,
                choices=[("accept", statement["accept_label"]), ("refuse", statement["refuse_label"])])
        # Every block of the consent part, in its order: statements and tick boxes asked, blanks filled in, text
        # shown; the signature blocks are the signature pad and the electronic signature below.
        self.consent_items: list[tuple[str, object]] = []
        counters = {"consent_statement": 0, "checkbox": 0, "fill_in": 0}
        for position, block in enumerate(consent_blocks):
            kind, value = block["type"], block["value"]
            if kind == "consent_statement":
                self.consent_items.append(("field", f"statement_{counters[kind]}"))
            elif kind == "checkbox":
                name = f"tick_{counters[kind]}"
                self.fields[name] = forms.BooleanField(label=value["text"], required=False)
                self.consent_items.append(("tick", name))
            elif kind == "fill_in":
                name = f"fill_{counters[kind]}"
                self.fields[name] = forms.CharField(label=value["label"], required=False, max_length=500)
                if PARTICIPANT_CODE_LABEL.search(value["label"] or "") and participant_code:
                    self.fields[name].initial = participant_code
                self.consent_items.append(("fill", name))
            elif kind in ("heading", "paragraph", "list", "table"):
                self.consent_items.append(("text", position))
            if kind in counters:
                counters[kind] += 1
        self.tick_count, self.fill_count = counters["checkbox"], counters["fill_in"]

    def _ceremony_fields(self, ceremony, questions, main_roles):
        """The other signers the form version asks for, in order, and its comprehension questions."""
        # The main signer (the kind's own: the patient, or the relative) signs in the block above, not here.
        self.ceremony_roles = [entry["role"] for entry in ceremony if entry["role"] != "investigator"
                               and entry["role"] not in main_roles]
        self.ceremony_entries = ceremony
        for role in self.ceremony_roles:
            self.fields[f"{role}_present"] = forms.BooleanField(label=_("Takes part and signs"), required=False)
            self.fields[f"{role}_declined"] = forms.BooleanField(label=_("Declines to sign"), required=False)
            self.fields[f"{role}_name"] = forms.CharField(label=_("Printed name"), required=False, max_length=255)
            if role == "interpreter":
                self.fields[f"{role}_language"] = forms.CharField(label=_("Language"), required=False,
                                                                  max_length=60)
            if role == "representative":
                self.fields[f"{role}_relationship"] = forms.CharField(label=_("Relationship to the participant"),
                                                                      required=False, max_length=120)
            self.fields[f"{role}_at"] = forms.DateTimeField(
                label=_("Signed at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M"],
                initial=timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
            self.fields[f"{role}_drawn"] = forms.CharField(widget=forms.HiddenInput, required=False,
                                                           max_length=3_000_000)
            self.fields[f"{role}_typed"] = forms.CharField(
                label=_("…or, without drawing, they type their full name"), required=False, max_length=120,
                widget=forms.TextInput(attrs={"autocomplete": "off"}))
        self.questions = list(questions)
        for index, question in enumerate(self.questions):
            self.fields[f"question_{index}"] = forms.TypedChoiceField(
                label=question["question"], required=False, widget=forms.RadioSelect, coerce=int,
                choices=[(i, choice) for i, choice in enumerate(question["choices"])])
            # Every answer given on the tablet, in order (the page keeps them as the signer tries again)
            self.fields[f"question_{index}_attempts"] = forms.CharField(widget=forms.HiddenInput, required=False,
                                                                        max_length=100)
            self.fields[f"question_{index}_discussed"] = forms.BooleanField(
                label=_("The wrong answer and its explanation were discussed with the signer"), required=False)

    def ceremony_rows(self):
        rows = []
        for role in self.ceremony_roles:
            entry = next(e for e in self.ceremony_entries if e["role"] == role)
            names = [n for n in ("present", "declined", "name", "relationship", "language", "at", "typed")
                     if f"{role}_{n}" in self.fields]
            rows.append({"role": role, "entry": entry, "drawn": self[f"{role}_drawn"],
                         "fields": {n: self[f"{role}_{n}"] for n in names}})
        return rows

    def question_rows(self):
        return [{"index": i, "question": q, "field": self[f"question_{i}"],
                 "attempts": self[f"question_{i}_attempts"], "discussed": self[f"question_{i}_discussed"]}
                for i, q in enumerate(self.questions)]

    def clean_ceremony(self):
        """The other signers and the answers, as the service takes them (it checks them)."""
        from .services import ComprehensionInput, SignerInput, decode_drawn_signature, typed_signature_image

        data = self.cleaned_data
        others = {}
        for role in self.ceremony_roles:
            picture, source = None, ConsentRecord.SignatureSource.DRAWN
            if data.get(f"{role}_drawn"):
                picture = decode_drawn_signature(data[f"{role}_drawn"])
            elif (data.get(f"{role}_typed") or "").strip():
                picture, source = typed_signature_image(data[f"{role}_typed"]), ConsentRecord.SignatureSource.TYPED
            others[role] = SignerInput(
                role=role, present=bool(data.get(f"{role}_present")), declined=bool(data.get(f"{role}_declined")),
                name=data.get(f"{role}_name") or "", relationship=data.get(f"{role}_relationship") or "",
                language=data.get(f"{role}_language") or "", signed_at=data.get(f"{role}_at"),
                signature_png=picture, signature_source=source)
        answers = {}
        for index in range(len(self.questions)):
            attempts = []
            for part in (data.get(f"question_{index}_attempts") or "").split(","):
                if part.strip():
                    try:
                        attempts.append(int(part))
                    except ValueError as error:
                        raise ValidationError(_("The answers to comprehension question %(n)s could not be read.")
                                              % {"n": index + 1}) from error
            final = data.get(f"question_{index}")
            if final is not None and final != "" and (not attempts or attempts[-1] != final):
                attempts.append(final)
            answers[index] = ComprehensionInput(attempts=attempts,
                                                discussed=bool(data.get(f"question_{index}_discussed")))
        return others, answers

    def consent_rows(self, stream) -> list[tuple[str, object]]:
        """The consent part to show, in its order: ("text", the stream's block) or (kind, the bound field)."""
        return [(kind, stream[item] if kind == "text" else self[item]) for kind, item in self.consent_items]

    def statement_fields(self):
        return [self[f"statement_{index}"] for index in range(len(self.statements))]

    def ticks(self) -> dict[int, bool]:
        return {index: bool(self.cleaned_data.get(f"tick_{index}")) for index in range(self.tick_count)}

    def fills(self) -> dict[int, str]:
        return {index: (self.cleaned_data.get(f"fill_{index}") or "").strip() for index in range(self.fill_count)}

    def clean_signed_at(self):
        value = self.cleaned_data["signed_at"]
        if value.year < 1900:  # a typing slip, and before year 2 the conversion to UTC overflows
            raise ValidationError(forms.DateTimeField.default_error_messages["invalid"], code="invalid")
        if value > timezone.now():
            raise ValidationError(_("The signing time is in the future."))
        return value

    def answers(self) -> dict[int, str]:
        return {index: self.cleaned_data.get(f"statement_{index}") for index in range(len(self.statements))}

    def clean_signature_typed(self):
        return " ".join(self.cleaned_data.get("signature_typed", "").split())

    def clean(self):
        data = super().clean()
        if data.get("signature_typed") and (data.get("signature_drawn") or data.get("signature_scan")):
            self.add_error("signature_typed", _("Sign one way only: draw, type the name or upload the scan."))
        return data


def _not_before_1900(value):
    if value is not None and value.year < 1900:  # a typing slip, and before year 2 the conversion to UTC overflows
        raise ValidationError(forms.DateTimeField.default_error_messages["invalid"], code="invalid")
    return value


class WithdrawalForm(forms.Form):
    scope = forms.ChoiceField(label=_("The participant withdraws from"), widget=forms.RadioSelect, choices=[
        (Withdrawal.Scope.TREATMENT, _("the study treatment only (still followed; data still collected)")),
        (Withdrawal.Scope.FOLLOW_UP, _("the follow-up visits (and the treatment): participation ends")),
        (Withdrawal.Scope.DATA_COLLECTION, _("any further data collection (and visits, treatment)")),
        (Withdrawal.Scope.DATA_USE, _("everything, and objects to the use of the data already collected "
                                      "(where the law allows it)"))],
        help_text=_("Data already collected are kept and used (EU CTR art. 28(3)) unless the objection is "
                    "recorded. A later withdrawal can add to this one."))
    reason = forms.CharField(label=_("Reason or how it was expressed (optional: no reason needs to be given)"),
                             max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    withdrawn_at = forms.DateTimeField(label=_("When (now if left empty)"), required=False,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                       input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"])

    def __init__(self, *args, left=None, **kwargs):
        """`left`: the scopes that can still be withdrawn from (all when not given)."""
        super().__init__(*args, **kwargs)
        if left is not None:
            self.fields["scope"].choices = [c for c in self.fields["scope"].choices if c[0] in left]

    def clean_withdrawn_at(self):
        return _not_before_1900(self.cleaned_data["withdrawn_at"])


class InformForm(forms.Form):
    """The participant was told of a non-substantive change: when, and what was said (no signature)."""

    note = forms.CharField(label=_("How the participant was informed"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))
    informed_at = forms.DateTimeField(label=_("When (now if left empty)"), required=False,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"])

    def clean_informed_at(self):
        return _not_before_1900(self.cleaned_data["informed_at"])


class DeathForm(forms.Form):
    died_at = forms.DateTimeField(label=_("Date and time of death"),
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                  input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"])

    def clean_died_at(self):
        value = self.cleaned_data["died_at"]
        if value.year < 1900:  # a typing slip, and before year 2 the conversion to UTC overflows
            raise ValidationError(forms.DateTimeField.default_error_messages["invalid"], code="invalid")
        return value


class ScreeningCloseForm(forms.Form):
    """A participant not included: registered by mistake, or not eligible after all."""

    status = forms.ChoiceField(label=_("This participant"), widget=forms.RadioSelect, choices=[
        (Participant.Status.REGISTERED_IN_ERROR,
         _("was registered in error")),
        (Participant.Status.SCREEN_FAILURE,
         _("is a screen failure (not eligible, not included)"))])
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class DelegationEntryForm(forms.Form):
    """The principal investigator writes and signs one entry of the site's delegation log."""

    staff = forms.ModelChoiceField(queryset=None, label=_("Staff member"))
    tasks = forms.MultipleChoiceField(label=_("Tasks delegated"), widget=forms.CheckboxSelectMultiple, choices=())
    start_date = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}),
                                 input_formats=["%Y-%m-%d", "%d/%m/%Y"])
    end_date = forms.DateField(label=_("Until (optional)"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}), input_formats=["%Y-%m-%d", "%d/%m/%Y"])
    username = forms.CharField(label=_("Your user name, to sign"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(label=_("Your password, to sign"), strip=False, max_length=4096,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args, staff, **kwargs):
        from regulatory.models import DelegatedTask

        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = staff
        self.fields["staff"].label_from_instance = lambda user: user.get_full_name() or user.get_username()
        self.fields["tasks"].choices = DelegatedTask.choices


class SignatureForm(forms.Form):
    """Both components of an electronic signature, typed again (a staff member acknowledging a delegation)."""

    username = forms.CharField(label=_("Your user name, to sign"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(label=_("Your password, to sign"), strip=False, max_length=4096,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
class CountersignForm(forms.Form):
    """The investigator's countersignature of a consent given earlier: both components of the e-signature."""

    username = forms.CharField(label=_("Your user name, to sign"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(label=_("Your password, to sign"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    reason = forms.CharField(label=_("If you decline: why"), required=False, max_length=500)
