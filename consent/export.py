"""A site's consent records as one zip, for a monitoring or inspection visit or for archiving (21 CFR 11.10(b):
accurate and complete copies). Used by `manage.py export_site_consents` and the download of the participants list.

The zip holds, in this order:

    DIJ-0001/01_2026-11-20T14-03Z_patient_v2.0.pdf    every record's signed PDF, byte for byte as stored, by
    DIJ-0001/02_2026-12-01T09-30Z_continuation_v1.0.pdf   participant number then record number (all records,
    …                                                  not only the latest); named by code, never by person
    index.csv       one row per record (UTF-8 with a byte-order mark, every cell formula-safe)
    withdrawals.csv what each withdrawn participant stopped (one row per scope: treatment, follow-up visits, further
                    data collection, use of the data already collected), from when, why, recorded by whom; only
                    when the site has withdrawals (same encoding)
    manifest.json   what the zip is (trial, site, counts) and its inventory: each file's path, size and SHA-256
    SHA256SUMS      the same inventory for `sha256sum -c SHA256SUMS`

Integrity: each PDF is hashed while it is copied into the zip and compared with the SHA-256 stored when the record
was signed. A file that is missing or differs refuses the export (`ExportRefused`, naming every such record), unless
the caller asks for a flagged copy (`strict=False`: the index says MISMATCH or MISSING on its row and the manifest
lists the problems).

Deterministic: the zip is a function of the records (and of the trial's and site's identity, the obtaining users'
user names and the language of the headings): entries are sorted, each dated by its record's time of recording (the
index and manifest by the latest one), with fixed attributes, and nothing says when or by whom it was made: the
audit entry of each export does (`consent.records_exported`, with the counts and the zip's SHA-256).

Memory: PDFs are copied in chunks into a temporary file; only the index rows are held.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from cms.cells import csv_cell
from regulatory import audit

from .models import ConsentRecord, Withdrawal

FORMAT = "TrialDocs-consent-records-1"
INDEX = "index.csv"
WITHDRAWALS = "withdrawals.csv"
WITHDRAWAL_COLUMNS = ("participant", "scope", "from_utc", "from_local", "implied_by", "reason", "recorded_by_user",
                      "recorded_at_utc", "data_already_collected")
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
EXPORTED = "consent.records_exported"
REFUSED = "consent.records_export_refused"
CHUNK = 1024 * 1024
EPOCH = datetime.datetime(1980, 1, 1, tzinfo=datetime.UTC)  # the earliest date a zip entry can carry

COLUMNS = ("participant", "sequence", "kind", "signer", "form_version", "form_language", "outcome", "signed_at_utc",
           "signed_at_local", "recorded_at_utc", "obtained_by", "obtained_by_role", "obtained_by_user", "status",
           "file", "size", "sha256", "integrity")


def _column_labels() -> dict[str, str]:
    zone = timezone.get_default_timezone_name()
    return {
        "participant": pgettext("consent export column", "Participant"),
        "sequence": pgettext("consent export column", "Record no."),
        "kind": pgettext("consent export column", "Kind"),
        "signer": pgettext("consent export column", "Signer capacity"),
        "form_version": pgettext("consent export column", "Form version"),
        "form_language": pgettext("consent export column", "Form language"),
        "outcome": pgettext("consent export column", "Decision"),
        "signed_at_utc": pgettext("consent export column", "Signed at (UTC)"),
        "signed_at_local": pgettext("consent export column", "Signed at (%(zone)s)") % {"zone": zone},
        "recorded_at_utc": pgettext("consent export column", "Recorded at (UTC)"),
        "obtained_by": pgettext("consent export column", "Obtained by"),
        "obtained_by_role": pgettext("consent export column", "Obtained by (role)"),
        "obtained_by_user": pgettext("consent export column", "Obtained by (user name)"),
        "status": pgettext("consent export column", "Record status"),
        "file": pgettext("consent export column", "File in the archive"),
        "size": pgettext("consent export column", "Size (bytes)"),
        "sha256": pgettext("consent export column", "SHA-256 (stored at signing)"),
        "integrity": pgettext("consent export column", "File check"),
    }


@dataclass(frozen=True)
class FileProblem:
    """A record whose stored file is missing or no longer has the SHA-256 recorded when it was signed."""

    participant: str
    sequence: int
    expected: str
    actual: str  # the file's SHA-256, empty when the file is missing

    @property
    def missing(self) -> bool:
        return not self.actual

    def as_dict(self) -> dict:
        return {"participant": self.participant, "sequence": self.sequence, "expected_sha256": self.expected,
                "actual_sha256": self.actual or None, "missing": self.missing}

    def in_english(self) -> str:
        where = f"{self.participant} no. {self.sequence}"
        if self.missing:
            return f"{where}: the signed PDF is missing from storage"
        return f"{where}: the signed PDF's SHA-256 is {self.actual}, {self.expected} was recorded at signing"

    def __str__(self):
        if self.missing:
            return _("%(participant)s no. %(sequence)s: the signed PDF is missing from storage") % {
                "participant": self.participant, "sequence": self.sequence}
        return _("%(participant)s no. %(sequence)s: the signed PDF's SHA-256 is %(actual)s, %(expected)s was "
                 "recorded at signing") % {"participant": self.participant, "sequence": self.sequence,
                                           "actual": self.actual, "expected": self.expected}


class ExportRefused(Exception):
    """Some stored files are missing or altered: no export is handed out (see `problems`)."""

    def __init__(self, problems: list[FileProblem]):
        self.problems = problems
        super().__init__("; ".join(problem.in_english() for problem in problems))


@dataclass(frozen=True)
class ExportResult:
    records: int
    participants: int
    sha256: str
    size: int
    language: str
    problems: tuple[FileProblem, ...] = field(default=())


# --- What goes in -------------------------------------------------------------------------------------------------

def records_of_site(site):
    """Every consent record of the site, by participant number then record number."""
    return (ConsentRecord.objects.filter(participant__site=site)
            .select_related("participant", "version", "obtained_by")
            .order_by("participant__number", "sequence", "pk"))


def _segment(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", text).strip("._-") or "x"


def file_name(record: ConsentRecord) -> str:
    """`DIJ-0001/01_2026-11-20T14-03Z_patient_v2.0.pdf`: participant code, record number, signing time (UTC),
    kind and form version. No name of any person."""
    signed = record.signed_at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H-%MZ")
    return (f"{_segment(record.participant.code)}/{record.sequence:02d}_{signed}_{_segment(record.kind)}"
            f"_v{_segment(record.version.version_number)}.pdf")


def _iso(moment: datetime.datetime, zone) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _zip_info(name: str, moment: datetime.datetime) -> zipfile.ZipInfo:
    moment = max(moment.astimezone(datetime.UTC), EPOCH)
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever the platform: the same bytes everywhere
    info.external_attr = 0o100644 << 16
    return info


def _copy_hashed(record: ConsentRecord, package: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, str] | None:
    """Copy the record's stored PDF into the zip in chunks, hashing what is copied: (size, SHA-256), or None when
    the file cannot be opened (nothing is then written)."""
    try:
        source = record.pdf.open("rb")
    except (OSError, ValueError):
        return None
    digest, size = hashlib.sha256(), 0
    with source, package.open(info, "w") as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _statuses(records: list[ConsentRecord]) -> dict[int, str]:
    """Each record's place among its participant's records: the latest, or followed by the next one's number."""
    following: dict[int, int] = {}
    for earlier, later in zip(records, records[1:], strict=False):
        if earlier.participant_id == later.participant_id:
            following[earlier.pk] = later.sequence
    return {record.pk: (pgettext("consent record status", "Followed by no. %(sequence)s")
                        % {"sequence": following[record.pk]} if record.pk in following
                        else pgettext("consent record status", "Latest of the participant"))
            for record in records}


# --- Writing ------------------------------------------------------------------------------------------------------

def write_zip(site, handle, *, strict: bool = True, language: str | None = None) -> ExportResult:
    """Write the site's export as a zip into `handle` (a seekable binary file, written from its start).

    Raises `ExportRefused` when `strict` and a stored file is missing or altered; the handle then holds an
    incomplete zip, for the caller to discard. Not audited: see `export_to_path` and `export_to_temporary_file`.
    """
    language = language or settings.LANGUAGE_CODE
    with translation.override(language):
        return _write_zip(site, handle, strict=strict, language=language)


def _write_zip(site, handle, *, strict: bool, language: str) -> ExportResult:
    local = timezone.get_default_timezone()
    records = list(records_of_site(site))
    statuses = _statuses(records)
    as_of = max((record.recorded_at for record in records), default=EPOCH)
    problems: list[FileProblem] = []
    rows: list[dict[str, str]] = []
    inventory: list[dict] = []
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for record in records:
            name = file_name(record)
            copied = _copy_hashed(record, package, _zip_info(name, record.recorded_at))
            integrity = "OK"
            if copied is None:
                problems.append(FileProblem(record.participant.code, record.sequence, record.pdf_sha256, ""))
                integrity, name, size = pgettext("consent export file check", "MISSING"), "", ""
            else:
                size, actual = copied
                if actual != record.pdf_sha256:
                    problems.append(FileProblem(record.participant.code, record.sequence, record.pdf_sha256, actual))
                    integrity = pgettext("consent export file check", "MISMATCH: the file's SHA-256 is %(sha256)s") \
                        % {"sha256": actual}
                inventory.append({"path": name, "size": size, "sha256": actual,
                                  "participant": record.participant.code, "sequence": record.sequence})
            rows.append({
                "participant": record.participant.code,
                "sequence": str(record.sequence),
                "kind": record.get_kind_display(),
                "signer": record.get_signer_role_display(),
                "form_version": record.version.version_number,
                "form_language": record.version.get_language_display(),
                "outcome": record.get_outcome_display(),
                "signed_at_utc": _iso(record.signed_at, datetime.UTC),
                "signed_at_local": _iso(record.signed_at, local),
                "recorded_at_utc": _iso(record.recorded_at, datetime.UTC),
                "obtained_by": record.obtained_by_name,
                "obtained_by_role": record.obtained_by_role,
                "obtained_by_user": record.obtained_by.get_username(),
                "status": statuses[record.pk],
                "file": name,
                "size": str(size),
                "sha256": record.pdf_sha256,
                "integrity": integrity,
            })
        if problems and strict:
            raise ExportRefused(problems)

        index = _index_csv(rows)
        package.writestr(_zip_info(INDEX, as_of), index)
        inventory.append({"path": INDEX, "size": len(index), "sha256": hashlib.sha256(index).hexdigest()})
        withdrawals = list(Withdrawal.objects.filter(participant__site=site)
                           .select_related("participant", "recorded_by")
                           .order_by("participant__number", "at", "pk"))
        if withdrawals:
            table = _withdrawals_csv(withdrawals, local)
            moment = max(w.recorded_at for w in withdrawals)
            package.writestr(_zip_info(WITHDRAWALS, moment), table)
            inventory.append({"path": WITHDRAWALS, "size": len(table), "sha256": hashlib.sha256(table).hexdigest()})
        manifest = _manifest(site, records, inventory, problems, as_of=as_of, language=language)
        package.writestr(_zip_info(MANIFEST, as_of), manifest)
        inventory.append({"path": MANIFEST, "size": len(manifest), "sha256": hashlib.sha256(manifest).hexdigest()})
        sums = "".join(f"{item['sha256']}  {item['path']}\n" for item in inventory).encode("utf-8")
        package.writestr(_zip_info(SUMS, as_of), sums)

    handle.flush()
    handle.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    handle.seek(0)
    return ExportResult(records=len(records), participants=len({r.participant_id for r in records}),
                        sha256=digest.hexdigest(), size=size, language=language, problems=tuple(problems))


def _index_csv(rows: list[dict[str, str]]) -> bytes:
    labels = _column_labels()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(labels[name]) for name in COLUMNS])
    for row in rows:
        writer.writerow([csv_cell(row[name]) for name in COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def withdrawal_rows(withdrawals, local) -> list[dict[str, str]]:
    """One row per scope withdrawn (shared by the zip and the participants list's exports)."""
    return [{
        "participant": w.participant.code,
        "scope": w.get_scope_display(),
        "from_utc": _iso(w.at, datetime.UTC),
        "from_local": _iso(w.at, local),
        "implied_by": w.get_implied_by_display() if w.implied_by else "",
        "reason": w.reason,
        "recorded_by_user": w.recorded_by.get_username(),
        "recorded_at_utc": _iso(w.recorded_at, datetime.UTC),
        "data_already_collected": (pgettext("withdrawal export", "objection recorded: no longer used")
                                   if w.participant.objects_to_data_use
                                   else pgettext("withdrawal export", "kept and used (EU CTR art. 28(3))")),
    } for w in withdrawals]


def withdrawal_labels() -> dict[str, str]:
    zone = timezone.get_default_timezone_name()
    return {
        "participant": pgettext("consent export column", "Participant"),
        "scope": pgettext("consent export column", "Withdrawn from"),
        "from_utc": pgettext("consent export column", "From (UTC)"),
        "from_local": pgettext("consent export column", "From (%(zone)s)") % {"zone": zone},
        "implied_by": pgettext("consent export column", "Stopped with the withdrawal from"),
        "reason": pgettext("consent export column", "Reason or how it was expressed"),
        "recorded_by_user": pgettext("consent export column", "Recorded by (user name)"),
        "recorded_at_utc": pgettext("consent export column", "Recorded at (UTC)"),
        "data_already_collected": pgettext("consent export column", "Data already collected"),
    }


def _withdrawals_csv(withdrawals, local) -> bytes:
    labels = withdrawal_labels()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(labels[name]) for name in WITHDRAWAL_COLUMNS])
    for row in withdrawal_rows(withdrawals, local):
        writer.writerow([csv_cell(row[name]) for name in WITHDRAWAL_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _manifest(site, records, inventory, problems, *, as_of, language) -> bytes:
    trial = site.trial
    data = {
        "format": FORMAT,
        "trial": {"nct_number": trial.nct_number, "acronym": trial.acronym, "sponsor": trial.sponsor_name},
        "site": {"code": site.code, "name": site.name},
        "records": len(records),
        "participants": len({record.participant_id for record in records}),
        "latest_recorded_at": _iso(as_of, datetime.UTC) if records else None,
        "language": language,
        "file_check": {
            "method": "SHA-256 of each stored PDF, compared while copying with the SHA-256 recorded at signing",
            "problems": [problem.as_dict() for problem in problems],
        },
        "files": inventory,
    }
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


# --- Exports, audited ---------------------------------------------------------------------------------------------

def _audit(site, result: ExportResult, *, user, destination: str) -> None:
    audit.record(actor=user, action=EXPORTED, obj=site, object_repr=f"{site.trial.nct_number} {site.code}",
                 changes={"records": [None, result.records], "participants": [None, result.participants],
                          "sha256": [None, result.sha256], "size": [None, result.size],
                          "file_problems": [None, len(result.problems)], "language": [None, result.language],
                          "destination": [None, destination]})


def audit_refusal(site, refused: ExportRefused, *, user, destination: str) -> None:
    audit.record(actor=user, action=REFUSED, obj=site, object_repr=f"{site.trial.nct_number} {site.code}",
                 changes={"file_problems": [None, [problem.as_dict() for problem in refused.problems]],
                          "destination": [None, destination]})


def export_to_path(site, out_path, *, user=None, strict: bool = True, language: str | None = None) -> ExportResult:
    """Write the export at `out_path`, atomically (a temporary file beside it, renamed once complete: a failure or a
    refusal leaves nothing behind). Audited, the refusal too."""
    out_path = Path(out_path)
    descriptor, temporary = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "w+b") as handle:
            result = write_zip(site, handle, strict=strict, language=language)
        os.replace(temporary, out_path)  # readable by its owner only (mkstemp's 0600): it holds personal data
    except ExportRefused as refused:
        Path(temporary).unlink(missing_ok=True)
        audit_refusal(site, refused, user=user, destination=out_path.name)
        raise
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _audit(site, result, user=user, destination=out_path.name)
    return result


def export_to_temporary_file(site, *, user, language: str | None = None):
    """(open temporary file positioned at its start, result) for a download; the file has no name on disk and
    vanishes once closed. Refusals are audited and raised. Audited."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115  # handed to the response, which closes it
    try:
        result = write_zip(site, handle, strict=True, language=language)
    except ExportRefused as refused:
        handle.close()
        audit_refusal(site, refused, user=user, destination="download")
        raise
    except BaseException:
        handle.close()
        raise
    _audit(site, result, user=user, destination="download")
    return handle, result


def download_name(site) -> str:
    return f"{site.trial.nct_number}_{_segment(site.code)}_consentements.zip"
