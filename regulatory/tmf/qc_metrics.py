"""QC metrics of a trial's TMF, for the trial, each country and each site the user reads.

- pending: documents waiting for QC;
- time to QC: from filing to the QC decision (approved or rejected), median and 90th percentile (nearest rank), in
  days, over the documents a person decided (`qc_by` set: not the automatic filings a trial does not check);
- rejection rate by category: QC issues of each category over the documents decided;
- timeliness: documents filed within `TmfSettings.timeliness_days` of their date (Europe/Paris calendar day of the
  filing), over the documents filed by hand (automatic filings are made the moment their record changes).

A trial-level document counts for the trial only; a country-level one for its country; a site-level one for its
site and its country.

Cost (issue 19): computed in the database, never one row per document. On PostgreSQL every figure comes from the
running counts of `regulatory.tmf.tallies` (grouped counts per place; the median and 90th percentile found through
the count of decisions per hour, then read in the index of times to QC): the same few queries, and the same time,
at 10^2 and 10^6 documents (bench/RESULTS.md, (h) issue 19). On SQLite the counts are grouped counts of the
documents and the times to QC are read one row per decision (a development database). `direct=True` takes the
second way on PostgreSQL too (tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.utils.translation import pgettext

from regulatory import permissions
from regulatory.models import QcStatus, TmfLevel, TrialPage
from regulatory.tmf import tallies
from regulatory.tmf.qc import qc_categories, settings_of


def percentile(values: list[float], p: int) -> float | None:
    """The nearest-rank percentile (the smallest value with at least p % of the values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Metrics:
    label: str
    level: str
    key: str | int | None = None
    pending: int = 0
    decided: int = 0
    median: float | None = None  # days from filing to QC decision
    p90: float | None = None
    rejections: dict[str, int] = field(default_factory=dict)  # QC issues raised, per category
    open_issues: int = 0
    on_time: int = 0
    timed: int = 0

    @property
    def place(self) -> tallies.Place:
        return tallies.Place(self.level, self.key)

    @property
    def level_label(self) -> str:
        return str(TmfLevel(self.level).label)

    @property
    def median_days(self) -> float | None:
        return None if self.median is None else round(self.median, 1)

    @property
    def p90_days(self) -> float | None:
        return None if self.p90 is None else round(self.p90, 1)

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())

    @property
    def rejection_rate(self) -> float | None:
        return round(100 * self.rejected / self.decided, 1) if self.decided else None

    def rate(self, category: str) -> float | None:
        return round(100 * self.rejections.get(category, 0) / self.decided, 1) if self.decided else None

    @property
    def on_time_rate(self) -> float | None:
        return round(100 * self.on_time / self.timed, 1) if self.timed else None


@dataclass
class QcReport:
    trial: TrialPage
    days: int
    categories: dict[str, str]
    places: list[Metrics]
    scope: tallies.Scope | None = None

    @property
    def overall(self) -> Metrics:
        return self.places[0]


def report(user, trial: TrialPage, *, direct: bool = False) -> QcReport:
    scope = tallies.Scope.of(user, trial)
    days = settings_of(trial).timeliness_days
    overall = Metrics(label=trial.nct_number, level=TmfLevel.TRIAL)
    countries: dict[str, Metrics] = {}
    sites: dict[int, Metrics] = {}
    for site in permissions.sites_accessible(user).filter(trial=trial).order_by("code"):
        countries.setdefault(site.country, Metrics(label=site.country, level=TmfLevel.COUNTRY, key=site.country))
        sites[site.pk] = Metrics(label=site.code, level=TmfLevel.SITE, key=site.pk)

    def places_of(level, country, site_id):
        found = [overall]
        if level != TmfLevel.TRIAL and country in countries:
            found.append(countries[country])
        if level == TmfLevel.SITE and site_id in sites:
            found.append(sites[site_id])
        return found

    for level, country, site_id, n in tallies.document_counts(scope, trial, ("level", "country", "site_id"),
                                                               direct=direct, qc_status=QcStatus.PENDING):
        for place in places_of(level, country, site_id):
            place.pending += n
    for level, country, site_id, n, on_time in tallies.timeliness(scope, days, direct=direct):
        for place in places_of(level, country, site_id):
            place.timed += n
            place.on_time += on_time
    for level, country, site_id, category, is_open, n in tallies.issue_counts(scope, direct=direct):
        for place in places_of(level, country, site_id):
            place.rejections[category] = place.rejections.get(category, 0) + n
            place.open_issues += n if is_open else 0
    places = [overall, *sorted(countries.values(), key=lambda m: m.label), *sites.values()]
    for place, found in zip(places, tallies.durations(scope, [p.place for p in places], direct=direct),
                            strict=True):
        place.decided, place.median, place.p90 = found.decided, found.median, found.p90
    categories = qc_categories()
    for place in places:
        for code in place.rejections:
            categories.setdefault(code, code)
    return QcReport(trial=trial, days=days, categories=categories, places=places, scope=scope)


def export_rows(result: QcReport) -> list[list]:
    """The report as rows (a header first), for CSV and XLSX."""
    header = [pgettext("qc metrics", "Place"), pgettext("qc metrics", "Level"), pgettext("qc metrics", "Pending QC"),
              pgettext("qc metrics", "Decided"), pgettext("qc metrics", "Median days to QC"),
              pgettext("qc metrics", "90th percentile days to QC"), pgettext("qc metrics", "Rejected"),
              pgettext("qc metrics", "Rejection rate (%)"),
              pgettext("qc metrics", "Filed within %(days)s days (%%)") % {"days": result.days}]
    header += [pgettext("qc metrics", "Rejected: %(category)s (%%)") % {"category": label}
               for label in result.categories.values()]
    rows = [header]
    for place in result.places:
        rows.append([place.label, place.level_label, place.pending, place.decided, place.median_days,
                     place.p90_days, place.rejected, place.rejection_rate, place.on_time_rate,
                     *[place.rate(code) for code in result.categories]])
    return rows
