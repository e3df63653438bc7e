"""The principal investigator's delegation log (ICH E6(R3) 2.3.3, TMF Reference Model 05.02.18).

Each entry names one staff member of a site, the tasks the principal investigator delegates to them and from when
to when. The principal investigator signs it electronically when writing it (21 CFR 11.50: printed name, date and
time, meaning; both components typed again, 11.200) and the staff member acknowledges it, signing too. An entry is
never deleted nor changed but for its acknowledgement: a change is a new entry. What an entry allows is decided in
`regulatory.permissions` (`delegation_refusal`); the signed PDF of the log is filed in the ISF and the TMF.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class DelegatedTask(models.TextChoices):
    """What site staff do in TrialDocs, each a task the principal investigator delegates."""

    CONSENT = "consent", _("Obtain informed consent")
    EMERGENCY = "emergency", _("Attest an emergency inclusion")
    REGISTER = "register", _("Register participants and record those not included")
    WITHDRAWAL = "withdrawal", _("Record withdrawals")
    DEATH = "death", _("Record deaths")


class DelegationEntry(models.Model):
    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT, related_name="delegations",
                             verbose_name=_("site"))
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="delegations",
                              verbose_name=_("staff member"))
    staff_name = models.CharField(_("staff member's name"), max_length=300)
    tasks = models.JSONField(_("tasks delegated"), default=list)
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("until"), null=True, blank=True)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("signed by"))
    signer_name = models.CharField(_("signer's name"), max_length=300)
    signed_at = models.DateTimeField(_("signed at"))
    meaning = models.CharField(_("meaning"), max_length=600)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledgement_meaning = models.CharField(_("acknowledgement"), max_length=600, blank=True)

    class Meta:
        verbose_name = _("delegation log entry")
        verbose_name_plural = _("delegation log entries")
        ordering = ["site", "signed_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                                   name="delegation_ends_after_start"),
        ]

    def __str__(self):
        return f"{self.site.code} — {self.staff_name} ({self.start_date:%d/%m/%Y})"

    def task_labels(self) -> list[str]:
        labels = dict(DelegatedTask.choices)
        return [str(labels.get(task, task)) for task in self.tasks]

    def covers(self, day) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


class DelegationLogPrint(models.Model):
    """One signed PDF of a site's whole delegation log, printed after each signature (a new version each time),
    kept as signed so that every copy is byte-identical to it."""

    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT,
                             related_name="delegation_prints", verbose_name=_("site"))
    number = models.PositiveIntegerField(_("version"))
    file = models.FileField(_("signed PDF"), upload_to="delegation-logs/")
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    signer = models.CharField(_("signed by"), max_length=300)
    printed_at = models.DateTimeField(_("printed at"), auto_now_add=True)
    entries = models.PositiveIntegerField(_("entries"))

    class Meta:
        verbose_name = _("signed delegation log")
        verbose_name_plural = _("signed delegation logs")
        ordering = ["site", "number"]
        constraints = [models.UniqueConstraint(fields=["site", "number"], name="one_delegation_print_number")]

    def __str__(self):
        return f"{self.site.code} — v{self.number}"
