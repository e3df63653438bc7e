"""The investigator's countersignature of a consent that awaits it (or its refusal), as a new signed revision of
the record's PDF."""

import hashlib
import secrets
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cms.files import StorageFailed, save_whole
from regulatory import audit, permissions

from ...models import ConsentRecord
from ...pki import load_identity
from ...signing import SignatureRequest, sign_pdf
from ._common import _local, _locked
from .access import _role_label, _signature_components_match, signing_suspended
from .pathway import _apply_pathway
from .tasks import _close_tasks, _open_continuation_task, _open_patient_consent_task, _open_reconsent_if_outdated


def consent_countersign(*, actor, record: ConsentRecord, username: str, password: str, decline: bool = False,
                        reason: str = "", at: datetime | None = None) -> ConsentRecord:
    """The investigator countersigns a consent that awaits it (or declines to), with both components of their
    electronic signature. The record's PDF is signed again as a new PAdES revision (incremental update: every
    earlier revision stays inside, intact and verifiable) whose visible stamp is the countersignature's
    manifestation. Only then is the consent a consent. `at` is when (now when not given; the demo's past)."""
    site = record.participant.site
    if not permissions.can_record_consent(actor, site):
        raise PermissionDenied
    if not permissions.can_countersign_consent(actor, site):
        raise ValidationError(_("Only an investigator of %(site)s can countersign a consent. Nothing was recorded.")
                              % {"site": site.code})
    if signing_suspended(actor):
        raise ValidationError(_("Too many wrong passwords: signing is suspended for a few minutes, as logging in "
                                "is. Nothing was recorded."))
    if not _signature_components_match(actor, username, password):
        raise ValidationError(_("Your user name or password is not correct: nothing was recorded."))
    return _countersign(actor=actor, record=record, decline=decline, reason=reason.strip(), at=at)


@transaction.atomic
def _countersign(*, actor, record: ConsentRecord, decline: bool, reason: str, at: datetime | None) -> ConsentRecord:
    participant = _locked(record.participant)
    record = ConsentRecord.objects.select_for_update(of=("self",)).select_related("version").get(pk=record.pk)
    if record.outcome != ConsentRecord.Outcome.PENDING:
        raise ValidationError(_("This consent does not await a countersignature (%(outcome)s). Nothing was "
                                "recorded.") % {"outcome": record.get_outcome_display()})
    now = timezone.now()
    at = at or now
    if at > now:
        raise ValidationError(_("The countersignature's time is in the future. Nothing was recorded."))
    if at < record.signed_at:
        raise ValidationError(_("The countersignature cannot precede the signature it countersigns (%(at)s).")
                              % {"at": _local(record.signed_at)})
    if decline and not reason:
        raise ValidationError(_("Say why the countersignature is declined."))
    if not decline and at > record.countersignature_due_by:
        raise ValidationError(_("Too late: the countersignature was due by %(due)s. The consent cannot be completed; "
                                "decline it (with the reason) and obtain consent again. Nothing was recorded.")
                              % {"due": _local(record.countersignature_due_by)})
    if not decline and not participant.is_active:
        raise ValidationError(_("%(code)s is no longer taking part (%(status)s): nothing new can be recorded.")
                              % {"code": participant.code, "status": participant.get_status_display()})
    name = actor.get_full_name() or actor.get_username()
    ceremony = [dict(entry) for entry in record.ceremony]
    for entry in ceremony:
        if entry["role"] == "investigator" and entry["decision"] == "awaited":
            entry |= {"name": name, "decision": "declined" if decline else "signed", "at": at.isoformat(),
                      "shown_at": _local(at), "source": "electronic"}
            if decline:
                entry["reason"] = reason
    before = {"outcome": record.outcome, "pdf_sha256": record.pdf_sha256}
    role = _role_label(actor, site=participant.site)
    if decline:
        stamp = (f"Contresignature REFUSÉE par\n{name}, {role.lower()}\nle {_local(at)}\nMotif : {reason[:120]}\n"
                 f"Ce document n'est pas un consentement.")
        record.outcome, record.declined_by, record.declined_at = (
            ConsentRecord.Outcome.DECLINED, f"contresignature de l'investigateur — {name}", at)
    else:
        stamp = (f"Contresignature de l'investigateur (a recueilli le consentement)\n{name}, {role.lower()}\n"
                 f"le {_local(at)}\nLe consentement est complet.")
        record.outcome, record.countersigned_by, record.countersigned_at = ConsentRecord.Outcome.CONSENTED, actor, at
    record.ceremony = ceremony
    with record.pdf.open("rb") as handle:
        current = handle.read()
    if hashlib.sha256(current).hexdigest() != record.pdf_sha256:
        raise ValidationError(_("The stored PDF of this consent is not the one recorded: nothing was signed."))
    from ...pdf import COUNTERSIGNATURE_BOX
    from ...signing import SigningError

    identity = load_identity(role="site", site_code=participant.site.code)
    try:
        signed = sign_pdf(current, identity=identity, request=SignatureRequest(
            field_name=f"Contresignature{record.revisions.count() + 1}",
            reason=f"{'Contresignature refusée' if decline else 'Contresignature'} {name} — {participant.code}",
            location=f"{participant.site.name}, {participant.site.country}", visible_box=COUNTERSIGNATURE_BOX,
            stamp_text=stamp.replace("%", "%%")))
    except SigningError as error:
        raise ValidationError(str(error)) from error
    old_file = record.pdf.name
    from ...models import ConsentRecordRevision

    ConsentRecordRevision.objects.create(record=record, number=record.revisions.count() + 1,
                                         sha256=record.pdf_sha256,
                                         superseded_because="countersignature declined" if decline
                                         else "countersignature")
    record.pdf_sha256 = hashlib.sha256(signed).hexdigest()
    try:
        save_whole(record.pdf, f"{secrets.token_hex(16)}.pdf", ContentFile(signed))
    except StorageFailed as error:
        raise ValidationError(StorageFailed.message) from error
    try:
        with transaction.atomic():
            record.save()
            status_before = participant.status
            if not decline:
                trial = participant.site.trial
                _apply_pathway(participant, record, trial)
                participant.save()
                _close_tasks(participant, record)
                _open_continuation_task(participant, record, trial)
                _open_patient_consent_task(participant, record, trial)
                _open_reconsent_if_outdated(participant, record, trial)
            audit.record(actor=actor, action="consent.countersignature_declined" if decline
                         else "consent.countersigned", obj=record, reason=reason, changes={
                             "outcome": [before["outcome"], record.outcome], "at": [None, at],
                             "status": [status_before, participant.status],
                             "pdf_sha256": [before["pdf_sha256"], record.pdf_sha256]})
    except Exception:
        record.pdf.delete(save=False)
        raise
    # The earlier revision is inside the new file, byte for byte: the older file is no longer needed.
    storage = record.pdf.storage
    transaction.on_commit(lambda: storage.delete(old_file))
    return record
