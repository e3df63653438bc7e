"""Quality control of TMF documents (TMF Reference Model QC expectations) and the trial's milestones.

A document filed by hand (and one filed automatically, where the trial's `TmfSettings` asks for it) waits for QC:
pending → approved, or rejected with a `TmfQcIssue`. The issue is closed by filing a new version of the document.
Decisions are made by `regulatory.tmf.qc`, decided by `regulatory.permissions.tmf_qc_refusal`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .tmf import QcStatus, TmfArtifact, TmfLevel

__all__ = ["QcStatus", "TmfArtifactMilestone", "TmfMilestone", "TmfQcIssue", "TmfSettings", "TrialMilestone"]


class TmfSettings(models.Model):
    """The sponsor's TMF choices for one trial (QC of automatic filings, timeliness, the activation gate)."""

    trial = models.OneToOneField("regulatory.TrialPage", on_delete=models.PROTECT, related_name="tmf_settings",
                                 verbose_name=_("trial"))
    qc_automatic = models.BooleanField(
        _("QC of automatically filed documents"), default=False,
        help_text=_("Documents the system files by itself (protocol versions, letters, forms) also wait for QC."))
    timeliness_days = models.PositiveSmallIntegerField(
        _("timeliness (days)"), default=30,
        help_text=_("A document is filed on time when filed within this many days of its date."))
    activation_gate = models.BooleanField(
        _("refuse effectiveness at a site whose activation documents are missing"), default=False,
        help_text=_("A protocol or consent-form version cannot be made effective at a site whose site-activation "
                    "milestone lacks QC-approved documents."))

    class Meta:
        verbose_name = _("TMF settings")
        verbose_name_plural = _("TMF settings")
        ordering = ["trial"]

    def __str__(self):
        return f"{self.trial_id} TMF settings"


class TmfQcIssue(models.Model):
    """Why QC rejected a document; closed when a new version of the document is filed."""

    document = models.ForeignKey("regulatory.TmfDocument", on_delete=models.PROTECT, related_name="qc_issues",
                                 verbose_name=_("document"))
    category = models.CharField(_("category"), max_length=40)
    comment = models.TextField(_("comment"))
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("raised by"))
    raised_at = models.DateTimeField(_("raised at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("closed by"))
    corrected_by = models.ForeignKey("regulatory.TmfDocument", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("corrected by"))

    class Meta:
        verbose_name = _("QC issue")
        verbose_name_plural = _("QC issues")
        ordering = ["-raised_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["document"], condition=Q(closed_at__isnull=True),
                                               name="tmf_one_open_qc_issue")]
        # The QC page's open issues, latest first, read a page at a time (issue 19).
        indexes = [models.Index(fields=["-raised_at", "-id"], condition=Q(closed_at__isnull=True),
                                name="tmf_open_qc_issue_idx")]

    def __str__(self):
        return f"{self.document_id} {self.category}"

    @property
    def category_label(self) -> str:
        return str(dict(settings.TRIALDOCS_QC_CATEGORIES).get(self.category, self.category))


class TmfMilestone(models.Model):
    """A milestone or event of the TMF Reference Model ("Milestones_Events & Description"), loaded with it."""

    number = models.PositiveSmallIntegerField(_("number"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    phase = models.CharField(_("phase"), max_length=40)
    trial_definition = models.TextField(_("at trial level"), blank=True)
    country_definition = models.TextField(_("at country level"), blank=True)
    site_definition = models.TextField(_("at site level"), blank=True)

    class Meta:
        verbose_name = _("TMF milestone")
        verbose_name_plural = _("TMF milestones")
        ordering = ["number"]

    def __str__(self):
        return f"#{self.number} {self.name}"


class TmfArtifactMilestone(models.Model):
    """When the Reference Model expects an artifact in the TMF, at one level: by which milestone."""

    artifact = models.ForeignKey(TmfArtifact, on_delete=models.PROTECT, related_name="milestones")
    level = models.CharField(_("level"), max_length=8, choices=TmfLevel.choices)
    milestone = models.ForeignKey(TmfMilestone, on_delete=models.PROTECT, related_name="artifacts")

    class Meta:
        verbose_name = _("artifact milestone")
        verbose_name_plural = _("artifact milestones")
        ordering = ["artifact", "level"]
        constraints = [models.UniqueConstraint(fields=["artifact", "level"], name="tmf_one_milestone_per_level")]

    def __str__(self):
        return f"{self.artifact_id} {self.level} #{self.milestone_id}"


class TrialMilestone(models.Model):
    """One milestone of a trial, defined by its sponsor: at trial, country or site level, with its dates and the
    artifacts it requires (QC-approved documents filed before it is reached)."""

    trial = models.ForeignKey("regulatory.TrialPage", on_delete=models.PROTECT, related_name="milestones",
                              verbose_name=_("trial"))
    reference = models.ForeignKey(TmfMilestone, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("Reference Model milestone"))
    name = models.CharField(_("name"), max_length=120)
    level = models.CharField(_("level"), max_length=8, choices=TmfLevel.choices)
    country = models.CharField(_("country"), max_length=2, blank=True)
    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="milestones", verbose_name=_("site"))
    planned_date = models.DateField(_("planned date"), null=True, blank=True)
    actual_date = models.DateField(_("actual date"), null=True, blank=True)
    artifacts = models.ManyToManyField(TmfArtifact, related_name="+", blank=True,
                                       verbose_name=_("required artifacts"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("trial milestone")
        verbose_name_plural = _("trial milestones")
        ordering = ["trial", "reference__number", "level", "site_id", "country", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(level="site", site__isnull=False)
                                   | (~Q(level="site") & Q(site__isnull=True)), name="milestone_site_level_site"),
            models.UniqueConstraint(fields=["trial", "reference", "site"], condition=Q(site__isnull=False),
                                    name="one_trial_milestone_per_site"),
            models.UniqueConstraint(fields=["trial", "reference", "level", "country"], condition=Q(site__isnull=True),
                                    name="one_trial_milestone_per_place"),
        ]

    def __str__(self):
        return self.name
