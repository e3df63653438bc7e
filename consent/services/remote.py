"""Remote consent of a relative (issue 17): the investigator's invitation, the relative's one-time code and
signature on their own phone, then the investigator's countersignature, which records the consent through the
records service (`consent_record_create`, with both components of the investigator's electronic signature).

Each step runs in one transaction with its audit entry; bad input raises a ValidationError and writes nothing, but
for a wrong code, which is counted (the invitation locks after `REMOTE_CONSENT_THROTTLE["MAX_WRONG_CODES"]`).
The link's token and the code exist in clear only in the two e-mails; the e-mail address is blanked as soon as
the invitation is used, cancelled or expired (`remote_emails_erase`, hourly)."""

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cms.public import public_url
from regulatory import audit, permissions

from .. import selectors
from ..models import ConsentFormVersionPage, ConsentRecord, Participant, RemoteConsentInvitation
from . import records
from .ceremony import ComprehensionInput

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
# Signers a remote ceremony cannot have: they attend the discussion in person.
IN_PERSON_ROLES = ("impartial_witness", "interpreter", "participant")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def email_sha256(email: str) -> str:
    return sha256_hex(email.strip().lower())


def throttle_limits() -> dict:
    return {"MAX_WRONG_CODES": 5, "WINDOW_SECONDS": 15 * 60, "MAX_PER_ADDRESS": 20,
            **getattr(settings, "REMOTE_CONSENT_THROTTLE", {})}


def link_path(token: str) -> str:
    return f"/remote/{token}/"


# --- The investigator's side ------------------------------------------------------------------------------------


def remote_versions(*, participant: Participant, at: datetime | None = None) -> list[ConsentFormVersionPage]:
    """The surrogate forms in force at the participant's site now (one per language) that a relative can sign
    remotely: their ceremony needs nobody in person (no witness or interpreter required)."""
    site = participant.site
    found = []
    for language, _label in settings.LANGUAGES:
        version = selectors.current_version(site=site, kind="surrogate", language=language, at=at)
        if version is not None and _remote_refusal(version) is None:
            found.append(version)
    return found


def _remote_refusal(version: ConsentFormVersionPage) -> str | None:
    if version.kind != "surrogate":
        return _("Only a surrogate consent form can be signed remotely by a relative.")
    if any(entry["role"] in IN_PERSON_ROLES and entry["requirement"] == "required"
           for entry in version.ceremony_signers()):
        return _("This form version asks for a signer who attends in person (impartial witness, interpreter or the "
                 "participant): it cannot be signed remotely.")
    return None


@transaction.atomic
def remote_invitation_create(*, actor, participant: Participant, version: ConsentFormVersionPage, email: str,
                             deliver: Callable[..., None] | None = None) -> RemoteConsentInvitation:
    """Send a relative a one-time link and, in a separate e-mail, a one-time code, for the surrogate consent of
    this participant on the version in force. Who may record consents at the site (delegation log) may invite.

    `deliver(invitation, token=…, code=…)` sends them (by default two e-mails through Django's mail backend; an SMS
    gateway for the code would be another one); it raises a ValidationError when it cannot, and nothing is kept."""
    site = participant.site
    if not permissions.is_site_staff(actor, site):
        raise PermissionDenied
    if not permissions.can_record_consent(actor, site):  # not delegated "obtain informed consent" today: why
        raise ValidationError(permissions.delegation_refusal(actor, site, "consent")
                              or _("You may not record consents at %(site)s.") % {"site": site.code})
    participant = Participant.objects.select_for_update(of=("self",)).get(pk=participant.pk)
    if not participant.is_active:
        raise ValidationError(_("%(code)s is no longer taking part: nothing was sent.") % {"code": participant.code})
    now = timezone.now()
    current = selectors.current_version(site=site, kind=version.kind, language=version.language, at=now)
    if current is None or current.pk != version.pk:
        raise ValidationError(_("This version is not the one in force at %(site)s: nothing was sent.")
                              % {"site": site.code})
    why = _remote_refusal(version) or records.kinds_not_offered(participant=participant,
                                                                kinds=[version.kind]).get(version.kind)
    if why:
        raise ValidationError(why)
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError(_("Give the relative's e-mail address: nothing was sent.")) from error
    if any(invitation.state(now) in (RemoteConsentInvitation.State.OPEN, RemoteConsentInvitation.State.SIGNED)
           for invitation in participant.remote_invitations.all()):
        raise ValidationError(_("An invitation of %(code)s is still open or awaits your countersignature: cancel it "
                                "first. Nothing was sent.") % {"code": participant.code})
    token = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    invitation = RemoteConsentInvitation.objects.create(
        participant=participant, version=version, language=version.language, email=email,
        email_sha256=email_sha256(email), token_sha256=sha256_hex(token), code_sha256=sha256_hex(code),
        created_by=actor,
        expires_at=now + timedelta(hours=settings.TRIALDOCS_REMOTE_CONSENT_HOURS))
    audit.record(actor=actor, action="remote_consent.invited", obj=invitation, changes={
        "participant": [None, participant.code], "version": [None, str(version)],
        "expires_at": [None, invitation.expires_at], "email_sha256": [None, invitation.email_sha256]})
    (deliver or _send_invitation)(invitation, token=token, code=code)
    return invitation


def _send_invitation(invitation: RemoteConsentInvitation, *, token: str, code: str) -> None:
    """Two e-mails: the link, then the code; neither names the participant (only their code)."""
    until = date_format(timezone.localtime(invitation.expires_at), "DATETIME_FORMAT")
    site = invitation.participant.site
    with translation.override(invitation.language):
        try:
            send_mail(
                _("Consent requested for a relative in intensive care"),
                "\n\n".join([
                    _("Dear Sir or Madam,"),
                    _("The team of %(site)s asks for your consent, as a relative, for participant %(code)s in the "
                      "clinical trial %(trial)s.") % {"site": site.name, "code": invitation.participant.code,
                                                      "trial": site.trial.nct_number},
                    _("Open this link on your phone or computer (it can be used once, until %(until)s):")
                    % {"until": until} + "\n" + public_url(link_path(token)),
                    _("A one-time code is sent to you in a separate message: type it when the page asks for it."),
                    _("If you did not expect this message, ignore it; you may call the team."),
                    _("TrialDocs (automatic message, please do not reply)")]),
                settings.DEFAULT_FROM_EMAIL, [invitation.email])
            send_mail(
                _("Your one-time code"),
                "\n\n".join([
                    _("Dear Sir or Madam,"),
                    _("Your one-time code: %(code)s") % {"code": code},
                    _("Type it on the page opened from the link sent in the other message. Never give it to anyone "
                      "on the telephone."),
                    _("TrialDocs (automatic message, please do not reply)")]),
                settings.DEFAULT_FROM_EMAIL, [invitation.email])
        except OSError as error:
            raise ValidationError(_("The e-mail could not be sent; nothing was recorded. Try again later.")) from error


@transaction.atomic
def remote_invitation_cancel(*, actor, invitation: RemoteConsentInvitation) -> RemoteConsentInvitation:
    site = invitation.participant.site
    if not permissions.can_record_consent(actor, site):
        raise PermissionDenied
    invitation = RemoteConsentInvitation.objects.select_for_update().get(pk=invitation.pk)
    now = timezone.now()
    if invitation.state(now) not in (RemoteConsentInvitation.State.OPEN, RemoteConsentInvitation.State.SIGNED,
                                     RemoteConsentInvitation.State.LOCKED):
        raise ValidationError(_("This invitation cannot be cancelled (%(state)s). Nothing was recorded.")
                              % {"state": invitation.State(invitation.state(now)).label})
    invitation.cancelled_at, invitation.cancelled_by = now, actor
    erase_address(invitation, now)
    invitation.signature_png = None  # a signature never countersigned is not kept
    invitation.save()
    audit.record(actor=actor, action="remote_consent.cancelled", obj=invitation)
    return invitation


def remote_consent_countersign(*, actor, invitation: RemoteConsentInvitation, username: str, password: str,
                               discussed: bool = False) -> ConsentRecord:
    """The investigator countersigns what the relative signed: the consent is recorded then, by the records
    service, with the relative's manifestation (relationship, time, drawn signature) and the investigator's
    electronic signature (user name and password typed again). Only an investigator of the site may."""
    site = invitation.participant.site
    if not permissions.is_site_staff(actor, site):
        raise PermissionDenied
    if not permissions.can_countersign_consent(actor, site):
        raise ValidationError(_("Only an investigator of %(site)s can countersign a consent. Nothing was recorded.")
                              % {"site": site.code})
    invitation = RemoteConsentInvitation.objects.select_related("version", "participant__site__trial").get(
        pk=invitation.pk)
    if invitation.state(timezone.now()) != RemoteConsentInvitation.State.SIGNED:
        raise ValidationError(_("This invitation does not await a countersignature. Nothing was recorded."))
    version = invitation.version
    comprehension = {int(index): ComprehensionInput(attempts=list(attempts), discussed=discussed)
                     for index, attempts in invitation.comprehension.items()}
    data = records.ConsentInput(
        version=version, signed_at=invitation.used_at, outcome=ConsentRecord.Outcome.CONSENTED,
        answers={int(k): v for k, v in invitation.answers.get("statements", {}).items()},
        ticks={int(k): bool(v) for k, v in invitation.answers.get("ticks", {}).items()},
        fills={int(k): v for k, v in invitation.answers.get("fills", {}).items()},
        surrogate_relationship=invitation.relationship, independence_attested=invitation.independence_attested,
        signature_png=bytes(invitation.signature_png) if invitation.signature_png is not None else None,
        signature_source=invitation.signature_source, information_shown_at=invitation.information_shown_at,
        information_seconds=invitation.information_seconds, comprehension=comprehension,
        countersigned_at=timezone.now(),
        remote={"invited_by": invitation.created_by.get_full_name() or invitation.created_by.get_username(),
                "invited_at": invitation.created_at.isoformat(),
                "code_verified_at": invitation.code_verified_at.isoformat() if invitation.code_verified_at else "",
                "signed_at": invitation.used_at.isoformat()})

    def link(record: ConsentRecord) -> None:  # in the record's transaction: both, or neither
        locked = RemoteConsentInvitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.record_id is not None:
            raise ValidationError(_("This invitation does not await a countersignature. Nothing was recorded."))
        locked.record = record
        locked.signature_png = None  # now in the signed record's PDF
        locked.save(update_fields=["record", "signature_png"])
        audit.record(actor=actor, action="remote_consent.countersigned", obj=locked, changes={
            "record": [None, str(record)], "relative_signed_at": [None, locked.used_at],
            "code_verified_at": [None, locked.code_verified_at], "verified_ip": [None, locked.verified_ip],
            "signed_ip": [None, locked.signed_ip], "email_sha256": [None, locked.email_sha256]})

    return records.consent_record_create(
        actor=actor, participant=invitation.participant, data=data, username=username, password=password,
        expected_sequence=invitation.participant.consents.count(), with_record=link)


# --- Erasing the e-mail addresses -------------------------------------------------------------------------------


def erase_address(invitation: RemoteConsentInvitation, now: datetime) -> None:
    if invitation.email:
        invitation.email, invitation.email_erased_at = "", now


@transaction.atomic
def remote_emails_erase(*, now: datetime | None = None) -> int:
    """Blank the e-mail address of every invitation no longer open (expired, used, locked, cancelled); their
    SHA-256 stays. Idempotent; returns how many were erased. Run hourly (`erase_remote_consent_emails`)."""
    now = now or timezone.now()
    erased = 0
    for invitation in RemoteConsentInvitation.objects.select_for_update().exclude(email=""):
        if invitation.state(now) == RemoteConsentInvitation.State.OPEN:
            continue
        erase_address(invitation, now)
        invitation.save(update_fields=["email", "email_erased_at"])
        audit.record(actor=None, action="remote_consent.email_erased", obj=invitation,
                     changes={"state": [None, invitation.state(now)]})
        erased += 1
    return erased
