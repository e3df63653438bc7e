"""The protocol of a trial, its versions and amendments, and their effectiveness and acknowledgement per site."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from ..blocks import ProtocolBodyBlock
from .in_trial import InTrial
from .pagerules import (
    TITLE_PANELS,
    FrozenVersionRules,
    TrialPageRules,
    VersionPageForm,
    clashing_version,
    trial_id_of,
    version_clash_error,
)

version_validator = RegexValidator(r"^\d{1,3}\.\d{1,3}$", _("A version number looks like 2.0."))


class ConsentKind(models.TextChoices):
    PATIENT = "patient", _("Patient consent")
    SURROGATE = "surrogate", _("Surrogate consent (relative or trusted person)")
    EMERGENCY = "emergency", _("Emergency inclusion")
    CONTINUATION = "continuation", _("Continuation consent")


class ProtocolVersionForm(VersionPageForm):
    affected_consent_kinds = forms.MultipleChoiceField(
        choices=ConsentKind.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label=_("affected consent-form kinds"),
    )


class ProtocolPage(TrialPageRules, InTrial, Page):
    """The protocol of one trial; its versions (the initial one and each amendment) are its children."""

    parent_page_types = ["regulatory.TrialPage"]
    subpage_types = ["regulatory.ProtocolVersionPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("protocol")
        verbose_name_plural = _("protocols")

    def get_context(self, request, *args, **kwargs):
        from regulatory import selectors

        context = super().get_context(request, *args, **kwargs)
        context["trial"] = self.get_parent().specific
        context["versions"] = selectors.protocol_history(protocol=self, user=request.user)
        return context


class ProtocolVersionPage(FrozenVersionRules, InTrial, Page):
    """One version of the protocol: the initial version, or the version an amendment brings.

    Once published (approved by the sponsor's review workflow) its content is frozen: a change is a new version.
    """

    FROZEN_FIELDS = (
        "version_number", "version_date", "amendment_number", "substantial", "summary_of_changes", "rationale",
        "affected_sections", "affected_consent_kinds", "document_id", "body",
    )

    version_number = models.CharField(_("version number"), max_length=7, validators=[version_validator])
    version_date = models.DateField(_("version date"))
    amendment_number = models.PositiveSmallIntegerField(
        _("amendment number"), null=True, blank=True, help_text=_("Empty for the initial protocol.")
    )
    substantial = models.BooleanField(
        _("substantial modification"), default=False,
        help_text=_("EU CTR substantial modification: needs a favourable opinion before it becomes effective."),
    )
    summary_of_changes = models.TextField(_("summary of changes"), blank=True)
    rationale = models.TextField(_("rationale"), blank=True)
    affected_sections = models.TextField(_("affected protocol sections"), blank=True)
    affected_consent_kinds = models.JSONField(_("affected consent-form kinds"), default=list, blank=True)
    non_substantial_justification = models.TextField(
        _("justification (non-substantial)"), blank=True,
        help_text=_("Why this non-substantial amendment may become effective without an ethics opinion."),
    )
    document = models.ForeignKey(
        "wagtaildocs.Document", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("full protocol document"),
    )
    body = StreamField(ProtocolBodyBlock(), blank=True, verbose_name=_("protocol text"))
    # The trial, kept on the row so that the database holds each version number once per trial.
    trial = models.ForeignKey("regulatory.TrialPage", null=True, blank=True, editable=False,
                              on_delete=models.PROTECT, related_name="+", verbose_name=_("trial"))

    parent_page_types = ["regulatory.ProtocolPage"]
    subpage_types: list[str] = []
    base_form_class = ProtocolVersionForm
    published_by_review_only = True

    content_panels = [
        *TITLE_PANELS,
        MultiFieldPanel([
            FieldRowPanel([FieldPanel("version_number"), FieldPanel("version_date")]),
            FieldRowPanel([FieldPanel("amendment_number"), FieldPanel("substantial")]),
        ], heading=_("Version")),
        MultiFieldPanel([
            FieldPanel("summary_of_changes"), FieldPanel("rationale"), FieldPanel("affected_sections"),
            FieldPanel("affected_consent_kinds"), FieldPanel("non_substantial_justification"),
        ], heading=_("Amendment")),
        FieldPanel("document"),
        FieldPanel("body"),
    ]
    search_fields = [
        *Page.search_fields,
        index.SearchField("summary_of_changes"),
        index.SearchField("rationale"),
        index.SearchField("body"),
    ]

    class Meta:
        verbose_name = _("protocol version")
        verbose_name_plural = _("protocol versions")
        constraints = [models.UniqueConstraint(fields=["trial", "version_number"],
                                               name="one_protocol_version_number_per_trial")]

    def __str__(self):
        if self.amendment_number:
            return _("Protocol v%(version)s (amendment %(number)s)") % {
                "version": self.version_number, "number": self.amendment_number}
        return _("Protocol v%(version)s") % {"version": self.version_number}

    @property
    def is_amendment(self) -> bool:
        return self.amendment_number is not None

    @property
    def requires_favourable_opinion(self) -> bool:
        """The initial protocol and every substantial amendment need a favourable opinion to take effect."""
        return not self.is_amendment or self.substantial

    @property
    def version_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version_number.split("."))

    def affected_consent_kind_labels(self) -> list[str]:
        labels = dict(ConsentKind.choices)
        return [str(labels.get(kind, kind)) for kind in self.affected_consent_kinds]

    def clean(self):
        super().clean()
        unknown = set(self.affected_consent_kinds or []) - set(ConsentKind.values)
        if unknown:
            raise ValidationError({"affected_consent_kinds": _("Unknown consent-form kind.")})
        if self.pk and self._frozen_content_changed():
            raise ValidationError(
                _("This version has been approved and is frozen: create a new version to change it.")
            )
        clash = clashing_version(ProtocolVersionPage, trial_id=self.trial_id or trial_id_of(self),
                                 number=self.version_number, exclude_pk=self.pk)
        if clash is not None:
            raise version_clash_error(clash)

    def save(self, *args, **kwargs):
        if self.trial_id is None:
            self.trial_id = trial_id_of(self)
        return super().save(*args, **kwargs)

    def _frozen_content_changed(self) -> bool:
        stored = type(self).objects.filter(pk=self.pk).first()
        if stored is None or stored.first_published_at is None:
            return False
        if stored.body.raw_data != self.body.raw_data:
            return True
        return any(getattr(stored, name) != getattr(self, name) for name in self.FROZEN_FIELDS if name != "body")

    def get_context(self, request, *args, **kwargs):
        from regulatory import selectors, services

        context = super().get_context(request, *args, **kwargs)
        context["trial"] = self.trial
        context["status"] = selectors.version_status(version=self, user=request.user)
        context["approval_signatures"] = services.signatures_of(self, approved_only=False)
        return context


class SiteActivation(models.Model):
    """A protocol version takes effect at one site from a date (local conditions met, rules satisfied)."""

    version = models.ForeignKey(ProtocolVersionPage, on_delete=models.PROTECT, related_name="activations",
                                verbose_name=_("protocol version"))
    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT,
                             related_name="activations", verbose_name=_("site"))
    effective_from = models.DateTimeField(_("effective from"))
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                     related_name="+", verbose_name=_("activated by"))
    activated_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    justification = models.TextField(_("justification"), blank=True)
    notified_at = models.DateTimeField(_("site notified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("site activation")
        verbose_name_plural = _("site activations")
        ordering = ["effective_from", "pk"]
        constraints = [models.UniqueConstraint(fields=["version", "site"], name="one_activation_per_version_site")]

    def __str__(self):
        return f"{self.version} @ {self.site.code} ({self.effective_from:%Y-%m-%d})"


class SiteAcknowledgement(models.Model):
    """A site's acknowledgement that an effective amendment has been received: an essential record."""

    activation = models.OneToOneField(SiteActivation, on_delete=models.PROTECT, related_name="acknowledgement",
                                      verbose_name=_("activation"))
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                        verbose_name=_("acknowledged by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("site acknowledgement")
        verbose_name_plural = _("site acknowledgements")
        ordering = ["acknowledged_at"]

    def __str__(self):
        return f"{self.activation} — {self.acknowledged_by}"


class ActivationNotice(models.Model):
    """An e-mail sent to a site's staff about an activation: the first notice or a reminder."""

    class Kind(models.TextChoices):
        NOTICE = "notice", _("Notice of effectiveness")
        REMINDER = "reminder", _("Reminder")

    activation = models.ForeignKey(SiteActivation, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    recipients = models.JSONField(_("recipients"), default=list)

    class Meta:
        verbose_name = _("activation notice")
        verbose_name_plural = _("activation notices")
        ordering = ["sent_at"]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.activation}"
