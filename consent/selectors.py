"""Reads of the consent app: which version is effective where, and what each user may see of it."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regulatory import approvals, permissions
from regulatory.models import InvestigationalSite, TrialPage
from regulatory.selectors import sites_for_user

from .models import ConsentFormIndexPage, ConsentFormVersionPage, FormEffectivity


def _in_force(at: datetime):
    return Q(effective_from__lte=at) & (Q(effective_until__isnull=True) | Q(effective_until__gt=at))


# What the list of a site's current forms shows of each version (`current_forms(listing=True)`).
LISTING_FIELDS = ("kind", "language", "effective_from", "effective_until", "site_id", "version_id", "version__id",
                  "version__title", "version__kind", "version__language", "version__version_number",
                  "version__version_date")


def current_forms(*, site: InvestigationalSite, at: datetime | None = None,
                  listing: bool = False) -> list[FormEffectivity]:
    """The effective version of each kind and language at a site, at a moment (now by default), each period
    with `site_specific`. `listing`: load only what a list shows of the versions (`LISTING_FIELDS`), not their
    text, halving the cost of the query's Python for the current-forms page."""
    at = at or timezone.now()
    chosen_sites = ConsentFormVersionPage.sites.through.objects
    site_specific = chosen_sites.filter(consentformversionpage_id=OuterRef("version_id"))
    periods = (FormEffectivity.objects.filter(_in_force(at), site=site).select_related("version")
               .annotate(site_specific=Exists(site_specific)).order_by("kind", "language"))
    return list(periods.only(*LISTING_FIELDS) if listing else periods)


def current_version(*, site: InvestigationalSite, kind: str, language: str,
                    at: datetime | None = None) -> ConsentFormVersionPage | None:
    period = (FormEffectivity.objects.filter(_in_force(at or timezone.now()), site=site, kind=kind,
                                             language=language).select_related("version").first())
    return period.version if period else None


def is_current_at(*, version: ConsentFormVersionPage, site: InvestigationalSite, at: datetime | None = None) -> bool:
    return FormEffectivity.objects.filter(_in_force(at or timezone.now()), site=site, version=version).exists()


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
    reference = f" {reference}" if reference else ""
    return f"Avis favorable {correspondent}{reference} du {date:%d/%m/%Y}"


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
class VersionRow:
    version: ConsentFormVersionPage
    status: str
    approval: str
    periods: list[FormEffectivity]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def version_row(*, version: ConsentFormVersionPage, user) -> VersionRow:
    trial = TrialPage.objects.ancestor_of(version).get()
    sites = list(sites_for_user(user=user, trial=trial))
    periods = list(version.effectivities.filter(site__in=sites).select_related("site").order_by("site__code"))
    return VersionRow(version, status(version), approval_reference(version), periods)


def version_rows(*, index: ConsentFormIndexPage, user) -> list[VersionRow]:
    trial = index.get_parent().specific
    return [version_row(version=v, user=user) for v in versions_of_trial(trial=trial, user=user)]


@dataclass
class Recognition:
    """What a PDF is: its signature report, and the stored document it is a byte-identical copy of (if any)."""

    report: object
    master: object | None
    record: object | None = None

    @property
    def matched(self) -> bool:
        return self.master is not None or self.record is not None

    @property
    def valid_and_matched(self) -> bool:
        return bool(self.report.valid) and self.matched


def recognise_pdf(data: bytes) -> Recognition:
    from .models import ConsentRecord, SignedMaster
    from .verification import verify_pdf

    report = verify_pdf(data)
    master = SignedMaster.objects.filter(sha256=report.file_sha256).prefetch_related("versions").first()
    record = (ConsentRecord.objects.filter(pdf_sha256=report.file_sha256)
              .select_related("participant__site", "version").first())
    return Recognition(report=report, master=master, record=record)


# --- Participants, consents and tasks ----------------------------------------------------------------------

def participants_of_site(*, site: InvestigationalSite):
    from .models import Participant

    return Participant.objects.filter(site=site).order_by("number")


def participant_of_site(*, site: InvestigationalSite, code: str):
    from .models import Participant

    return Participant.objects.filter(site=site, code=code.upper()).select_related("site__trial").first()


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
