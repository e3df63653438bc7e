"""QC metrics of a trial's TMF, for the trial, each country and each site the user reads.

- pending: documents waiting for QC;
- time to QC: from filing to the QC decision (approved or rejected), median and 90th percentile (nearest rank), in
  days, over the documents a person decided (`qc_by` set: not the automatic filings a trial does not check);
- rejection rate by category: QC issues of each category over the documents decided;
- timeliness: documents filed within `TmfSettings.timeliness_days` of their date (Europe/Paris calendar day of the
  filing), over the documents filed by hand (automatic filings are made the moment their record changes).

A trial-level document counts for the trial only; a country-level one for its country; a site-level one for its
site and its country. Cost: three queries whatever the number of documents (plus the settings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import pgettext

from regulatory import permissions
from regulatory.models import QcStatus, TmfLevel, TmfQcIssue, TrialPage
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
    pending: int = 0
    durations: list[float] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    on_time: int = 0
    timed: int = 0

    @property
    def level_label(self) -> str:
        return str(TmfLevel(self.level).label)

    @property
    def decided(self) -> int:
        return len(self.durations)

    @property
    def median_days(self) -> float | None:
        return round(median(self.durations), 1) if self.durations else None

    @property
    def p90_days(self) -> float | None:
        value = percentile(self.durations, 90)
        return None if value is None else round(value, 1)

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

    @property
    def overall(self) -> Metrics:
        return self.places[0]


def report(user, trial: TrialPage) -> QcReport:
    documents = permissions.tmf_documents_visible(user, trial).order_by()
    days = settings_of(trial).timeliness_days
    overall = Metrics(label=trial.nct_number, level=TmfLevel.TRIAL)
    countries: dict[str, Metrics] = {}
    sites: dict[int, Metrics] = {}
    for site in permissions.sites_accessible(user).filter(trial=trial).order_by("code"):
        countries.setdefault(site.country, Metrics(label=site.country, level=TmfLevel.COUNTRY))
        sites[site.pk] = Metrics(label=site.code, level=TmfLevel.SITE)

    def places_of(level, country, site_id):
        found = [overall]
        if level != TmfLevel.TRIAL and country in countries:
            found.append(countries[country])
        if level == TmfLevel.SITE and site_id in sites:
            found.append(sites[site_id])
        return found

    for level, country, site_id, n in (documents.filter(qc_status=QcStatus.PENDING)
                                       .values_list("level", "country", "site_id").annotate(n=Count("pk"))):
        for place in places_of(level, country, site_id):
            place.pending += n
    for level, country, site_id, filed_at, qc_at, document_date, source_type in (
            documents.filter(Q(qc_by__isnull=False) | Q(source_type=""))).values_list(
            "level", "country", "site_id", "filed_at", "qc_at", "document_date", "source_type"):
        for place in places_of(level, country, site_id):
            if qc_at is not None:
                place.durations.append(max(0.0, (qc_at - filed_at).total_seconds() / 86400))
            if not source_type:
                place.timed += 1
                place.on_time += (timezone.localdate(filed_at) - document_date).days <= days
    issues = (TmfQcIssue.objects.filter(document__in=documents.values("pk"))
              .values_list("document__level", "document__country", "document__site_id", "category")
              .annotate(n=Count("pk")).order_by())
    for level, country, site_id, category, n in issues:
        for place in places_of(level, country, site_id):
            place.rejections[category] = place.rejections.get(category, 0) + n
    categories = qc_categories()
    for place in [overall, *countries.values(), *sites.values()]:
        for code in place.rejections:
            categories.setdefault(code, code)
    return QcReport(trial=trial, days=days, categories=categories,
                    places=[overall, *sorted(countries.values(), key=lambda m: m.label), *sites.values()])


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
