"""Counts over a trial's TMF documents for the TMF pages, whatever the number of documents (issue 19).

On PostgreSQL they are read from the running counts the database keeps (`regulatory.models.tallies`, triggers of
migration 0021): a few hundred rows per trial, bounded by the Reference Model (artifacts × places × statuses), not
by the documents. On SQLite (development, tests: no such tables) the same figures are counted from the documents
(`direct=True` does so on PostgreSQL too, for the tests that compare both).

Who sees what is `permissions.tmf_documents_visible`'s rule, found once per page by `Scope.of` and applied to the
counts (and the documents) by `Scope.narrow`: trial-wide readers only; QC-approved documents only unless the user
`sees_tmf_qc_pending`; site-level documents of the sites the user reads, unless they read every site.
`regulatory/tests/test_tmf_tallies.py` checks that both agree for every persona.

The QC metrics' time to QC (`durations`): the exact median and 90th percentile (nearest rank) of the decided
documents' times from filing to decision, per place. The tally counts them per whole hour; one query finds, per
place, the hour holding each wanted rank; a second reads each of those values in the index `tmf_qc_duration_idx`
(documents in order of their time to QC), skipping only the documents of the same hour that come before it. Cost:
the tally's rows of the trial (hours × places) and, per wanted rank, at most the trial's decisions of one hour.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils.functional import cached_property

from regulatory import permissions
from regulatory.models import (
    QcStatus,
    TmfDocument,
    TmfDocumentCount,
    TmfLevel,
    TmfQcIssue,
    TmfQcIssueCount,
    TmfQcTally,
    TrialPage,
)

HOUR = datetime.timedelta(hours=1)
DECIDED = Q(qc_at__isnull=False) & (Q(qc_by__isnull=False) | Q(source_type=""))  # as the metrics count them


def kept() -> bool:
    """Whether the database keeps the running counts (PostgreSQL)."""
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class Scope:
    """What of a trial's TMF a user reads, as `permissions.tmf_documents_visible` decides it, found once for a
    page: `user` None reads every document of the trial."""

    trial: TrialPage
    user: object = None
    reads: bool = True  # the trial wide (else nothing)
    every_qc_status: bool = True  # else QC-approved documents only
    sites: tuple[int, ...] | None = None  # the sites whose site-level documents the user reads; None: every site

    @classmethod
    def of(cls, user, trial: TrialPage) -> Scope:
        if user is None:
            return cls(trial)
        if not permissions.can_read_trial_wide(user, trial):
            return cls(trial, user, reads=False)
        every_qc_status = permissions.sees_tmf_qc_pending(user, trial)
        if permissions.reads_every_site(user, trial):
            return cls(trial, user, every_qc_status=every_qc_status)
        return cls(trial, user, every_qc_status=every_qc_status, sites=tuple(
            permissions.sites_accessible(user).filter(trial=trial).order_by("pk").values_list("pk", flat=True)))

    def narrow(self, rows, *, by_qc: bool = True):
        """`rows` (the documents, or a tally's rows) narrowed to what the user reads."""
        rows = rows.filter(trial=self.trial)
        if not self.reads:
            return rows.none()
        if by_qc and not self.every_qc_status:
            rows = rows.filter(qc_status=QcStatus.APPROVED)
        if self.sites is None:
            return rows
        return rows.filter(Q(site__isnull=True) | Q(site__in=self.sites))

    def documents(self):
        """The documents the user reads (as `permissions.tmf_documents_visible`, without asking again)."""
        return self.narrow(TmfDocument.objects.all())


def _scope(who, trial: TrialPage) -> Scope:
    return who if isinstance(who, Scope) else Scope.of(who, trial)


def document_counts(who, trial: TrialPage, group_by: tuple[str, ...], *, direct: bool = False,
                    **filters) -> list[tuple]:
    """The documents of the trial `who` (a user, None for every document, or a `Scope`) may read, matching
    `filters` (lookups of TmfDocument that the counts have too: artifact, level, country, site, status,
    qc_status), counted per `group_by` (from "artifact_id", "level", "country", "site_id", "status",
    "qc_status"): [(*values, n)], groups of 0 left out."""
    scope = _scope(who, trial)
    if direct or not kept():
        return list(scope.documents().filter(**filters).order_by().values(*group_by)
                    .annotate(n=Count("pk")).values_list(*group_by, "n"))
    rows = scope.narrow(TmfDocumentCount.objects.all()).filter(**filters).order_by()
    return [row for row in rows.values(*group_by).annotate(total=Sum("n")).values_list(*group_by, "total")
            if row[-1]]


def document_total(who, trial: TrialPage, *, direct: bool = False, **filters) -> int:
    """How many documents of the trial `who` may read match `filters` (as `document_counts`)."""
    scope = _scope(who, trial)
    if direct or not kept():
        return scope.documents().filter(**filters).count()
    rows = scope.narrow(TmfDocumentCount.objects.all()).filter(**filters)
    return rows.aggregate(total=Sum("n"))["total"] or 0


# --- QC metrics ---------------------------------------------------------------------------------------------------

def timeliness(scope: Scope, days: int, *, direct: bool = False) -> list[tuple]:
    """Documents filed by hand, per place: [(level, country, site_id, filed, filed within `days` days of their
    date)]; the filing day is the calendar day of `filed_at` in the current time zone (the settings')."""
    # The QC tallies do not tell QC statuses apart: only those who read every QC status read them.
    if direct or not kept() or not scope.every_qc_status:
        lag = ExpressionWrapper(TruncDate("filed_at") - F("document_date"), output_field=DurationField())
        return list(scope.documents().filter(source_type="").order_by().alias(lag=lag)
                    .values("level", "country", "site_id")
                    .annotate(n=Count("pk"), on_time=Count("pk", filter=Q(lag__lte=datetime.timedelta(days=days))))
                    .values_list("level", "country", "site_id", "n", "on_time"))
    rows = scope.narrow(TmfQcTally.objects.filter(kind="lag"), by_qc=False).order_by()
    return [(level, country, site_id, filed, on_time or 0) for level, country, site_id, filed, on_time
            in rows.values("level", "country", "site_id")
            .annotate(filed=Sum("n"), on_time=Sum("n", filter=Q(value__lte=days)))
            .values_list("level", "country", "site_id", "filed", "on_time") if filed]


def issue_counts(scope: Scope, *, direct: bool = False) -> list[tuple]:
    """QC issues raised on the documents `user` may read, per place of the document, category and whether still
    open: [(level, country, site_id, category, open, n)]."""
    if direct or not kept() or not scope.every_qc_status:
        issues = (TmfQcIssue.objects.filter(document__in=scope.documents().order_by().values("pk")).order_by()
                  .annotate(open=ExpressionWrapper(Q(closed_at__isnull=True), output_field=BooleanField())))
        columns = ("document__level", "document__country", "document__site_id", "category", "open")
        return list(issues.values(*columns).annotate(n=Count("pk")).values_list(*columns, "n"))
    rows = scope.narrow(TmfQcIssueCount.objects.all(), by_qc=False).order_by()
    return [row for row in rows.values("level", "country", "site_id", "category", "open")
            .annotate(total=Sum("n")).values_list("level", "country", "site_id", "category", "open", "total")
            if row[-1]]


@dataclass(frozen=True)
class Place:
    """Where a QC metric is counted: the trial (every document), a country (its country- and site-level documents)
    or a site (its site-level documents)."""

    level: str
    key: str | int | None = None

    def holds(self, level: str, country: str, site_id: int | None) -> bool:
        if self.level == TmfLevel.TRIAL:
            return True
        if self.level == TmfLevel.COUNTRY:
            return level != TmfLevel.TRIAL and country == self.key
        return level == TmfLevel.SITE and site_id == self.key


@dataclass(frozen=True)
class Durations:
    """Times from filing to QC decision at one place: how many, the median and the 90th percentile (nearest rank),
    in days (a decision recorded before the filing counts 0)."""

    decided: int
    median: float | None
    p90: float | None


def ranks(total: int) -> tuple[int, int, int]:
    """0-based ranks, in ascending order of the values: the two middle ones (the same one when `total` is odd) and
    the 90th percentile's (nearest rank: the smallest value with at least 90 % of the values at or below it)."""
    return (total - 1) // 2, total // 2, (9 * total + 9) // 10 - 1


def _days(value: datetime.timedelta) -> float:
    return max(0.0, value.total_seconds() / 86400)


def _summary(values: dict[int, float], total: int) -> Durations:
    low, high, p90 = ranks(total)
    return Durations(total, (values[low] + values[high]) / 2, values[p90])


def durations(scope: Scope, places: list[Place], *, direct: bool = False) -> list[Durations]:
    """The times to QC at each place, among the documents the user reads."""
    if direct or not kept() or not scope.every_qc_status or not scope.reads:
        return _durations_direct(scope, places)
    restrict, restrict_params = ("", []) if scope.sites is None else (
        " AND (site_id IS NULL OR site_id = ANY(%s))", [list(scope.sites)])
    conditions, condition_params = [], []
    for place in places:
        if place.level == TmfLevel.TRIAL:
            conditions.append("TRUE")
            condition_params.append([])
        elif place.level == TmfLevel.COUNTRY:
            conditions.append("level <> 'trial' AND country = %s")
            condition_params.append([place.key])
        else:
            conditions.append("level = 'site' AND site_id = %s")
            condition_params.append([place.key])
    # One row per hour, a column per place: its decisions that hour, before it (running sum) and in all; only the
    # hours holding a wanted rank of some place are returned. The SQL is put together from the fixed texts above
    # (places are numbered); every value is a parameter.
    columns = ", ".join(f"coalesce(sum(n) FILTER (WHERE {condition}), 0)::bigint AS n{index}"
                        for index, condition in enumerate(conditions))
    running = ", ".join(f"n{i}, (sum(n{i}) OVER upto - n{i})::bigint AS b{i}, (sum(n{i}) OVER ())::bigint AS t{i}"
                        for i in range(len(places)))
    wanted = " OR ".join(f"(b{i} <= {rank} AND {rank} < b{i} + n{i})" for i in range(len(places))
                         for rank in (f"(t{i} - 1) / 2", f"t{i} / 2", f"(9 * t{i} + 9) / 10 - 1"))
    sql = (f"WITH hours AS (SELECT value AS bucket, {columns} FROM regulatory_tmfqctally "  # noqa: S608
           f"WHERE trial_id = %s AND kind = 'hours' AND n <> 0{restrict} GROUP BY value), "
           f"running AS (SELECT bucket, {running} FROM hours WINDOW upto AS (ORDER BY bucket)) "
           f"SELECT * FROM running WHERE {wanted}")  # nosec B608  # constants of this module; values bound
    params = [*(p for group in condition_params for p in group), scope.trial.pk, *restrict_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    totals: dict[int, int] = {}
    probes: dict[tuple[int, int], tuple[int, int]] = {}  # (place, rank) -> (hour, offset within the hour)
    for bucket, *figures in found:
        for index in range(len(places)):
            n, below, total = figures[3 * index:3 * index + 3]
            totals[index] = total
            for rank in set(ranks(total)):
                if below <= rank < below + n:
                    probes[(index, rank)] = (bucket, rank - below)
    values: dict[tuple[int, int], float] = {}
    if probes:
        selects, select_params = [], []
        for number, ((index, _rank), (bucket, offset)) in enumerate(probes.items()):
            lower = "" if bucket == 0 else " AND (qc_at - filed_at) >= %s"
            # Fixed texts and numbers only; every value is a parameter.
            selects.append(
                f"SELECT * FROM (SELECT {number} AS probe, (qc_at - filed_at) AS d FROM regulatory_tmfdocument "  # noqa: S608
                f"WHERE trial_id = %s AND qc_at IS NOT NULL AND (qc_by_id IS NOT NULL OR source_type = '') "
                f"AND {conditions[index]}{restrict}{lower} AND (qc_at - filed_at) < %s "
                f"ORDER BY (qc_at - filed_at) LIMIT 1 OFFSET %s) AS p{number}")  # nosec B608  # values bound
            select_params += [scope.trial.pk, *condition_params[index], *restrict_params,
                              *([bucket * HOUR] if bucket else []), (bucket + 1) * HOUR, offset]
        keys = list(probes)
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), select_params)
            for number, value in cursor.fetchall():
                values[keys[number]] = _days(value)
    result = []
    for index in range(len(places)):
        total = totals.get(index, 0)
        if not total:
            result.append(Durations(0, None, None))
            continue
        result.append(_summary({rank: values[(index, rank)] for rank in set(ranks(total))}, total))
    return result


def _durations_direct(scope: Scope, places: list[Place]) -> list[Durations]:
    """The same from one row per decided document (SQLite: a development or test database)."""
    per_place: list[list[float]] = [[] for _ in places]
    rows = (scope.documents().filter(DECIDED).order_by()
            .values_list("level", "country", "site_id", "filed_at", "qc_at"))
    for level, country, site_id, filed_at, qc_at in rows:
        value = _days(qc_at - filed_at)
        for index, place in enumerate(places):
            if place.holds(level, country, site_id):
                per_place[index].append(value)
    result = []
    for values in per_place:
        if not values:
            result.append(Durations(0, None, None))
            continue
        values.sort()
        result.append(_summary(dict(enumerate(values)), len(values)))
    return result


class CountedPaginator(Paginator):
    """A paginator told its count (read from the running counts) instead of counting the listing's rows."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count
