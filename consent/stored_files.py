"""Every stored file of TrialDocs, with the hash recorded for it: what `verify_files`, `sweep_orphan_files`,
`migrate_media_to_store`, `backup` and `restore` work on.

One list (`KINDS`) names each model that keeps a file, its field and the column holding the file's hash; the files
themselves are reached through Django's storage API only (the local disk or the object store, `cms/storage.py`).
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.core.files.storage import default_storage

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Kind:
    model: str  # app_label.ModelName
    field: str
    hash_field: str | None  # the column holding the file's digest (hex), recorded when the file was written
    algorithm: str = "sha256"
    signed: bool = False  # a PDF TrialDocs signed: its signature must verify

    @property
    def label(self) -> str:
        return f"{self.model}.{self.field}"


KINDS = (
    Kind("consent.ConsentRecord", "pdf", "pdf_sha256", signed=True),  # signed consents
    Kind("consent.SignedMaster", "file", "sha256", signed=True),  # signed masters of consent forms
    Kind("regulatory.TmfDocument", "file", "sha256"),  # TMF documents filed by hand or imported
    Kind("regulatory.TmfExportJob", "file", "sha256"),  # TMF export packages
    Kind("regulatory.DelegationLogPrint", "file", "sha256", signed=True),  # signed delegation logs
    Kind("regulatory.FixityRun", "report", None),  # fixity check reports (CSV)
    Kind("wagtaildocs.Document", "file", "file_hash", "sha1"),  # correspondence attachments, protocol documents
    Kind("wagtailimages.Image", "file", "file_hash", "sha1"),
    Kind("wagtailimages.Rendition", "file", None),
)


@dataclass(frozen=True)
class Reference:
    kind: Kind
    pk: object
    name: str
    expected: str  # hex digest, "" when none was recorded

    def __str__(self) -> str:
        return f"{self.kind.label} #{self.pk} ({self.name})"


def references(using: str = "default") -> Iterator[Reference]:
    """Every stored file a record points at."""
    for kind in KINDS:
        try:
            model = apps.get_model(kind.model)
        except LookupError:
            continue
        fields = ["pk", kind.field] + ([kind.hash_field] if kind.hash_field else [])
        rows = (model._default_manager.using(using).exclude(**{kind.field: ""})
                .exclude(**{f"{kind.field}__isnull": True}))
        for row in rows.values_list(*fields).order_by("pk").iterator():
            yield Reference(kind, row[0], row[1], (row[2] or "").lower() if kind.hash_field else "")


def referenced_names(using: str = "default") -> set[str]:
    return {reference.name for reference in references(using)}


def digest_of(handle, algorithm: str = "sha256") -> tuple[str, int]:
    digest, size = hashlib.new(algorithm), 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def stored_digest(name: str, algorithm: str = "sha256", storage=None) -> tuple[str, int] | None:
    """(hex digest, size) of a stored file, None when it is missing. An unreachable store raises."""
    storage = storage or default_storage
    try:
        with storage.open(name, "rb") as handle:
            return digest_of(handle, algorithm)
    except FileNotFoundError:
        return None


def all_names(storage=None, folder: str = "") -> Iterator[str]:
    """Every file of the storage (the media folder, or the bucket under its prefix), recursively."""
    storage = storage or default_storage
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from all_names(storage, f"{folder}/{sub}" if folder else sub)


@dataclass
class FileCheck:
    checked: int = 0
    signatures: int = 0
    problems: list[str] = None

    def __post_init__(self):
        self.problems = self.problems or []


def check_files(*, storage=None, signatures: bool = True, using: str = "default") -> FileCheck:
    """Every record's file present with the hash recorded for it, and (with `signatures`) every signed PDF's
    signature valid."""
    from .revocation import revocation_data_shared
    from .verification import verify_pdf

    storage = storage or default_storage
    result = FileCheck()
    with revocation_data_shared():  # each signer's status fetched once for the walk, not once per file
        _check_each(storage, using, signatures, result, verify_pdf)
    return result


def _check_each(storage, using, signatures, result, verify_pdf) -> None:
    for reference in references(using):
        result.checked += 1
        try:
            with storage.open(reference.name, "rb") as handle:
                data = handle.read() if reference.kind.signed and signatures else None
                digest = hashlib.new(reference.kind.algorithm, data).hexdigest() if data is not None else \
                    digest_of(handle, reference.kind.algorithm)[0]
        except FileNotFoundError:
            result.problems.append(f"{reference}: missing")
            continue
        if reference.expected and digest != reference.expected:
            result.problems.append(f"{reference}: {reference.kind.algorithm} {digest} instead of the recorded "
                                   f"{reference.expected}")
            continue
        if data is not None:
            result.signatures += 1
            report = verify_pdf(data)
            if not report.valid:
                result.problems.append(f"{reference}: signature not valid ({'; '.join(report.problems)})")
