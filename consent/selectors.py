"""Reads of the consent app: which version is effective where, and what each user may see of it."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Exists, IntegerField, OuterRef, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regulatory import approvals, permissions
from regulatory.models import InvestigationalSite, TrialPage
from regulatory.selectors import sites_for_user

from .models import ConsentFormIndexPage, ConsentFormVersionPage, FormEffectivity

# What the list of a site's current forms shows of each version (`current_forms(listing=True)`).
LISTING_FIELDS = ("kind", "language", "effective_from", "effective_until", "site_id", "version_id", "version__id",
                  "version__title", "version__kind", "version__language", "version__version_number",
                  "version__version_date")


# The pathway's order (patient, else surrogate, else emergency inclusion, then continuation), French first: the
# order of the current-forms page and of the printed bundle.
PATHWAY_ORDER = ("patient", "surrogate", "emergency", "continuation")
LANGUAGE_ORDER = ("fr", "en")


def _rank(field: str, values) -> Case:
    return Case(*(When(**{field: value}, then=Value(i)) for i, value in enumerate(values)),
                default=Value(len(values)), output_field=IntegerField())


def pathway_key(version) -> tuple:
    """Sort key of a version in the pathway's order (Python side of `PATHWAY_ORDER`)."""
    kind = PATHWAY_ORDER.index(version.kind) if version.kind in PATHWAY_ORDER else len(PATHWAY_ORDER)
    language = LANGUAGE_ORDER.index(version.language) if version.language in LANGUAGE_ORDER else len(LANGUAGE_ORDER)
    return kind, language


def current_forms(*, site: InvestigationalSite, at: datetime | None = None,
                  listing: bool = False) -> list[FormEffectivity]:
    """The effective version of each kind and language at a site, at a moment (now by default), each period
    with `site_specific`. `listing`: load only what a list shows of the versions (`LISTING_FIELDS`), not their
    text, halving the cost of the query's Python for the current-forms page."""
    at = at or timezone.now()
    chosen_sites = ConsentFormVersionPage.sites.through.objects
    site_specific = chosen_sites.filter(consentformversionpage_id=OuterRef("version_id"))
    periods = (FormEffectivity.objects.in_force(at).filter(site=site).select_related("version")
               .annotate(site_specific=Exists(site_specific), kind_rank=_rank("kind", PATHWAY_ORDER),
                         language_rank=_rank("language", LANGUAGE_ORDER))
               .order_by("kind_rank", "language_rank", "kind", "language"))
    return list(periods.only(*LISTING_FIELDS) if listing else periods)


def current_version(*, site: InvestigationalSite, kind: str, language: str,
                    at: datetime | None = None) -> ConsentFormVersionPage | None:
    period = (FormEffectivity.objects.in_force(at).filter(site=site, kind=kind, language=language)
              .select_related("version").first())
    return period.version if period else None


def is_current_at(*, version: ConsentFormVersionPage, site: InvestigationalSite, at: datetime | None = None) -> bool:
    return FormEffectivity.objects.in_force(at).filter(site=site, version=version).exists()


def status(version: ConsentFormVersionPage) -> str:
    """draft → submitted → approved → effective → superseded, or withdrawn."""
    if version.withdrawn_at is not None:
        return "withdrawn"
    if not version.live:
        return "draft"
    periods = list(version.effectivities.all())
    now = timezone.now()
    if any(p.effective_from <= now and (p.effective_until is None or p.effective_until > now) for p in periods):
        return "effective"
    if periods and all(p.effective_until is not None and p.effective_until <= now for p in periods):
        return "superseded"
    return "approved" if approvals.opinions(version).exists() else "submitted"


STATUS_WATERMARKS = {"draft": "BROUILLON", "submitted": "BROUILLON", "approved": "PAS ENCORE EN VIGUEUR",
                     "superseded": "VERSION REMPLACÉE", "withdrawn": "VERSION RETIRÉE"}


def watermark_for(version: ConsentFormVersionPage, *, site: InvestigationalSite | None = None) -> str:
    """Nothing on a version effective at the site (or anywhere, for the trial-wide copy); a mark otherwise."""
    if site is not None:
        return "" if is_current_at(version=version, site=site) else STATUS_WATERMARKS.get(status(version), "BROUILLON")
    return STATUS_WATERMARKS.get(status(version), "")


def _approval_text(correspondent: str, reference: str, date) -> str:
    """"Avis favorable CPP Sud-Est III REF du 15/12/2025" in French, "Favourable opinion … of 15/12/2025" in
    English: the active language's words and short date format (day first in both, cms/formats)."""
    from django.utils.formats import date_format
    from django.utils.translation import gettext

    reference = f" {reference}" if reference else ""
    return gettext("Favourable opinion %(correspondent)s%(reference)s of %(date)s") % {
        "correspondent": correspondent, "reference": reference, "date": date_format(date, "SHORT_DATE_FORMAT")}


def approval_reference(version: ConsentFormVersionPage) -> str:
    opinion = approvals.opinions(version).last()
    return "" if opinion is None else _approval_text(opinion.correspondent, opinion.reference, opinion.date)


def approval_references(versions) -> dict[int, str]:
    """`approval_reference` of several versions in one query: version id → text ("" without an opinion)."""
    latest = {}
    rows = approvals.opinions_of([v.pk for v in versions]).values_list(
        "linked_version_id", "correspondent", "reference", "date")
    for version_id, *opinion in rows:
        latest[version_id] = opinion  # ordered by date: the last one wins, as in `.last()`
    return {v.pk: _approval_text(*latest[v.pk]) if v.pk in latest else "" for v in versions}


def versions_of_trial(*, trial: TrialPage, user) -> list[ConsentFormVersionPage]:
    """Every version for trial-wide readers; site staff see none here (they use their site's current forms)."""
    if not permissions.can_read_trial_wide(user, trial):
        return []
    versions = ConsentFormVersionPage.objects.descendant_of(trial)
    if not permissions.can_manage_trial(user, trial):
        versions = versions.live()
    return sorted(versions, key=lambda v: (v.kind, v.language, v.version_key))


# How each `status` reads on the pages (the code itself stays in CSS classes and comparisons).
STATUS_LABELS = {"draft": _("draft"), "submitted": _("submitted"), "approved": _("approved, not yet in force"),
                 "effective": _("in force"), "superseded": _("superseded"), "withdrawn": _("withdrawn")}


@dataclass
class FormVersionRow:
    version: ConsentFormVersionPage
    status: str
    approval: str
    periods: list[FormEffectivity]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def version_row(*, version: ConsentFormVersionPage, user) -> FormVersionRow:
    trial = version.trial
    sites = list(sites_for_user(user=user, trial=trial))
    periods = list(version.effectivities.filter(site__in=sites).select_related("site").order_by("site__code"))
    return FormVersionRow(version, status(version), approval_reference(version), periods)


def version_rows(*, index: ConsentFormIndexPage, user) -> list[FormVersionRow]:
    trial = index.get_parent().specific
    return [version_row(version=v, user=user) for v in versions_of_trial(trial=trial, user=user)]


@dataclass
class Recognition:
    """What a PDF is: its signature report, the stored document it is a byte-identical copy of (if any), and, when
    it is not one, the stored document its signed original is (before the changes made after signing, or with the
    signature container's letter case as stored). `verdict` and `signature_status` are the words the page and
    `manage.py verify_pdf` both show."""

    report: object
    master: object | None
    record: object | None = None
    original_master: object | None = None
    original_record: object | None = None
    recased: bool = False  # the original is stored once its signature container's letter case is changed back

    @property
    def matched(self) -> bool:
        return self.master is not None or self.record is not None

    @property
    def archival(self):
        """The stored document's archival state (PAdES level, completion pending or complete), or None."""
        from .models import ArchivalFile

        document = self.record if self.record is not None else self.master
        if document is None:
            return None
        field = "record" if self.record is not None else "master"
        return ArchivalFile.objects.filter(**{field: document}).first()

    @property
    def valid_and_matched(self) -> bool:
        return bool(self.report.valid) and self.matched

    @property
    def original_matched(self) -> bool:
        return self.original_master is not None or self.original_record is not None

    @property
    def modified_original(self) -> bool:
        """The file is a stored document's signed original, changed after signing."""
        return not self.matched and self.original_matched and bool(self.report.signed_revision_intact)

    @property
    def verdict(self) -> str:
        """One sentence that says what was found."""
        report = self.report
        if self.valid_and_matched:
            return _("Verified: this file is a document kept here, and its signature is intact and trusted.")
        if report.beyond_limits:
            return _("Not verified: this file is beyond what verification examines.")
        if report.valid and self.recased and self.original_matched:
            return _("Not verified: the signature is intact and trusted, but this file is not the stored document: "
                     "its signature container was rewritten in other letters (upper or lower case) after signing.")
        if report.valid:
            return _("Not verified: the signature is intact and trusted, but this file is not a document kept here.")
        if report.signed_revision_intact and report.changes_after_signing:
            if self.original_matched:
                return _("Not verified: the original signed revision is intact and is a document kept here, but "
                         "this file was changed after signing (listed below): it is not the stored document.")
            return _("Not verified: the original signed revision is intact and trusted, but this file was changed "
                     "after signing (listed below), and it is not a document kept here.")
        return _("Not verified: the signature is not valid.")

    @property
    def signature_status(self) -> str:
        report = self.report
        if report.valid:
            return (_("intact and trusted") if self.matched
                    else _("intact and trusted, but this file is not a document kept here"))
        if report.signed_revision_intact and report.changes_after_signing:
            return _("the original signed revision is intact and trusted; the file was changed after it")
        return _("NOT valid")


def _stored(sha256: str):
    from .models import ConsentRecord, SignedMaster

    if not sha256:
        return None, None
    master = SignedMaster.objects.filter(sha256=sha256).prefetch_related("versions").first()
    records = ConsentRecord.objects.select_related("participant__site", "version")
    # An earlier signed revision (before the countersignature) is kept, byte for byte, inside the current file.
    record = records.filter(pdf_sha256=sha256).first() or records.filter(revisions__sha256=sha256).first()
    if master is None and record is None:
        # An earlier version of a stored file (as signed, before its archival completion or a renewal): the
        # same document, its later revisions not yet added.
        from .models import ArchivalRevision

        revision = ArchivalRevision.objects.filter(sha256=sha256).select_related("archival").first()
        if revision is not None:
            if revision.archival.master_id:
                master = SignedMaster.objects.filter(pk=revision.archival.master_id).prefetch_related(
                    "versions").first()
            else:
                record = records.filter(pk=revision.archival.record_id).first()
    return master, record


def recognise_pdf(data: bytes) -> Recognition:
    """Verify a PDF from anyone (in time, see `verify_pdf_in_time`) and find the stored document it is, or was."""
    from .verification import verify_pdf_in_time

    report = verify_pdf_in_time(data)
    master, record = _stored(report.file_sha256)
    recognition = Recognition(report=report, master=master, record=record)
    if master is None and record is None and report.signed_revision_intact:
        for sha256, recased in ((report.original_sha256, False), (report.recased_sha256, True)):
            if sha256 and sha256 != report.file_sha256:
                original_master, original_record = _stored(sha256)
                if original_master is not None or original_record is not None:
                    recognition.original_master, recognition.original_record = original_master, original_record
                    recognition.recased = recased
                    break
    return recognition


# --- Participants, consents and tasks ----------------------------------------------------------------------

def participants_of_site(*, site: InvestigationalSite):
    from .models import Participant

    return Participant.objects.filter(site=site).order_by("number")


def participant_of_site(*, site: InvestigationalSite, code: str):
    from .models import Participant

    return Participant.objects.filter(site=site, code=code.upper()).select_related("site__trial").first()


def next_participant_code(*, site: InvestigationalSite) -> str:
    """The code the next registration at the site would get (shown when asking to confirm it)."""
    from .models import ParticipantCounter

    counter = ParticipantCounter.objects.filter(site=site).first()
    return f"{site.code}-{(counter.last_number if counter else 0) + 1:04d}"


def open_tasks(*, site: InvestigationalSite, at: datetime | None = None) -> list:
    """The site's to-do list: re-consent and continuation tasks that are open now, overdue first."""
    from .models import ConsentTask

    at = at or timezone.now()
    return list(ConsentTask.objects.filter(participant__site=site, closed_at__isnull=True, opens_at__lte=at)
                .select_related("participant", "target_version").order_by("due_at", "participant__number"))


def consent_choices(*, participant, at: datetime | None = None) -> list:
    """The forms that can be used for this participant now: each allowed kind's version in force at the site."""
    trial = participant.site.trial
    choices = []
    for period in current_forms(site=participant.site, at=at):
        if period.kind in (trial.allowed_consent_kinds or []):
            choices.append(period.version)
    return choices


def record_by_token(token: str):
    from .models import ConsentRecord

    return (ConsentRecord.objects.filter(verification_token=token)
            .select_related("participant__site__trial", "version").first())


# --- Telling the sites: consent-form versions to acknowledge ---------------------------------------------------

def pending_form_acknowledgements(*, user) -> list:
    """The home page's banner: consent-form versions in force at the user's sites, not acknowledged yet."""
    sites = [s for s in sites_for_user(user=user) if permissions.can_acknowledge(user, s)]
    return list(FormEffectivity.objects.filter(site__in=sites, effective_from__lte=timezone.now(),
                                               acknowledgement__isnull=True)
                .select_related("site__trial", "version").order_by("effective_from"))


def form_acknowledgements_of_site(*, site: InvestigationalSite) -> list:
    return list(FormEffectivity.objects.filter(site=site).select_related(
        "version", "acknowledgement__acknowledged_by").order_by("-effective_from", "kind"))


@dataclass
class FormMatrixCell:
    period: object
    overdue: bool = False


@dataclass
class FormMatrixRow:
    version: object
    cells: list


def form_acknowledgement_matrix(*, trial: TrialPage, user) -> tuple[list, list[FormMatrixRow]]:
    """Consent-form versions made effective somewhere (rows) × the user's sites (columns): when each took effect
    and whether the site acknowledged it, overdue after TRIALDOCS_ACKNOWLEDGEMENT_DAYS as for amendments."""
    from datetime import timedelta

    from django.conf import settings

    sites = list(sites_for_user(user=user, trial=trial))
    periods = {(p.version_id, p.site_id): p for p in FormEffectivity.objects.filter(
        site__in=sites).select_related("version", "acknowledgement__acknowledged_by")}
    versions = sorted({p.version for p in periods.values()},
                      key=lambda v: (v.kind, v.language, v.version_key), reverse=True)
    due = timezone.now() - timedelta(days=settings.TRIALDOCS_ACKNOWLEDGEMENT_DAYS)
    rows = []
    for version in versions:
        cells = []
        for site in sites:
            period = periods.get((version.pk, site.pk))
            unacknowledged = (period is not None and period.effective_from <= timezone.now()
                              and not hasattr(period, "acknowledgement"))
            cells.append(FormMatrixCell(period, unacknowledged and period.effective_from < due))
        rows.append(FormMatrixRow(version, cells))
    return sites, rows
