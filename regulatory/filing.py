"""Automatic filing: every document the system holds appears in the trial's TMF under its Reference Model artifact.

Each source object (a published protocol version, an approved consent-form version, a published letter and its
attachments, a site acknowledgement) gives one or more `Filing`s; `refile` turns them into `TmfDocument` rows,
idempotently. A row is never deleted: a filing its source no longer gives (a letter unpublished) is marked
withdrawn. The artifact numbers below were checked against the v3.3.1 spreadsheet (tests/test_filing.py reads
them back from the taxonomy, which tests/test_tmf_reference_model.py checks against the spreadsheet).

`content(document)` gives the bytes an inspector downloads: the uploaded file, the Word/PDF file attached to the
source, or a PDF rendered from the source (consent forms as printed, a record sheet for letters without a file
and for acknowledgements).
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from html import unescape

from django.db import transaction
from django.utils import timezone
from django.utils.html import strip_tags

from . import tmf
from .models import (
    CorrespondenceAttachment,
    CorrespondenceItemPage,
    InvestigationalSite,
    ProtocolVersionPage,
    SiteAcknowledgement,
    TmfDocument,
    TmfLevel,
    TrialPage,
)
from .models.correspondence import Correspondent, ItemType

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
AUTOMATIC_ARTIFACTS = sorted({
    PROTOCOL, PROTOCOL_AMENDMENT, INFORMED_CONSENT_FORM, SUBJECT_INFORMATION_SHEET, PROTOCOL_SIGNATURE_PAGE,
    AMENDMENT_SIGNATURE_PAGE, *(n for table in CORRESPONDENCE_ARTIFACTS.values() for n in table.values()),
})

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


def _joined(*parts) -> str:
    return "\n".join(str(p) for p in parts if p)


# --- Sources -------------------------------------------------------------------------------------------------

def _protocol_filings(version: ProtocolVersionPage) -> list[Filing]:
    if not version.live:
        return []
    trial = TrialPage.objects.ancestor_of(version).get()
    newer = [v for v in ProtocolVersionPage.objects.live().descendant_of(trial)
             if v.version_key > version.version_key]
    return [Filing(
        artifact=PROTOCOL_AMENDMENT if version.is_amendment else PROTOCOL, level=TmfLevel.TRIAL,
        title=version.title, document_date=version.version_date, version=version.version_number,
        status=Status.SUPERSEDED if newer else Status.CURRENT, series="protocol",
        search_text=_joined(version.title, version.summary_of_changes, version.rationale,
                            version.affected_sections, version.non_substantial_justification,
                            stream_text(version.body)),
    )]


def _consent_filings(version) -> list[Filing]:
    from consent import selectors as consent_selectors

    state = consent_selectors.status(version)
    if state in ("draft", "submitted"):
        return []  # not approved text: stays in the sponsor's workflow, not in the TMF
    trial_status = {"withdrawn": Status.WITHDRAWN, "superseded": Status.SUPERSEDED}.get(state, Status.CURRENT)
    series = f"consent-{version.kind}-{version.language}"
    text = _joined(version.title, stream_text(version.information), stream_text(version.consent))
    common = {"title": version.title, "document_date": version.version_date, "version": version.version_number,
                  "series": series, "search_text": text}
    filings = [Filing(artifact=INFORMED_CONSENT_FORM, level=TmfLevel.TRIAL, status=trial_status, **common)]
    if version.information:
        filings.append(Filing(artifact=SUBJECT_INFORMATION_SHEET, level=TmfLevel.TRIAL, status=trial_status,
                              part="information", **common))
    now = timezone.now()
    periods = {}
    for period in version.effectivities.select_related("site").order_by("effective_from"):
        periods.setdefault(period.site, []).append(period)
    for site, site_periods in periods.items():
        current = any(p.effective_from <= now and (p.effective_until is None or p.effective_until > now)
                      for p in site_periods)
        ended = all(p.effective_until is not None and p.effective_until <= now for p in site_periods)
        site_status = (Status.WITHDRAWN if state == "withdrawn" else Status.CURRENT if current
                       else Status.SUPERSEDED if ended else Status.CURRENT)
        filings.append(Filing(artifact=INFORMED_CONSENT_FORM, level=TmfLevel.SITE, site=site, country=site.country,
                              status=site_status, **common))
    return filings


def _correspondence_filings(item: CorrespondenceItemPage) -> list[Filing]:
    if not item.live:
        return []
    submission = item.get_parent().specific
    table = CORRESPONDENCE_ARTIFACTS[submission.correspondent]
    artifact = table.get(item.item_type, table[None])
    common = {"artifact": artifact, "level": TmfLevel.COUNTRY, "country": NATIONAL_COUNTRY,
                  "document_date": item.date, "version": item.reference, "series": f"letter-{item.pk}"}
    filings = [Filing(title=item.title, search_text=_joined(
        item.title, item.reference, item.correspondent, submission.title, submission.correspondent_name,
        strip_tags(item.body)), **common)]
    for attachment in item.attachments.select_related("document"):
        label = attachment.label or attachment.document.title
        filings.append(Filing(title=f"{item.title} — {label}", part=f"attachment-{attachment.pk}",
                              search_text=_joined(item.title, label, attachment.document.title), **common))
    return filings


def _acknowledgement_filings(ack: SiteAcknowledgement) -> list[Filing]:
    activation = ack.activation
    version, site = activation.version, activation.site
    return [Filing(
        artifact=AMENDMENT_SIGNATURE_PAGE if version.is_amendment else PROTOCOL_SIGNATURE_PAGE,
        level=TmfLevel.SITE, site=site, country=site.country,
        title=f"Prise de connaissance — {version.title} — {site.code}",
        document_date=timezone.localdate(ack.acknowledged_at), version=version.version_number,
        series=f"acknowledgement-{site.code}-{version.pk}",
        search_text=_joined(version.title, site.code, site.name, ack.acknowledged_by.get_full_name()),
    )]


def _consent_version_model():
    from consent.models import ConsentFormVersionPage

    return ConsentFormVersionPage


def _sources(trial: TrialPage):
    yield from ProtocolVersionPage.objects.descendant_of(trial).live().specific()
    yield from _consent_version_model().objects.descendant_of(trial).live().specific()
    yield from CorrespondenceItemPage.objects.descendant_of(trial).live().specific()
    yield from SiteAcknowledgement.objects.filter(activation__site__trial=trial).select_related(
        "activation__version", "activation__site", "acknowledged_by")


def filings_for(obj) -> list[Filing]:
    if isinstance(obj, ProtocolVersionPage):
        return _protocol_filings(obj)
    if isinstance(obj, CorrespondenceItemPage):
        return _correspondence_filings(obj)
    if isinstance(obj, SiteAcknowledgement):
        return _acknowledgement_filings(obj)
    if isinstance(obj, _consent_version_model()):
        return _consent_filings(obj)
    raise TypeError(f"{type(obj).__name__} is not filed in the TMF")


def _trial_of(obj) -> TrialPage:
    if isinstance(obj, SiteAcknowledgement):
        return obj.activation.site.trial
    return TrialPage.objects.ancestor_of(obj).get()


# --- Filing ---------------------------------------------------------------------------------------------------

FIELDS = ("level", "title", "document_date", "version", "status", "series", "country", "search_text")


@transaction.atomic
def refile(obj) -> list[TmfDocument]:
    """Bring the TMF rows of one source in line with what it gives now."""
    source_type, source_id = obj._meta.label_lower, str(obj.pk)
    existing = {(d.source_part, d.artifact.number, d.site_id): d for d in TmfDocument.objects.filter(
        source_type=source_type, source_id=source_id).select_related("artifact")}
    trial = None
    kept = []
    for filing in filings_for(obj):
        key = (filing.part, filing.artifact, filing.site.pk if filing.site else None)
        document = existing.pop(key, None)
        values = {name: getattr(filing, name) for name in FIELDS}
        values["title"] = values["title"][:255]
        values["version"] = values["version"][:20]
        if document is None:
            trial = trial or _trial_of(obj)
            document = TmfDocument.objects.create(
                trial=trial, artifact=tmf.artifact(filing.artifact), site=filing.site, source_type=source_type,
                source_id=source_id, source_part=filing.part, **values)
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
    """Refile every source of the trial; the number of TMF rows its sources give."""
    return sum(len(refile(source)) for source in _sources(trial))


def _affected(obj) -> list:
    """The sources whose filing a change of `obj` can alter: itself, and the versions it can supersede."""
    if isinstance(obj, ProtocolVersionPage):
        trial = _trial_of(obj)
        return [obj, *ProtocolVersionPage.objects.descendant_of(trial).live().exclude(pk=obj.pk).specific()]
    if isinstance(obj, _consent_version_model()):
        trial = _trial_of(obj)
        return [obj, *_consent_version_model().objects.descendant_of(trial).live().exclude(pk=obj.pk).filter(
            kind=obj.kind, language=obj.language).specific()]
    return [obj]


def refile_for(obj) -> None:
    """After a source changed: refile it and the sources whose status it can change (other versions of the same
    document); an unpublished page is refiled too, so its rows are marked withdrawn."""
    try:
        sources = _affected(obj)
    except TrialPage.DoesNotExist:
        return
    with transaction.atomic():
        for source in sources:
            refile(source)


# --- Content --------------------------------------------------------------------------------------------------

@dataclass
class Content:
    data: bytes
    filename: str
    content_type: str


def _file_content(field_file, filename: str) -> Content:
    with field_file.open("rb") as handle:
        data = handle.read()
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Content(data, filename, content_type)


def _safe_name(text: str) -> str:
    from django.utils.text import get_valid_filename

    return get_valid_filename(text)[:120] or "document"


def source_object(document: TmfDocument):
    from django.apps import apps

    model = apps.get_model(document.source_type)
    obj = model.objects.get(pk=document.source_id)
    return obj.specific if hasattr(obj, "specific") else obj


def content(document: TmfDocument) -> Content:
    """The bytes of a filed document, with a file name that carries no participant identity."""
    from . import sheets

    base = _safe_name(f"{document.trial.nct_number}-{document.artifact.number}-{document.place}-{document.title}"
                      + (f"-v{document.version}" if document.version else ""))
    if document.is_uploaded:
        extension = "." + document.file_name.rsplit(".", 1)[-1].lower() if "." in document.file_name else ""
        return _file_content(document.file, base + extension)
    source = source_object(document)
    if isinstance(source, ProtocolVersionPage):
        if source.document_id:
            name = source.document.file.name
            return _file_content(source.document.file, base + "." + name.rsplit(".", 1)[-1].lower())
        return Content(sheets.protocol_sheet(source, document), base + ".pdf", "application/pdf")
    if isinstance(source, CorrespondenceItemPage):
        if document.source_part.startswith("attachment-"):
            attachment = CorrespondenceAttachment.objects.select_related("document").get(
                pk=document.source_part.split("-", 1)[1])
            name = attachment.document.file.name
            extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
            return _file_content(attachment.document.file, base + extension)
        return Content(sheets.letter_sheet(source, document), base + ".pdf", "application/pdf")
    if isinstance(source, SiteAcknowledgement):
        return Content(sheets.acknowledgement_sheet(source, document), base + ".pdf", "application/pdf")
    from consent import masters

    data = masters.render([source], site=document.site, trial=document.trial)
    return Content(data, base + ".pdf", "application/pdf")
