"""PAdES B-LTA for every signed file TrialDocs stores: recorded at B-T, completed in the background, renewed.

Decision (issue 15): a consent is recorded with its signature timestamp (B-T), made in the request; if the TSA
does not answer, nothing is recorded and the form keeps what was typed. The validation data (OCSP responses,
CRLs) and the document timestamp that make it B-LTA are added by a background task (`consent.tasks`), queued
when the record is committed and retried while the revocation service or the TSA is down; until then the file is
shown as "archival completion pending", never presented as complete. Signing refuses a certificate its OCSP
responder or CRL reports revoked (`signing.SignerRevoked`: nothing recorded, as for the TSA); when they do not
answer it goes on, and the completion, which validates the signer as of the signature timestamp, refuses one
revoked before it (`signing.sign_for_archive` says why). Each version of the file is kept in
`ArchivalRevision`, so a copy handed out before completion is still recognised as the stored document.
"""

import hashlib
import logging
import secrets

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from regulatory import audit

from .models import ArchivalFile, ArchivalRevision
from .signing import ArchivalIncomplete, complete_archival, renew_archive_timestamp

logger = logging.getLogger(__name__)
Level, State, Reason = ArchivalFile.Level, ArchivalFile.State, ArchivalRevision.Reason


def register(*, data: bytes, record=None, master=None) -> ArchivalFile:
    """Inside the transaction that stores a newly signed (B-T) file: its archival state and first revision, and
    its completion queued once the transaction commits."""
    archival = ArchivalFile.objects.create(record=record, master=master, level=Level.B_T, state=State.PENDING)
    ArchivalRevision.objects.create(archival=archival, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                                    level=Level.B_T, reason=Reason.SIGNED)
    transaction.on_commit(lambda: enqueue_completion(archival.pk))
    return archival


def enqueue_completion(archival_id: int, *, delay_seconds: int = 0) -> None:
    from .tasks import complete_archival_task

    task = complete_archival_task
    if delay_seconds and task.get_backend().supports_defer:
        task = task.using(run_after=timezone.now() + timezone.timedelta(seconds=delay_seconds))
    try:
        task.enqueue(archival_id)
    except Exception:  # the queue is down: the file stays pending and `complete_archival` picks it up
        logger.exception("Could not queue the archival completion of %s", archival_id)


def _file_field(archival: ArchivalFile):
    return archival.record.pdf if archival.record_id else archival.master.file


def _stored_sha256(archival: ArchivalFile) -> str:
    return archival.record.pdf_sha256 if archival.record_id else archival.master.sha256


def complete(archival_id: int) -> ArchivalFile:
    """Complete one file to B-LTA (idempotent: a complete file is left as it is). On failure the file is left
    unchanged, the attempt and its error are recorded (and audited), and `ArchivalIncomplete` is raised."""
    archival = ArchivalFile.objects.select_related("record", "master").get(pk=archival_id)
    if archival.state == State.COMPLETE:
        return archival
    field = _file_field(archival)
    with field.open("rb") as handle:
        current = handle.read()
    started_from = _stored_sha256(archival)
    try:
        completed = complete_archival(current)
    except ArchivalIncomplete as error:
        _failed(archival, str(error))
        raise
    return _store(archival, completed, started_from=started_from, level=Level.B_LTA, reason=Reason.COMPLETED,
                  action="archival.completed")


def renew(archival_id: int, *, timestamper=None) -> ArchivalFile:
    """Add a new document timestamp (archive timestamp renewal) to one B-LTA file."""
    archival = ArchivalFile.objects.select_related("record", "master").get(pk=archival_id)
    field = _file_field(archival)
    with field.open("rb") as handle:
        current = handle.read()
    started_from = _stored_sha256(archival)
    try:
        renewed = renew_archive_timestamp(current, timestamper=timestamper)
    except ArchivalIncomplete as error:
        _failed(archival, str(error), action="archival.renewal_failed")
        raise
    return _store(archival, renewed, started_from=started_from, level=Level.B_LTA, reason=Reason.RENEWED,
                  action="archival.renewed")


def _failed(archival: ArchivalFile, error: str, *, action: str = "archival.completion_failed") -> None:
    with transaction.atomic():
        ArchivalFile.objects.filter(pk=archival.pk).update(attempts=archival.attempts + 1, last_error=error[:2000],
                                                           last_attempt_at=timezone.now())
        audit.record(actor=None, action=action, obj=archival.document, changes={"error": [None, error[:500]]})


def _store(archival, data: bytes, *, started_from: str, level: str, reason: str, action: str) -> ArchivalFile:
    sha256 = hashlib.sha256(data).hexdigest()
    document = archival.document
    field = _file_field(archival)
    old_name = field.name
    field.save(f"{secrets.token_hex(16)}.pdf", ContentFile(data), save=False)
    new_name = field.name
    try:
        with transaction.atomic():
            locked = ArchivalFile.objects.select_for_update().get(pk=archival.pk)
            if _stored_sha256(locked) != started_from or (reason == Reason.COMPLETED and
                                                          locked.state == State.COMPLETE):
                raise _Superseded
            if archival.record_id:
                type(document).objects.filter(pk=document.pk).update(pdf=new_name, pdf_sha256=sha256)
            else:
                type(document).objects.filter(pk=document.pk).update(file=new_name, sha256=sha256)
            ArchivalFile.objects.filter(pk=archival.pk).update(
                level=level, state=State.COMPLETE, last_error="", attempts=locked.attempts + 1,
                last_attempt_at=timezone.now(), completed_at=timezone.now(),
                timestamp_expires_at=last_timestamp_expiry(data))
            ArchivalRevision.objects.create(archival=archival, sha256=sha256, size=len(data), level=level,
                                            reason=reason)
            audit.record(actor=None, action=action, obj=document,
                         changes={"sha256": [started_from, sha256], "level": [archival.level, level]})
    except _Superseded:
        field.storage.delete(new_name)  # another worker finished first: its version stands
        return ArchivalFile.objects.get(pk=archival.pk)
    except Exception:
        field.storage.delete(new_name)  # no file without its record
        raise
    # The earlier bytes are the start of the new file, and their SHA-256 stays in ArchivalRevision.
    transaction.on_commit(lambda: field.storage.delete(old_name))
    return ArchivalFile.objects.get(pk=archival.pk)


class _Superseded(Exception):
    pass


def last_timestamp_expiry(data: bytes):
    """When the certificate of the file's last document timestamp expires (None without one)."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        stamps = PdfFileReader(io.BytesIO(data)).embedded_timestamp_signatures
    except Exception:  # noqa: BLE001  # unreadable: nothing to report
        return None
    return stamps[-1].signer_cert.not_valid_after if stamps else None


def complete_pending() -> tuple[int, int]:
    """Try every pending file again (the worker's retry, `manage.py complete_archival`): (completed, still
    pending)."""
    done = failed = 0
    for archival_id in ArchivalFile.objects.filter(state=State.PENDING).order_by("pk").values_list("pk", flat=True):
        try:
            complete(archival_id)
            done += 1
        except ArchivalIncomplete:
            failed += 1
    return done, failed
