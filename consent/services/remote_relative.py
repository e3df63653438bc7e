"""Remote consent, the relative's side: the link opened (no account), the one-time code checked (rate-limited), the
form read and signed on a phone. What the relative signs is kept with the invitation until the investigator
countersigns it (`remote.remote_consent_countersign`)."""

import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cms.public import public_url
from cms.throttle import count_in_window
from regulatory import audit, mail, permissions

from ..blocks import neutral
from ..models import ConsentFormVersionPage, RemoteConsentInvitation
from .remote import erase_address, sha256_hex, throttle_limits

logger = logging.getLogger(__name__)


def remote_invitation_by_token(token: str) -> RemoteConsentInvitation | None:
    if not token or len(token) > 100:
        return None
    digest = sha256_hex(token)
    found = (RemoteConsentInvitation.objects.select_related("participant__site__trial", "version")
             .filter(token_sha256=digest).first())
    if found is None or not hmac.compare_digest(found.token_sha256, digest):
        return None
    return found


def address_allowed(ip: str | None) -> bool:
    """One more attempt from this address (IP) within the window, on any invitation (a link or a code): counted in
    Django's cache, shared across app servers when the cache is (Redis), as VERIFY_THROTTLE is."""
    limits = throttle_limits()
    count = count_in_window(f"remote-consent:{ip or 'unknown'}", window_seconds=limits["WINDOW_SECONDS"])
    return count <= limits["MAX_PER_ADDRESS"]


def closed_message(invitation: RemoteConsentInvitation, now: datetime | None = None) -> str | None:
    """Why the relative's link no longer opens, in plain words; None while it is open."""
    state = invitation.state(now or timezone.now())
    return {
        RemoteConsentInvitation.State.EXPIRED: _("This link has expired. Please contact the team that sent it: they "
                                                 "can send you a new one."),
        RemoteConsentInvitation.State.SIGNED: _("This link has already been used: your answers and signature were "
                                                "received. Thank you."),
        RemoteConsentInvitation.State.COUNTERSIGNED: _("This link has already been used: your answers and signature "
                                                       "were received. Thank you."),
        RemoteConsentInvitation.State.LOCKED: _("This link is locked after too many wrong codes. Please contact the "
                                                "team that sent it."),
        RemoteConsentInvitation.State.CANCELLED: _("This link was cancelled by the team that sent it."),
    }.get(state)


def remote_code_verify(*, invitation: RemoteConsentInvitation, code: str, ip: str | None) -> RemoteConsentInvitation:
    """The relative types the one-time code. A wrong one is counted (and audited); the invitation locks after
    too many. The right one records when, and from which address: the identity check."""
    if not address_allowed(ip):
        raise ValidationError(_("Too many attempts from your connection: wait 15 minutes, then try again."))
    wrong = False
    with transaction.atomic():
        invitation = RemoteConsentInvitation.objects.select_for_update().get(pk=invitation.pk)
        now = timezone.now()
        closed = closed_message(invitation, now)
        if closed:
            raise ValidationError(closed)
        typed = "".join((code or "").split())
        if hmac.compare_digest(invitation.code_sha256, sha256_hex(typed)):
            invitation.code_verified_at, invitation.verified_ip = now, ip
            invitation.save(update_fields=["code_verified_at", "verified_ip"])
            audit.record(actor=None, action="remote_consent.code_verified", obj=invitation,
                         changes={"at": [None, now], "ip": [None, ip]})
            return invitation
        wrong = True
        invitation.attempts += 1
        changes = {"attempts": [invitation.attempts - 1, invitation.attempts], "ip": [None, ip]}
        if invitation.attempts >= throttle_limits()["MAX_WRONG_CODES"]:
            invitation.locked_at = now
            erase_address(invitation, now)
            changes["locked_at"] = [None, now]
        invitation.save()
        audit.record(actor=None, action="remote_consent.code_wrong", obj=invitation, changes=changes)
    if wrong and invitation.locked_at:
        raise ValidationError(closed_message(invitation))
    left = throttle_limits()["MAX_WRONG_CODES"] - invitation.attempts
    raise ValidationError(_("This code is not correct. %(left)s attempt(s) left.") % {"left": left})


@dataclass
class RemoteAnswers:
    """What the relative's page collects; checked by `remote_consent_submit`, never trusted as it comes."""

    statements: dict[int, str] = field(default_factory=dict)
    ticks: dict[int, bool] = field(default_factory=dict)
    fills: dict[int, str] = field(default_factory=dict)
    comprehension: dict[int, list[int]] = field(default_factory=dict)  # question → choice indices, in order
    relationship: str = ""
    independence_attested: bool = False
    signature_png: bytes | None = None
    signature_source: str = ""
    information_seconds: int | None = None


def remote_consent_submit(*, invitation: RemoteConsentInvitation, answers: RemoteAnswers,
                          ip: str | None) -> RemoteConsentInvitation:
    """The relative signs: kept with the invitation, which is then used (single use), and the e-mail address
    erased. Not a consent until the investigator countersigns (`remote_consent_countersign`)."""
    with transaction.atomic():
        invitation = (RemoteConsentInvitation.objects.select_for_update(of=("self",))
                      .select_related("version", "participant").get(pk=invitation.pk))
        now = timezone.now()
        closed = closed_message(invitation, now)
        if closed:
            raise ValidationError(closed)
        if invitation.code_verified_at is None:
            raise ValidationError(_("Type the one-time code first."))
        checked = check_answers(invitation.version, answers)
        if not invitation.participant.is_active:
            raise ValidationError(_("This consent can no longer be given. Please contact the team that sent the "
                                    "link."))
        invitation.used_at, invitation.signed_ip = now, ip
        invitation.relationship = checked.relationship
        invitation.independence_attested = True
        invitation.answers = {"statements": checked.statements, "ticks": checked.ticks, "fills": checked.fills}
        invitation.comprehension = checked.comprehension
        invitation.signature_png, invitation.signature_source = checked.signature_png, checked.signature_source
        if invitation.information_shown_at is not None:
            shown_for = int((now - invitation.information_shown_at).total_seconds())
            if checked.information_seconds is not None:
                invitation.information_seconds = max(0, min(checked.information_seconds, shown_for))
        erase_address(invitation, now)
        invitation.save()
        audit.record(actor=None, action="remote_consent.signed", obj=invitation, changes={
            "at": [None, now], "ip": [None, ip], "relationship": [None, invitation.relationship],
            "code_verified_at": [None, invitation.code_verified_at]})
        transaction.on_commit(lambda: _tell_investigators(invitation))
    return invitation


def _tell_investigators(invitation: RemoteConsentInvitation) -> None:
    """An e-mail to the site's investigators: a relative signed, their countersignature is awaited. The participant
    page says it too, so a mail server that fails loses nothing (logged)."""
    site = invitation.participant.site
    code = invitation.participant.code
    try:
        mail.send_formal(
            users=permissions.site_investigators(site).select_related("wagtail_userprofile"),
            subject=lambda: _("Remote consent of a relative for %(code)s: your countersignature is awaited")
            % {"code": code},
            paragraphs=lambda: [_("A relative of participant %(code)s (%(site)s) has signed the consent form on "
                                  "their phone. It becomes a consent once an investigator of the site countersigns "
                                  "it, with their user name and password, on the participant's page:")
                                % {"code": code, "site": site.code},
                                public_url(site.trial.url + site.trial.reverse_subpage(
                                    "participant_detail", args=[site.code.lower(), code]))])
    except OSError:
        logger.exception("remote consent %s: the investigators of %s could not be told", invitation.pk, site.code)


def remote_information_shown(*, invitation: RemoteConsentInvitation) -> None:
    """The first time the note is sent to the relative (after the code): when, as the records keep it."""
    RemoteConsentInvitation.objects.filter(pk=invitation.pk, information_shown_at__isnull=True).update(
        information_shown_at=timezone.now())


def check_answers(version: ConsentFormVersionPage, answers: RemoteAnswers) -> RemoteAnswers:
    """Every statement answered (the mandatory ones accepted: a relative who does not consent simply does not
    sign), every comprehension question answered right in the end, the relationship, the independence and the
    hand signature given. Raises a ValidationError naming the first problem."""
    blocks = neutral(version.consent)
    statements = [b["value"] for b in blocks if b["type"] == "consent_statement"]
    for index, statement in enumerate(statements):
        answer = answers.statements.get(index)
        if answer not in ("accept", "refuse"):
            raise ValidationError(_("Answer every statement of the form (statement %(n)s).") % {"n": index + 1})
        if statement.get("mandatory") and answer != "accept":
            raise ValidationError(_("Statement %(n)s is needed to take part. If you do not wish to consent, do not "
                                    "sign: simply close this page, or call the team.") % {"n": index + 1})
    for index, question in enumerate(version.comprehension_questions()):
        attempts = answers.comprehension.get(index) or []
        choices = list(question["choices"])
        if not attempts or len(attempts) > 10 or any(not 0 <= a < len(choices) for a in attempts):
            raise ValidationError(_("Answer question %(n)s.") % {"n": index + 1})
        if attempts[-1] != int(question["right_answer"]) - 1:
            raise ValidationError(_("Question %(n)s: read the explanation, then answer again.") % {"n": index + 1})
    relationship = " ".join(answers.relationship.split())
    if not relationship or len(relationship) > 120:
        raise ValidationError(_("Say how you are related to the patient (for example: daughter, husband)."))
    if not answers.independence_attested:
        raise ValidationError(_("You must be independent of the investigator and of the sponsor to consent."))
    if answers.signature_png is None:
        raise ValidationError(_("Sign: draw your signature, or type your full name."))
    fills = {index: (text or "").strip()[:500] for index, text in answers.fills.items()}
    return RemoteAnswers(statements=dict(answers.statements), ticks=dict(answers.ticks), fills=fills,
                         comprehension={i: list(a) for i, a in answers.comprehension.items()},
                         relationship=relationship, independence_attested=True, signature_png=answers.signature_png,
                         signature_source=answers.signature_source, information_seconds=answers.information_seconds)
