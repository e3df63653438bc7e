"""Reads of the trial's milestones: which required artifacts each has, QC-approved, at its place, and the
activation gate (`activation_gate_refusal`), asked before a protocol or consent-form version takes effect at a site.

Where a required artifact is looked for: at the milestone's own place, its country and the trial, at each of these
levels the Reference Model files the artifact at (a site's activation is satisfied by the protocol filed at trial
level as by a copy filed at the site); the level shown is the nearest where one is found. A document counts when it is
QC-approved and current, approved-not-yet-in-force or superseded (as `completeness.COUNTED`); one pending QC is
shown apart and does not count.

Cost: three queries for the whole page (milestones, their artifacts, one grouped count of the documents: on
PostgreSQL of the running counts, `regulatory.tmf.tallies`, whatever the number of documents).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.translation import gettext as _

from regulatory import permissions
from regulatory.models import (
    InvestigationalSite,
    QcStatus,
    TmfArtifact,
    TmfLevel,
    TrialMilestone,
    TrialPage,
)
from regulatory.tmf import tallies
from regulatory.tmf.completeness import COUNTED

SITE_ACTIVATION = 3  # "Site Live / Ready / Open for Enrollment" in the Reference Model's milestones


def _places(artifact: TmfArtifact, milestone: TrialMilestone) -> list[tuple[str, str]]:
    """(level, key) of each place a required artifact may be filed for the milestone, nearest first: the milestone's
    own place, then its country, then the trial, each only where the Reference Model files the artifact at that
    level. The key is a site id, a country code or ""."""
    flags = {TmfLevel.TRIAL: artifact.trial_level, TmfLevel.COUNTRY: artifact.country_level,
             TmfLevel.SITE: artifact.site_level}
    chain = {TmfLevel.SITE: [(TmfLevel.SITE, str(milestone.site_id)), (TmfLevel.COUNTRY, milestone.country),
                             (TmfLevel.TRIAL, "")],
             TmfLevel.COUNTRY: [(TmfLevel.COUNTRY, milestone.country), (TmfLevel.TRIAL, "")],
             TmfLevel.TRIAL: [(TmfLevel.TRIAL, "")]}[milestone.level]
    return [place for place in chain if flags[place[0]]] or chain[:1]


@dataclass(frozen=True)
class Requirement:
    artifact: TmfArtifact
    level: str
    approved: int
    pending: int

    @property
    def met(self) -> bool:
        return self.approved > 0

    @property
    def level_label(self) -> str:
        return str(TmfLevel(self.level).label)


@dataclass
class MilestoneStatus:
    milestone: TrialMilestone
    requirements: list[Requirement] = field(default_factory=list)

    @property
    def missing(self) -> list[TmfArtifact]:
        return [r.artifact for r in self.requirements if not r.met]

    @property
    def met(self) -> int:
        return sum(1 for r in self.requirements if r.met)

    @property
    def percent(self) -> int | None:
        return round(100 * self.met / len(self.requirements)) if self.requirements else None


def _counts(trial: TrialPage, reader) -> tuple[dict, dict]:
    """Counted documents (`completeness.COUNTED`) per artifact and place, QC-approved and pending apart, among those
    `reader` reads (None: every document of the trial), from `tallies.document_counts`."""
    approved, pending = defaultdict(int), defaultdict(int)
    rows = tallies.document_counts(reader, trial, ("artifact_id", "level", "country", "site_id", "qc_status"),
                                   status__in=COUNTED, qc_status__in=(QcStatus.APPROVED, QcStatus.PENDING))
    for artifact_id, level, country, site_id, qc_status, n in rows:
        key = (artifact_id, level, str(site_id) if level == TmfLevel.SITE else
               country if level == TmfLevel.COUNTRY else "")
        (approved if qc_status == QcStatus.APPROVED else pending)[key] += n
    return approved, pending


def statuses(milestones, trial: TrialPage, reader) -> list[MilestoneStatus]:
    approved, pending = _counts(trial, reader)
    result = []
    for milestone in milestones:
        status = MilestoneStatus(milestone)
        for artifact in milestone.artifacts.all():
            places = _places(artifact, milestone)
            found = [place for place in places if approved.get((artifact.pk, *place))]
            level = (found or places)[0][0]
            status.requirements.append(Requirement(
                artifact, level, sum(approved.get((artifact.pk, *place), 0) for place in places),
                sum(pending.get((artifact.pk, *place), 0) for place in places)))
        result.append(status)
    return result


def milestones_for(user, trial: TrialPage) -> list[MilestoneStatus]:
    """The trial's milestones the user may see (site milestones of the sites they read), each with what it needs."""
    milestones = TrialMilestone.objects.filter(trial=trial).select_related("reference", "site").prefetch_related(
        "artifacts")
    if not permissions.reads_every_site(user, trial):
        sites = permissions.sites_accessible(user).filter(trial=trial).values("pk")
        milestones = milestones.filter(Q(site__isnull=True) | Q(site__in=sites))
    return statuses(milestones, trial, user)


def activation_missing(site: InvestigationalSite) -> list[TmfArtifact] | None:
    """The required artifacts of the site's activation milestone without a QC-approved document, or None when the
    sponsor defined no activation milestone for the site."""
    milestone = (TrialMilestone.objects.filter(trial_id=site.trial_id, site=site, reference__number=SITE_ACTIVATION)
                 .prefetch_related("artifacts").first())
    if milestone is None:
        return None
    return statuses([milestone], site.trial, None)[0].missing


def activation_gate_refusal(site: InvestigationalSite) -> str | None:
    """Why no version may take effect at `site` now (the trial's activation gate is on and the site's activation
    documents are missing), or None."""
    from regulatory.models import TmfSettings

    if not TmfSettings.objects.filter(trial_id=site.trial_id, activation_gate=True).exists():
        return None
    missing = activation_missing(site)
    if not missing:
        return None
    return _("%(site)s is not activated: its activation milestone lacks QC-approved documents for %(missing)s. "
             "Nothing was made effective.") % {"site": site.code, "missing": "; ".join(str(a) for a in missing)}
