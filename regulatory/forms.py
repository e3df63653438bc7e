from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.forms.auth import LoginForm as WagtailLoginForm

from . import audit, permissions
from .accounts import LOGIN_THROTTLED, throttle
from .models import InvestigationalSite

MAX_ID = 2**63 - 1  # the largest id a database key holds; SQLite cannot even compare a larger integer


class PageChoiceField(forms.ModelChoiceField):
    """A page chosen by id. An id past 64 bits is an invalid choice: Django checks the range of plain integer
    fields but not of a page's one-to-one key, where SQLite raises OverflowError (a 500)."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None


class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Django's, but ids past 64 bits are invalid choices: its `pk__in` check is not range-checked, and SQLite
    raises OverflowError (a 500)."""

    def _check_values(self, value):
        try:
            return super()._check_values(value)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                  params={"value": max(value, key=lambda v: len(str(v)))}) from None


class ThrottledLoginMixin:
    """Refuse to even try the password once the user name or address has failed too often."""

    throttled_message = _(
        "Too many failed attempts. For your security, logging in is suspended for a few minutes."
    )

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = self.request.META.get("REMOTE_ADDR") if self.request else None
        found = throttle(username=username, ip_address=address)
        if found is not None:
            audit.record(actor=None, action=LOGIN_THROTTLED, object_repr=username[:150],
                         changes={"throttle": [None, found.reason], "seconds_left": [None, found.seconds_left]})
            raise ValidationError(self.throttled_message, code="throttled")
        return super().clean()


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, WagtailLoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Wagtail's field has no label: Django made one from the field's name, "Password", in every language
        self.fields["password"].label = _("Password")


class InvestigationalSiteForm(WagtailAdminModelForm):
    """Site form of the Wagtail admin: trials limited to those the user manages; trial and code fixed once set."""

    class Meta:
        model = InvestigationalSite
        fields = ["trial", "code", "name", "city", "country", "principal_investigator",
                  "principal_investigator_account", "status", "activation_date", "is_demo"]
        widgets = {"activation_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.for_user
        self.fields["trial"].queryset = permissions.trials_managed(user).order_by("nct_number")
        # Only an investigator of the site signs its delegation log: the site's investigators, once it has some.
        self.fields["principal_investigator_account"].queryset = permissions.site_investigators(self.instance)
        if self.instance.pk:
            for name in ("trial", "code"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Fixed once the site exists: participant codes are built on it.")


class ActivationForm(forms.Form):
    """The sponsor makes an approved version effective at one or more sites from a date."""

    version = PageChoiceField(queryset=None, label=_("Protocol version"))
    sites = ModelMultipleChoiceField(queryset=None, label=_("Sites"), widget=forms.CheckboxSelectMultiple)
    effective_from = forms.DateTimeField(
        label=_("Effective from"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"],
        help_text=_("Local time (Europe/Paris). A future date takes effect, and notifies the site, when it comes."),
    )
    justification = forms.CharField(
        label=_("Justification"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=4000,
        help_text=_("Required for a non-substantial amendment without an ethics opinion."),
    )

    def __init__(self, *args, trial, user, **kwargs):
        from .models import ProtocolVersionPage

        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = ProtocolVersionPage.objects.descendant_of(trial).live()
        self.fields["sites"].queryset = permissions.sites_managed(user).filter(trial=trial).order_by("code")
