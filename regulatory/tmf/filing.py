"""Automatic filing: every document the system holds appears in the trial's TMF under its Reference Model artifact.

The engine below knows no model of its own. Each kind of filed document is one `FiledSource`, registered by the
app that owns the model from its AppConfig.ready() (`register`): regulatory's protocol versions, letters and
site acknowledgements (`regulatory/tmf/sources.py`), consent's form versions (`consent/tmf_sources.py`). A source
says which objects of a trial it files, the `Filing`s one object gives (artifact, level, status, version), which
other objects a change of it can supersede, how the bytes an inspector downloads are produced, and which saves
refile it (a page source is also refiled when published or unpublished: `receivers.file_page`).

`refile` turns the filings of one object into `TmfDocument` rows, idempotently. A row is never deleted: a filing
its source no longer gives (a letter unpublished) is marked withdrawn. The artifact numbers below were checked
against the v3.3.1 spreadsheet (regulatory/tests/test_filing.py reads them back from the taxonomy, which
regulatory/tests/test_tmf_taxonomy.py checks against the spreadsheet).

`content(document)` gives the bytes an inspector downloads: the uploaded file, or what the document's source
produces (a file attached to the source, a consent form as printed, a record sheet).
"""

from __future__ import annotations

import json
import mimetypes
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import unescape

from django.db import models, transaction
from django.db.models.signals import post_save
from django.utils.html import strip_tags
from django.utils.text import get_valid_filename

from regulatory import tmf
from regulatory.models import InvestigationalSite, QcStatus, TmfDocument, TmfSettings, TrialPage
from regulatory.models.correspondence import Correspondent, ItemType

# Artifact numbers (TMF Reference Model v3.3.1).
PROTOCOL = "02.01.02"
PROTOCOL_AMENDMENT = "02.01.04"
INFORMED_CONSENT_FORM = "02.02.03"
SUBJECT_INFORMATION_SHEET = "02.02.04"
REGULATORY_SUBMISSION = "03.01.01"
REGULATORY_DECISION = "03.01.02"
REGULATORY_NOTIFICATION = "03.03.01"
REGULATORY_TERMINATION = "03.03.03"
REGULATORY_COMMUNICATIONS = "03.04.01"
IEC_SUBMISSION = "04.01.01"
IEC_DECISION = "04.01.02"
IEC_SAFETY_NOTIFICATION = "04.03.01"
IEC_TERMINATION = "04.03.03"
IEC_COMMUNICATIONS = "04.04.01"
PROTOCOL_SIGNATURE_PAGE = "05.02.02"
AMENDMENT_SIGNATURE_PAGE = "05.02.03"
SITE_SIGNATURE_SHEET = "05.02.18"  # "Delegation of Authority Log"
SITE_EVIDENCE_OF_TRAINING = "05.03.03"
MONITORING_VISIT_REPORT = "05.04.03"
MONITORING_FOLLOW_UP = "05.04.12"

# The CPP and the ANSM are French national bodies: their letters are filed at country level, FR.
NATIONAL_COUNTRY = "FR"

SUBMISSIONS = {ItemType.INITIAL_SUBMISSION, ItemType.MODIFICATION_SUBMISSION}
DECISIONS = {ItemType.FAVOURABLE_OPINION, ItemType.UNFAVOURABLE_OPINION}
CORRESPONDENCE_ARTIFACTS = {
    # (correspondent, item type) → artifact; any other type is "relevant communications".
    Correspondent.ETHICS_COMMITTEE: {
        **dict.fromkeys(SUBMISSIONS, IEC_SUBMISSION), **dict.fromkeys(DECISIONS, IEC_DECISION),
        ItemType.ANNUAL_SAFETY_REPORT: IEC_SAFETY_NOTIFICATION, ItemType.END_OF_TRIAL: IEC_TERMINATION,
        None: IEC_COMMUNICATIONS,
    },
    Correspondent.AUTHORITY: {
        **dict.fromkeys(SUBMISSIONS, REGULATORY_SUBMISSION), **dict.fromkeys(DECISIONS, REGULATORY_DECISION),
        ItemType.ANNUAL_SAFETY_REPORT: REGULATORY_NOTIFICATION, ItemType.NOTIFICATION: REGULATORY_NOTIFICATION,
        ItemType.END_OF_TRIAL: REGULATORY_TERMINATION, None: REGULATORY_COMMUNICATIONS,
    },
}

Status = TmfDocument.Status


@dataclass
class Filing:
    """What one source gives to the TMF: one document at one place."""

    artifact: str
    level: str
    title: str
    document_date: object
    version: str = ""
    status: str = Status.CURRENT
    series: str = ""
    site: InvestigationalSite | None = None
    country: str = ""
    part: str = ""
    search_text: str = ""
    extra: dict = field(default_factory=dict)


def _texts(value, *, rich: bool = False) -> list[str]:
    """Every string inside a StreamField's raw data as plain text: rich text (paragraph blocks) without its markup
    and entities, any other string as typed (a "<" in a heading is text, not a tag)."""
    if isinstance(value, str):
        return [unescape(strip_tags(value))] if rich else [value]
    if isinstance(value, dict):
        rich = value.get("type") == "paragraph"
        return [text for key, item in value.items() if key not in ("type", "id") for text in _texts(item, rich=rich)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return []


def stream_text(stream) -> str:
    raw = stream.get_prep_value() if hasattr(stream, "get_prep_value") else stream
    if isinstance(raw, str):
        raw = json.loads(raw or "[]")
    return " ".join(t.strip() for t in _texts(raw) if t.strip())


def joined(*parts) -> str:
    return "\n".join(str(p) for p in parts if p)


# --- Content --------------------------------------------------------------------------------------------------

@dataclass
class Content:
    data: bytes
    filename: str
    content_type: str


def file_content(field_file, filename: str) -> Content:
    """The bytes of a stored file, under `filename`, typed by its extension."""
    with field_file.open("rb") as handle:
        data = handle.read()
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Content(data, filename, content_type)


def pdf_content(data: bytes, base: str) -> Content:
    return Content(data, base + ".pdf", "application/pdf")


def extension_of(name: str) -> str:
    """".docx" for "a/b.DOCX"; "" for a name without one."""
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


# --- Sources --------------------------------------------------------------------------------------------------

class FiledSource(ABC):
    """One kind of document filed in the TMF automatically, described by the app that owns `model`.

    `refile_on_publish`: the objects are pages, refiled (with `affected`) when published or unpublished.
    `refile_on_save`: (model label, instance → source object): after such a save, that object is refiled.
    `pdf_preview`: the document page shows the content in a frame (it is a PDF whatever the source holds).
    """

    model: type[models.Model]
    artifacts: tuple[str, ...] = ()
    refile_on_publish: bool = False
    refile_on_save: tuple[tuple[str, Callable], ...] = ()
    pdf_preview: bool = True

    @property
    def label(self) -> str:
        """The `source_type` of its TMF rows."""
        return self.model._meta.label_lower

    @abstractmethod
    def objects(self, trial: TrialPage) -> Iterable:
        """Every object of the trial this source files (those it currently gives nothing for included)."""

    @abstractmethod
    def filings(self, obj) -> list[Filing]:
        """What `obj` gives to the TMF now; [] when it gives nothing (a draft)."""

    @abstractmethod
    def content(self, obj, document: TmfDocument, base: str) -> Content:
        """The bytes of `document`, filed from `obj`; `base` is the file name without extension."""

    def trial_of(self, obj) -> TrialPage:
        """The trial `obj` is filed in (a page: the trial above it; raises TrialPage.DoesNotExist if none)."""
        return TrialPage.objects.ancestor_of(obj).get()

    def affected(self, obj) -> list:
        """The objects whose filing a change of `obj` can alter: itself, and those it can supersede."""
        return [obj]


_SOURCES: dict[str, FiledSource] = {}


def register(source: FiledSource) -> FiledSource:
    """File the objects of `source.model` in the TMF (again registering a model replaces its source)."""
    unregister(source.label)
    _SOURCES[source.label] = source
    for sender, to_object in source.refile_on_save:
        post_save.connect(_refiler(to_object), sender=sender, weak=False,
                          dispatch_uid=f"trialdocs_tmf_{source.label}_{sender.lower()}")
    return source


def unregister(label: str) -> None:
    source = _SOURCES.pop(label, None)
    for sender, _to_object in getattr(source, "refile_on_save", ()):
        post_save.disconnect(sender=sender, dispatch_uid=f"trialdocs_tmf_{label}_{sender.lower()}")


def _refiler(to_object: Callable):
    def refile_after_save(sender, instance, raw=False, **kwargs):
        if not raw:  # loading a fixture: the rows come with it
            refile_for(to_object(instance))  # and what it can supersede (a version taking effect at a site)

    return refile_after_save


def sources() -> list[FiledSource]:
    return list(_SOURCES.values())


def source_of(obj) -> FiledSource | None:
    """The source filing `obj` (looked up along its class's ancestry), or None when it is not filed."""
    for klass in type(obj).__mro__:
        meta = getattr(klass, "_meta", None)
        if meta is not None and not meta.abstract and meta.label_lower in _SOURCES:
            return _SOURCES[meta.label_lower]
    return None


def automatic_artifacts() -> list[str]:
    """Every artifact number the registered sources file to."""
    return sorted({number for source in _SOURCES.values() for number in source.artifacts})


def filings_for(obj) -> list[Filing]:
    source = source_of(obj)
    if source is None:
        raise TypeError(f"{type(obj).__name__} is not filed in the TMF")
    return source.filings(obj)


# --- Filing ---------------------------------------------------------------------------------------------------

FIELDS = ("level", "title", "document_date", "version", "status", "series", "country", "search_text")


@transaction.atomic
def refile(obj) -> list[TmfDocument]:
    """Bring the TMF rows of one source object in line with what it gives now."""
    source = source_of(obj)
    if source is None:
        raise TypeError(f"{type(obj).__name__} is not filed in the TMF")
    source_type, source_id = source.label, str(obj.pk)
    existing = {(d.source_part, d.artifact.number, d.site_id): d for d in TmfDocument.objects.filter(
        source_type=source_type, source_id=source_id).select_related("artifact")}
    trial = None
    qc_status = None
    kept = []
    for filing in source.filings(obj):
        key = (filing.part, filing.artifact, filing.site.pk if filing.site else None)
        document = existing.pop(key, None)
        values = {name: getattr(filing, name) for name in FIELDS}
        values["title"] = values["title"][:255]
        values["version"] = values["version"][:20]
        if document is None:
            trial = trial or source.trial_of(obj)
            if qc_status is None:  # the sponsor's choice (TmfSettings.qc_automatic): QC of automatic filings
                qc_status = (QcStatus.PENDING if TmfSettings.objects.filter(trial=trial, qc_automatic=True).exists()
                             else QcStatus.APPROVED)
            document = TmfDocument.objects.create(
                trial=trial, artifact=tmf.artifact(filing.artifact), site=filing.site, source_type=source_type,
                source_id=source_id, source_part=filing.part, qc_status=qc_status, **values)
        elif any(getattr(document, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(document, name, value)
            document.save()
        kept.append(document)
    for document in existing.values():  # the source no longer gives it: stays in the TMF, marked
        if document.status != Status.WITHDRAWN:
            document.status = Status.WITHDRAWN
            document.save(update_fields=["status", "updated_at"])
    return kept


@transaction.atomic
def refile_trial(trial: TrialPage) -> int:
    """Refile every source object of the trial; the number of TMF rows they give."""
    return sum(len(refile(obj)) for source in sources() for obj in source.objects(trial))


def refile_for(obj) -> None:
    """After a source object changed: refile it and the objects whose status it can change (other versions of the
    same document); an unpublished page is refiled too, so its rows are marked withdrawn."""
    source = source_of(obj)
    if source is None:
        raise TypeError(f"{type(obj).__name__} is not filed in the TMF")
    try:
        affected = source.affected(obj)
    except TrialPage.DoesNotExist:
        return
    with transaction.atomic():
        for each in affected:
            refile(each)


def _safe_name(text: str) -> str:
    return get_valid_filename(text)[:120] or "document"


def source_object(document: TmfDocument):
    """The object a document was filed from (KeyError when its kind is no longer filed, DoesNotExist when gone)."""
    obj = _SOURCES[document.source_type].model._default_manager.get(pk=document.source_id)
    return obj.specific if hasattr(obj, "specific") else obj


def content(document: TmfDocument) -> Content:
    """The bytes of a filed document, with a file name that carries no participant identity."""
    base = _safe_name(f"{document.trial.nct_number}-{document.artifact.number}-{document.place}-{document.title}"
                      + (f"-v{document.version}" if document.version else ""))
    if document.is_uploaded:
        return file_content(document.file, base + extension_of(document.file_name))
    return _SOURCES[document.source_type].content(source_object(document), document, base)


def shows_as_pdf(document: TmfDocument) -> bool:
    """Whether the document page may show the content in a frame (it is a PDF)."""
    if document.is_uploaded:
        return document.file_name.lower().endswith(".pdf")
    source = _SOURCES.get(document.source_type)
    return source is not None and source.pdf_preview
