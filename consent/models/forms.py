"""Consent-form versions (Wagtail pages under the trial) and where and when each is effective."""

import hashlib
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalManyToManyField
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from regulatory.models import ConsentKind, InTrial
from regulatory.models.pagerules import (
    TITLE_PANELS,
    FrozenVersionRules,
    TrialPageRules,
    VersionPageForm,
    clashing_version,
    trial_id_of,
    version_clash_error,
)

from ..blocks import CeremonySignersBlock, ComprehensionBlock, ConsentBodyBlock, neutral

version_validator = RegexValidator(r"^\d{1,3}\.\d{1,3}$", _("A version number looks like 2.0."))


class Language(models.TextChoices):
    FRENCH = "fr", _("French")
    ENGLISH = "en", _("English")


class ConsentFormIndexPage(TrialPageRules, InTrial, Page):
    """The consent forms of one trial; every version of every kind is a child."""

    parent_page_types = ["regulatory.TrialPage"]
    subpage_types = ["consent.ConsentFormVersionPage"]
    max_count_per_parent = 1
    # Site staff print only their site's effective versions (consent/views.py), never browse every version.
    trial_wide_only = True

    class Meta:
        verbose_name = _("consent forms")
        verbose_name_plural = _("consent forms")

    def get_context(self, request, *args, **kwargs):
        from .. import selectors

        context = super().get_context(request, *args, **kwargs)
        context["trial"] = self.get_parent().specific
        context["rows"] = selectors.version_rows(index=self, user=request.user)
        return context


class ConsentFormVersionPage(FrozenVersionRules, InTrial, RoutablePageMixin, Page):
    """One version of one consent form (information note and consent part), in one language.

    Published means frozen: the text submitted to ethics never changes; a change is a new version. It takes
    effect at sites through `FormEffectivity`, after a favourable opinion linked to it.
    """

    FROZEN_FIELDS = ("kind", "language", "version_number", "version_date", "information", "consent", "signers",
                     "comprehension")

    kind = models.CharField(_("kind"), max_length=16, choices=ConsentKind.choices)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.FRENCH)
    version_number = models.CharField(_("version number"), max_length=7, validators=[version_validator])
    version_date = models.DateField(_("version date"))
    sites = ParentalManyToManyField(
        "regulatory.InvestigationalSite", blank=True, related_name="specific_consent_forms",
        verbose_name=_("only for these sites"),
        help_text=_("Leave empty for a version used by every site; choose sites for a site-specific version."),
    )
    amendment = models.ForeignKey(
        "regulatory.ProtocolVersionPage", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("protocol version that brought it"),
    )
    information = StreamField(ConsentBodyBlock(), blank=True, verbose_name=_("information note"))
    consent = StreamField(ConsentBodyBlock(), blank=True, verbose_name=_("consent form"))
    # The ceremony (ICH E6(R3) informed consent, 21 CFR 50.27(b), CSP L1122-1-1): who signs, in which order, which
    # are optional; empty, the kind's own signer and the person obtaining consent sign, as before.
    signers = StreamField(CeremonySignersBlock(), blank=True, verbose_name=_("signers, in signing order"))
    comprehension = StreamField(ComprehensionBlock(), blank=True, verbose_name=_("comprehension questions"))
    import_notes = models.TextField(_("import notes"), blank=True, editable=False)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True, editable=False)
    withdrawal_reason = models.TextField(_("reason for withdrawal"), blank=True, editable=False)
    # The sponsor's judgement of the change from the version it replaces, given when it is first made effective:
    # a substantive change is consented to again; otherwise the participants are informed, with no new signature.
    change_kind = models.CharField(_("change from the previous version"), max_length=12, blank=True, editable=False,
                                   choices=[("substantive", _("Substantive: the participants consent again")),
                                            ("inform", _("Not substantive: the participants are informed, "
                                                         "no new signature"))])
    change_judged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                         blank=True, editable=False, related_name="+",
                                         verbose_name=_("change judged by"))
    change_judged_at = models.DateTimeField(_("change judged at"), null=True, blank=True, editable=False)
    # The trial, kept on the row so that the database holds each version number once per trial, kind and language.
    trial = models.ForeignKey("regulatory.TrialPage", null=True, blank=True, editable=False,
                              on_delete=models.PROTECT, related_name="+", verbose_name=_("trial"))

    parent_page_types = ["consent.ConsentFormIndexPage"]
    subpage_types: list[str] = []
    published_by_review_only = True
    base_form_class = VersionPageForm

    content_panels = [
        *TITLE_PANELS,
        MultiFieldPanel([
            FieldRowPanel([FieldPanel("kind"), FieldPanel("language")]),
            FieldRowPanel([FieldPanel("version_number"), FieldPanel("version_date")]),
            FieldPanel("sites"),
            FieldPanel("amendment"),
        ], heading=_("Version")),
        FieldPanel("information"),
        FieldPanel("consent"),
        FieldPanel("signers"),
        FieldPanel("comprehension"),
    ]
    search_fields = [*Page.search_fields, index.SearchField("information"), index.SearchField("consent")]

    # The approval rule (regulatory/approvals.py): a new consent version always needs a favourable opinion.
    requires_favourable_opinion = True
    non_substantial_justification = ""

    class Meta:
        verbose_name = _("consent-form version")
        verbose_name_plural = _("consent-form versions")
        constraints = [models.UniqueConstraint(fields=["trial", "kind", "language", "version_number"],
                                               name="one_consent_version_number_per_trial_kind_language")]

    def __str__(self):
        return _("%(kind)s v%(version)s (%(language)s)") % {
            "kind": self.get_kind_display(), "version": self.version_number, "language": self.language}

    @property
    def version_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version_number.split("."))

    @property
    def is_site_specific(self) -> bool:
        return self.pk is not None and self.sites.exists()

    def canonical_content(self) -> dict:
        content = {
            "kind": self.kind, "language": self.language, "version": self.version_number,
            "date": self.version_date.isoformat(), "information": neutral(self.information),
            "consent": neutral(self.consent),
        }
        # Only when set, so that the hash of a version written before the ceremony could be set stays the same.
        if self.signers:
            content["signers"] = neutral(self.signers)
        if self.comprehension:
            content["comprehension"] = neutral(self.comprehension)
        return content

    def ceremony_signers(self) -> list[dict]:
        """The configured signers in order: {"role", "requirement", "later_within_hours"}."""
        return [{"role": b["value"]["role"], "requirement": b["value"]["requirement"],
                 "later_within_hours": b["value"].get("later_within_hours") or 0} for b in neutral(self.signers)]

    def comprehension_questions(self) -> list[dict]:
        return [b["value"] for b in neutral(self.comprehension)]

    @property
    def content_hash(self) -> str:
        """SHA-256 of the version's content, block ids excluded: the same text always gives the same hash."""
        raw = json.dumps(self.canonical_content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()

    def clean(self):
        super().clean()
        if self.pk and self._frozen_content_changed():
            raise ValidationError(
                _("This version has been published and is frozen: create a new version to change it.")
            )
        clash = clashing_version(ConsentFormVersionPage, trial_id=self.trial_id or trial_id_of(self),
                                 number=self.version_number, exclude_pk=self.pk, kind=self.kind,
                                 language=self.language)
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
        return stored.content_hash != self.content_hash

    def get_context(self, request, *args, **kwargs):
        from regulatory import permissions, services

        from .. import selectors

        context = super().get_context(request, *args, **kwargs)
        context["trial"] = self.trial
        context["row"] = selectors.version_row(version=self, user=request.user)
        context["approval_signatures"] = services.signatures_of(self, approved_only=False)
        context["can_manage"] = permissions.can_manage_trial(request.user, context["trial"])
        return context

    @path("")
    def detail(self, request):
        return self.render(request)

    @path("pdf/", name="pdf")
    def pdf(self, request):
        from .. import views

        return views.version_pdf(request, version=self)

    @path("effective/", name="make_effective")
    def make_effective(self, request):
        from .. import views

        return views.make_effective(request, version=self)

    @path("withdraw/", name="withdraw")
    def withdraw(self, request):
        from .. import views

        return views.withdraw_version(request, version=self)


class FormEffectivityQuerySet(models.QuerySet):
    def in_force(self, at=None):
        """The periods in force at `at` (now by default): begun, and not ended yet."""
        at = at or timezone.now()
        return self.filter(Q(effective_from__lte=at) & (Q(effective_until__isnull=True) | Q(effective_until__gt=at)))


class FormEffectivity(models.Model):
    """A period during which one version is the one consent form of its kind and language at one site.

    The database allows at most one open period per site, kind and language, and on PostgreSQL no two periods
    that overlap (an exclusion constraint added by migration 0002).
    """

    version = models.ForeignKey(ConsentFormVersionPage, on_delete=models.PROTECT, related_name="effectivities",
                                verbose_name=_("version"))
    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT,
                             related_name="form_effectivities", verbose_name=_("site"))
    kind = models.CharField(_("kind"), max_length=16, choices=ConsentKind.choices)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    effective_from = models.DateTimeField(_("effective from"))
    effective_until = models.DateTimeField(_("effective until"), null=True, blank=True)
    made_effective_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                          related_name="+", verbose_name=_("made effective by"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    notified_at = models.DateTimeField(_("site notified at"), null=True, blank=True)

    objects = FormEffectivityQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent-form effectivity")
        verbose_name_plural = _("consent-form effectivities")
        ordering = ["site", "kind", "language", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["site", "kind", "language"], condition=Q(effective_until__isnull=True),
                                    name="one_open_form_per_site_kind_language"),
            models.UniqueConstraint(fields=["version", "site"], name="one_effectivity_per_version_site"),
            models.CheckConstraint(condition=Q(effective_until__isnull=True) | Q(effective_until__gt=models.F(
                "effective_from")), name="effectivity_ends_after_it_starts"),
        ]
        indexes = [models.Index(fields=["site", "kind", "language", "effective_from"], name="effectivity_lookup")]

    def __str__(self):
        return f"{self.version} @ {self.site.code}"

    def in_force_at(self, at) -> bool:
        """This period is in force at `at` (the rule of `FormEffectivityQuerySet.in_force`, on a loaded row)."""
        return self.effective_from <= at and (self.effective_until is None or self.effective_until > at)


class FormAcknowledgement(models.Model):
    """A site's acknowledgement that a new consent-form version in force there has been received (as for protocol
    amendments): an essential record."""

    effectivity = models.OneToOneField(FormEffectivity, on_delete=models.PROTECT, related_name="acknowledgement",
                                       verbose_name=_("consent-form effectivity"))
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                        verbose_name=_("acknowledged by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent-form acknowledgement")
        verbose_name_plural = _("consent-form acknowledgements")
        ordering = ["acknowledged_at"]

    def __str__(self):
        return f"{self.effectivity} — {self.acknowledged_by}"


class FormNotice(models.Model):
    """An e-mail telling a site's staff that a consent-form version is in force there (or a reminder)."""

    class Kind(models.TextChoices):
        NOTICE = "notice", _("Notice")
        REMINDER = "reminder", _("Reminder")

    effectivity = models.ForeignKey(FormEffectivity, on_delete=models.PROTECT, related_name="notices",
                                    verbose_name=_("consent-form effectivity"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+", verbose_name=_("sent by"))
    recipients = models.JSONField(_("recipients"), default=list)

    class Meta:
        verbose_name = _("consent-form notice")
        verbose_name_plural = _("consent-form notices")
        ordering = ["sent_at"]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.effectivity}"


class SignedMaster(models.Model):
    """A signed master PDF (one version, or a site's bulk print), kept so that any copy can be verified."""

    key = models.CharField(_("content key"), max_length=200, unique=True)
    versions = models.ManyToManyField(ConsentFormVersionPage, related_name="signed_masters")
    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")
    watermark = models.CharField(_("watermark"), max_length=40, blank=True)
    file = models.FileField(_("file"), upload_to="signed/masters/")
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    unsigned_sha256 = models.CharField(_("SHA-256 before signing"), max_length=64)
    signer = models.CharField(_("signed by"), max_length=255)
    created_at = models.DateTimeField(_("signed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("signed master")
        verbose_name_plural = _("signed masters")
        ordering = ["-created_at"]

    def __str__(self):
        return self.key
