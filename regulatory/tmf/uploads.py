"""Filing documents in the TMF by hand: checks of the file, its place in the TMF, the upload itself (one
transaction, its audit entry, the file removed if the record is not kept)."""

import hashlib
import re

from django.core.exceptions import PermissionDenied, SuspiciousFileOperation, ValidationError
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from cms.files import StorageFailed, save_whole
from regulatory import audit, permissions
from regulatory.models import QcStatus, TmfDocument, TmfLevel
from regulatory.tmf import qc

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Extension → the first bytes a real file of that type starts with ("" when the format has no signature).
ALLOWED_TYPES = {
    "pdf": (b"%PDF-",), "docx": (b"PK\x03\x04",), "xlsx": (b"PK\x03\x04",), "odt": (b"PK\x03\x04",),
    "png": (b"\x89PNG\r\n\x1a\n",), "jpg": (b"\xff\xd8\xff",), "jpeg": (b"\xff\xd8\xff",), "txt": (b"",),
}


def _check_file(upload) -> tuple[str, str]:
    """A clean file name and the extension, or ValidationError."""
    try:
        name = get_valid_filename(upload.name.replace("\\", "/").rsplit("/", 1)[-1])
    except SuspiciousFileOperation:  # nothing usable left of the name (e.g. "<>"): refused below as no known type
        name = ""
    stem, dot, suffix = name.rpartition(".")
    if len(name) > 200 and dot and len(suffix) <= 4:  # shorten the stem, never the extension that gives the type
        name = stem[:199 - len(suffix)] + dot + suffix
    name = name[:200]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED_TYPES:
        raise ValidationError(_("Only PDF, Word (.docx), Excel (.xlsx), OpenDocument text, PNG, JPEG or text files "
                                "can be filed."))
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(_("This file is too large (50 MB at most)."))
    if upload.size == 0:
        raise ValidationError(_("This file is empty."))
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not head.startswith(ALLOWED_TYPES[extension]):
        raise ValidationError(_("The file's content does not match its extension (.%(ext)s).") % {"ext": extension})
    if extension == "txt" and b"\x00" in head:
        raise ValidationError(_("The file's content does not match its extension (.%(ext)s).") % {"ext": extension})
    return name, extension


def _place(*, artifact, level, site, country) -> tuple:
    allowed = {TmfLevel.TRIAL: artifact.trial_level, TmfLevel.COUNTRY: artifact.country_level,
               TmfLevel.SITE: artifact.site_level}
    if not allowed.get(level):
        raise ValidationError(_("The Reference Model does not file %(artifact)s at this level.")
                              % {"artifact": artifact.number})
    if level == TmfLevel.SITE:
        if site is None:
            raise ValidationError(_("Choose the site of a site-level document."))
        return site, site.country
    if site is not None:
        raise ValidationError(_("Only a site-level document names a site."))
    if level == TmfLevel.COUNTRY:
        country = (country or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError(_("Give the two-letter country code of a country-level document."))
        return None, country
    return None, ""


@transaction.atomic
def file_upload(*, actor, trial, artifact, level, site, country, title, document_date, version, status, file,
                replaces=None) -> TmfDocument:
    """File an uploaded essential document, pending QC. A new version of a filed document marks the older one
    superseded, and closes its open QC issue (a rejected document is corrected this way).

    Nothing is written on refusal; a file stored before a later failure is removed again.
    """
    if not permissions.can_file_in_tmf(actor, trial):
        raise PermissionDenied
    if site is not None and site.trial_id != trial.pk:
        raise ValidationError(_("Choose a site of this trial."))
    site, country = _place(artifact=artifact, level=level, site=site, country=country)
    name, _extension = _check_file(file)
    if not title.strip():
        raise ValidationError(_("Give the document a title."))
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    series = ""
    if replaces is not None:
        replaces = TmfDocument.objects.select_for_update().get(pk=replaces.pk)
        if replaces.trial_id != trial.pk or not replaces.is_uploaded:
            raise ValidationError(_("Only a document filed by hand in this trial can be replaced this way."))
        if replaces.status == TmfDocument.Status.SUPERSEDED:
            raise ValidationError(_("That document has already been superseded."))
        series = replaces.series or f"upload-{replaces.pk}"
    document = TmfDocument(trial=trial, artifact=artifact, level=level, site=site, country=country,
                           title=title.strip()[:255], document_date=document_date, version=version.strip(),
                           status=status, series=series, file_name=name, sha256=digest.hexdigest(),
                           filed_by=actor, search_text=title.strip(), qc_status=QcStatus.PENDING)
    try:
        save_whole(document.file, name, file)
    except StorageFailed as error:
        raise ValidationError(StorageFailed.message) from error
    try:
        with transaction.atomic():
            document.save()
            if replaces is not None:
                qc.issue_close_by_new_version(actor=actor, old=replaces, new=document)
                before = replaces.status
                replaces.series = series
                replaces.status = TmfDocument.Status.SUPERSEDED
                replaces.save(update_fields=["series", "status", "updated_at"])
                audit.record(actor=actor, action="tmf.document_superseded", obj=replaces,
                             changes={"status": [before, replaces.status], "superseded_by": [None, document.pk]})
            audit.record(actor=actor, action="tmf.document_filed", obj=document, changes={
                "artifact": [None, artifact.number], "level": [None, level], "site": [None, site.code if site else ""],
                "country": [None, country], "title": [None, document.title], "version": [None, document.version],
                "status": [None, status], "document_date": [None, document_date], "file": [None, name],
                "sha256": [None, document.sha256], "qc_status": [None, document.qc_status]})
    except Exception:
        document.file.delete(save=False)
        raise
    return document
