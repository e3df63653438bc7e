from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InspectorGrantQuerySet(models.QuerySet):
    def active(self, at=None):
        at = at or timezone.now()
        return self.filter(starts_at__lte=at, ends_at__gt=at, revoked_at__isnull=True)


class InspectorGrant(models.Model):
    """The sponsor lets one inspector read one trial (optionally only some of its sites) for a time window.

    This is the inspector's only way in: holding the inspector role gives nothing by itself. Outside
    [starts_at, ends_at) or once revoked, the inspector sees nothing of the trial.
    """

    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="inspector_grants",
                                  verbose_name=_("inspector"))
    trial = models.ForeignKey("regulatory.TrialPage", on_delete=models.PROTECT, related_name="inspector_grants",
                              verbose_name=_("trial"))
    sites = models.ManyToManyField("regulatory.InvestigationalSite", blank=True, related_name="inspector_grants",
                                   verbose_name=_("sites"), help_text=_("None chosen: every site of the trial."))
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    purpose = models.CharField(_("purpose"), max_length=200, blank=True,
                               help_text=_("For example: ANSM inspection, reference of the mission order."))
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("granted by"))
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("revoked by"))

    objects = InspectorGrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("inspection window")
        verbose_name_plural = _("inspection windows")
        ordering = ["-starts_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="window_ends_after_start")]

    def __str__(self):
        return f"{self.inspector} — {self.trial_id} ({self.starts_at:%Y-%m-%d} → {self.ends_at:%Y-%m-%d})"

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.starts_at <= at < self.ends_at
