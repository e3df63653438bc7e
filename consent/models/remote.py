"""Remote consent of a relative (issue 17): an invitation sent to a relative's e-mail address, a one-time link and a
one-time code, and what the relative answered and signed, awaiting the investigator's countersignature.

Neither the link's token nor the code is stored: only their SHA-256. The e-mail address is kept only while the
invitation is open (at most `TRIALDOCS_REMOTE_CONSENT_HOURS`), then blanked; its SHA-256 stays, as the proof of
which address was used."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .forms import ConsentFormVersionPage
from .participants import ConsentRecord, Participant


class RemoteConsentInvitation(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("Sent, awaiting the relative")
        SIGNED = "signed", _("Signed by the relative, awaiting the investigator's countersignature")
        COUNTERSIGNED = "countersigned", _("Countersigned: consent recorded")
        EXPIRED = "expired", _("Expired")
        LOCKED = "locked", _("Locked after too many wrong codes")
        CANCELLED = "cancelled", _("Cancelled")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="remote_invitations",
                                    verbose_name=_("participant"))
    version = models.ForeignKey(ConsentFormVersionPage, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("form version"))
    language = models.CharField(_("language of the relative's pages"), max_length=8, default="fr")
    email = models.EmailField(_("relative's e-mail address (erased once no longer needed)"), blank=True)
    email_sha256 = models.CharField(_("SHA-256 of the e-mail address used"), max_length=64)
    email_erased_at = models.DateTimeField(_("e-mail address erased at"), null=True, blank=True)
    token_sha256 = models.CharField(_("SHA-256 of the link's token"), max_length=64, unique=True)
    code_sha256 = models.CharField(_("SHA-256 of the one-time code"), max_length=64)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("sent by"))
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("wrong codes typed"), default=0)
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True,
                                     blank=True, verbose_name=_("cancelled by"))
    # Identity checks: when the code was verified, from which address (IP).
    code_verified_at = models.DateTimeField(_("code verified at"), null=True, blank=True)
    verified_ip = models.GenericIPAddressField(_("address (IP) the code was verified from"), null=True, blank=True)
    information_shown_at = models.DateTimeField(_("information note shown at"), null=True, blank=True)
    # What the relative answered and signed (kept until the investigator countersigns: then it is the record's).
    used_at = models.DateTimeField(_("signed by the relative at"), null=True, blank=True)
    signed_ip = models.GenericIPAddressField(_("address (IP) the relative signed from"), null=True, blank=True)
    relationship = models.CharField(_("relationship to the participant"), max_length=120, blank=True)
    independence_attested = models.BooleanField(_("independent of the investigator and the sponsor"), default=False)
    answers = models.JSONField(_("answers to the consent part"), default=dict, blank=True)
    comprehension = models.JSONField(_("comprehension answers (choice indices, by question)"), default=dict,
                                     blank=True)
    information_seconds = models.PositiveIntegerField(_("seconds the note was read"), null=True, blank=True)
    signature_png = models.BinaryField(_("hand signature (PNG)"), null=True, blank=True)
    signature_source = models.CharField(_("how the relative signed"), max_length=8, blank=True,
                                        choices=ConsentRecord.SignatureSource.choices)
    record = models.OneToOneField(ConsentRecord, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="remote_invitation", verbose_name=_("consent record"))

    class Meta:
        verbose_name = _("remote consent invitation")
        verbose_name_plural = _("remote consent invitations")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.participant.code} · {self.created_at:%Y-%m-%d %H:%M}"

    def state(self, now) -> str:
        if self.record_id:
            return self.State.COUNTERSIGNED
        if self.cancelled_at:
            return self.State.CANCELLED
        if self.used_at:
            return self.State.SIGNED
        if self.locked_at:
            return self.State.LOCKED
        if self.expires_at <= now:
            return self.State.EXPIRED
        return self.State.OPEN
