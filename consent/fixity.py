"""Fixity of the archive: every stored file read back and checked against its record (21 CFR 11.10(c), EU GMP
Annex 11 §7, EU CTR art. 58: records kept readable and unaltered for their whole retention period).

What is walked, and what each record says about its file:
- TMF documents (`regulatory.TmfDocument.file`, SHA-256 `sha256` taken when filed);
- signed masters of consent forms (`consent.SignedMaster.file`, SHA-256 `sha256` of the signed file);
- signed consent records (`consent.ConsentRecord.pdf`, SHA-256 `pdf_sha256`);
- the Wagtail documents (protocol files, correspondence attachments: `wagtaildocs.Document.file`, with the size
  `file_size` and the SHA-1 `file_hash` Wagtail records), when no trial or site is chosen: Wagtail keeps no link
  from a document to a trial.
TMF packages (`TmfExportJob.file`) are regenerated on demand and are not records: left out.

For each file: present? same size (where a size is recorded)? same digest? And for each signed PDF (masters,
consent records, and any TMF document carrying a signature) the project's one verification,
`consent.verification.verify_pdf`, which also hashes the file (its SHA-256 is taken from there, not twice).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from consent.revocation import revocation_data_shared
from consent.verification import verify_pdf

CSV_COLUMNS = ["kind", "id", "trial", "site", "file", "problem", "detail"]


@dataclass(frozen=True)
class StoredFile:
    kind: str             # "tmf", "master", "consent", "document"
    object_id: int
    trial: str            # NCT number, "" when unknown
    site: str             # site code, "" when none
    file: object          # a Django FieldFile
    sha256: str = ""      # as recorded ("" when the record holds none)
    sha1: str = ""        # Wagtail's documents
    size: int | None = None
    signed: bool | None = None  # True: must carry a valid signature; None: validated when it carries one


@dataclass(frozen=True)
class Problem:
    kind: str
    object_id: int
    trial: str
    site: str
    file: str
    problem: str          # "missing", "unreadable", "size", "altered", "signature"
    detail: str = ""

    def row(self) -> list:
        return [self.kind, self.object_id, self.trial, self.site, self.file, self.problem, self.detail]


@dataclass
class FixityResult:
    started_at: object = None
    finished_at: object = None
    checked: Counter = field(default_factory=Counter)     # kind -> files checked
    signatures: int = 0                                   # signatures validated
    problems: list[Problem] = field(default_factory=list)
    scope: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        files = sum(self.checked.values())
        kinds = ", ".join(f"{_(KIND_LABELS[kind])} {count}" for kind, count in sorted(self.checked.items()))
        text = _("%(files)s files checked (%(kinds)s), %(signatures)s signatures validated: ") % {
            "files": files, "kinds": kinds or "-", "signatures": self.signatures}
        if self.ok:
            return text + _("no problem.")
        counts = Counter(problem.problem for problem in self.problems)
        return text + ", ".join(f"{_(PROBLEM_LABELS[name])} {count}" for name, count in sorted(counts.items()))

    def csv_text(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(problem.row() for problem in self.problems)
        return buffer.getvalue()


KIND_LABELS = {"tmf": gettext_noop("TMF documents"), "master": gettext_noop("signed masters"),
               "consent": gettext_noop("consent records"), "document": gettext_noop("Wagtail documents")}
PROBLEM_LABELS = {"missing": gettext_noop("missing"), "unreadable": gettext_noop("unreadable"),
                  "size": gettext_noop("size differs"), "altered": gettext_noop("altered"),
                  "signature": gettext_noop("signature invalid")}


def stored_files(*, trial=None, site=None) -> Iterator[StoredFile]:
    """Every stored file of the scope (a trial, a site of it, or everything), with what its record says."""
    from consent.models import ConsentRecord, SignedMaster
    from regulatory.models import TmfDocument

    documents = TmfDocument.objects.exclude(file="").select_related("trial", "site").order_by("pk")
    masters = SignedMaster.objects.select_related("site__trial").prefetch_related("versions__trial").order_by("pk")
    records = ConsentRecord.objects.select_related("participant__site__trial").order_by("pk")
    if trial is not None:
        documents = documents.filter(trial=trial)
        records = records.filter(participant__site__trial=trial)
        masters = masters.filter(versions__trial=trial).distinct()
    if site is not None:
        documents = documents.filter(site=site)
        records = records.filter(participant__site=site)
        masters = masters.filter(site=site)
    for document in documents.iterator(chunk_size=500):
        yield StoredFile("tmf", document.pk, document.trial.nct_number, document.site.code if document.site else "",
                         document.file, sha256=document.sha256)
    for master in masters:
        versions = list(master.versions.all())
        nct = master.site.trial.nct_number if master.site else next(
            (v.trial.nct_number for v in versions if v.trial is not None), "")
        yield StoredFile("master", master.pk, nct, master.site.code if master.site else "", master.file,
                         sha256=master.sha256, signed=True)
    for record in records.iterator(chunk_size=500):
        yield StoredFile("consent", record.pk, record.participant.site.trial.nct_number,
                         record.participant.site.code, record.pdf, sha256=record.pdf_sha256, signed=True)
    if trial is None and site is None:
        from wagtail.documents import get_document_model

        for document in get_document_model().objects.order_by("pk").iterator(chunk_size=500):
            yield StoredFile("document", document.pk, "", "", document.file, sha1=document.file_hash or "",
                             size=document.file_size)


def count_files(*, trial=None, site=None) -> int:
    return sum(1 for _item in stored_files(trial=trial, site=site))


def check_file(item: StoredFile, result: FixityResult) -> None:
    """Check one file; its problems are added to `result`."""
    name = item.file.name or ""

    def problem(code: str, detail: str = "") -> None:
        result.problems.append(Problem(item.kind, item.object_id, item.trial, item.site, name, code, detail))

    result.checked[item.kind] += 1
    try:
        with item.file.storage.open(name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        problem("missing", _("The file is not in the storage."))
        return
    except OSError as error:
        problem("unreadable", str(error.strerror or error))
        return
    if item.size is not None and item.size != len(data):
        problem("size", _("%(found)s bytes, %(recorded)s recorded") % {"found": len(data), "recorded": item.size})
    report = None
    if item.signed or (item.signed is None and data.startswith(b"%PDF-") and b"/ByteRange" in data):
        report = verify_pdf(data)
        result.signatures += 1
    digest = report.file_sha256 if report is not None and report.file_sha256 else hashlib.sha256(data).hexdigest()
    if item.sha256 and digest != item.sha256:
        problem("altered", _("SHA-256 %(found)s, %(recorded)s recorded") % {"found": digest, "recorded": item.sha256})
    if item.sha1 and hashlib.sha1(data, usedforsecurity=False).hexdigest() != item.sha1:
        problem("altered", _("SHA-1 differs from the one recorded"))
    if report is not None and not report.valid:
        problem("signature", " ".join(report.problems) or _("The signature is not valid."))


def verify_archive(*, trial=None, site=None, progress: Callable[[int, int], None] | None = None) -> FixityResult:
    """Walk and check every stored file of the scope. `progress(done, total)` is called after each file."""
    result = FixityResult(started_at=timezone.now())
    result.scope = site.code if site is not None else (trial.nct_number if trial is not None else "")
    total = count_files(trial=trial, site=site) if progress else 0
    with revocation_data_shared():  # each signer's status fetched once for the walk, not once per file
        for done, item in enumerate(stored_files(trial=trial, site=site), start=1):
            check_file(item, result)
            if progress:
                progress(done, total)
    result.finished_at = timezone.now()
    return result
