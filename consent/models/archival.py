"""The long-term proof of each signed file TrialDocs stores: its PAdES level and every version of its bytes."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ArchivalFile(models.Model):
    """One signed file (a consent record's PDF or a signed master) on its way to, or at, PAdES B-LTA.

    A signature is made B-T in the request (signature timestamp); the background task adds the validation data
    and a document timestamp (B-LTA). Until then the file is visibly "archival completion pending" and the task
    is retried; `renew_archive_timestamps` later adds document timestamps.
    """

    class Level(models.TextChoices):
        B_T = "B-T", _("PAdES B-T (signature timestamp)")
        B_LTA = "B-LTA", _("PAdES B-LTA (validation data and document timestamp)")

    class State(models.TextChoices):
        PENDING = "pending", _("archival completion pending")
        COMPLETE = "complete", _("archival proof complete")

    record = models.OneToOneField("consent.ConsentRecord", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="archival")
    master = models.OneToOneField("consent.SignedMaster", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="archival")
    level = models.CharField(_("PAdES level"), max_length=8, choices=Level.choices, default=Level.B_T)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("completion attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    timestamp_expires_at = models.DateTimeField(_("last timestamp's certificate expires"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("archival state of a signed file")
        constraints = [models.CheckConstraint(
            condition=models.Q(record__isnull=False, master__isnull=True)
            | models.Q(record__isnull=True, master__isnull=False), name="archival_one_document")]

    def __str__(self):
        return f"{self.document} ({self.level}, {self.get_state_display()})"

    @property
    def document(self):
        return self.record if self.record_id else self.master


class ArchivalRevision(models.Model):
    """One version of a stored signed file: the bytes as signed, then as completed or renewed (each the previous
    one plus incremental revisions), so that any copy handed out earlier is still recognised."""

    class Reason(models.TextChoices):
        SIGNED = "signed", _("signed (signature timestamp)")
        COMPLETED = "completed", _("completed to B-LTA")
        RENEWED = "renewed", _("archive timestamp renewed")

    archival = models.ForeignKey(ArchivalFile, on_delete=models.CASCADE, related_name="revisions")
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    size = models.PositiveBigIntegerField(_("size"))
    level = models.CharField(_("PAdES level"), max_length=8, choices=ArchivalFile.Level.choices)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.sha256[:12]}… ({self.get_reason_display()})"
