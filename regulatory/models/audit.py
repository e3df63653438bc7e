import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit entries cannot be deleted.")

    def for_object(self, obj):
        return self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))


class AuditEntry(models.Model):
    """One computer-generated, time-stamped record of who did what (21 CFR 11.10(e)).

    Written only through `regulatory.audit.record`; never updated or deleted.
    """

    timestamp = models.DateTimeField(_("time (UTC)"), default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="audit_entries", verbose_name=_("actor"),
    )
    actor_label = models.CharField(_("actor name"), max_length=150)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    changes = models.JSONField(_("changes (old → new)"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    sequence = models.PositiveBigIntegerField(_("sequence"), unique=True, null=True, editable=False)
    previous_hash = models.CharField(_("hash of the previous entry"), max_length=64, blank=True, editable=False)
    entry_hash = models.CharField(_("hash of this entry"), max_length=64, blank=True, editable=False)
    # The trial the entry is about, set by `record` from the object; null for entries outside any trial
    # (logins, accounts). Who may read an entry is decided on it.
    trial = models.ForeignKey(
        "regulatory.TrialPage", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=True, editable=False, verbose_name=_("trial"),
    )

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["action", "timestamp"], name="audit_action_time_idx"),
        ]

    def __str__(self):
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries cannot be deleted.")

    def chained_content(self) -> str:
        """What the entry's hash covers: every recorded field, and the previous entry's hash.

        The trial is covered only when set, so entries written before it existed keep their hashes."""
        import json

        content = {
            "sequence": self.sequence, "previous": self.previous_hash,
            "timestamp": self.timestamp.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
            "actor": self.actor_id, "actor_label": self.actor_label, "action": self.action,
            "object_type": self.object_type, "object_id": self.object_id, "object_repr": self.object_repr,
            "changes": self.changes, "reason": self.reason, "request_id": self.request_id,
            "ip_address": self.ip_address,
        }
        if self.trial_id is not None:
            content["trial"] = self.trial_id
        return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def compute_hash(self) -> str:
        import hashlib

        return hashlib.sha256(self.chained_content().encode()).hexdigest()
