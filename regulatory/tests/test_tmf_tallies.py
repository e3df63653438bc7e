"""Issue 19, a TMF of 10^6 documents: the counts the TMF pages read (`regulatory.tmf.tallies`: running counts kept
by PostgreSQL's triggers, or the documents counted on SQLite), the QC metrics computed in the database, capped
counts where the page says so, the QC page's lists a page at a time."""

import datetime
import statistics
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from regulatory import permissions
from regulatory.models import (
    QcStatus,
    Role,
    TmfArtifact,
    TmfDocument,
    TmfDocumentCount,
    TmfQcIssue,
    TmfQcIssueCount,
    TmfQcTally,
)
from regulatory.tests.factories import make_grant, make_member
from regulatory.tmf import qc as tmf_qc
from regulatory.tmf import qc_metrics, qc_views, tallies, views

BASE = "/tmf/NCT07063680"
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="the running counts are PostgreSQL's (SQLite counts the documents)")
GROUPS = ("artifact_id", "level", "country", "site_id", "status", "qc_status")
NOW = timezone.now().replace(microsecond=123456)


@pytest.fixture
def qc_member(world):
    return make_member("tmf-qc", role=Role.TMF_QC, trial=world.trial)


@pytest.fixture
def inspector_dij(world):
    """An inspector whose window names DIJ only: trial- and country-level documents, and DIJ's."""
    inspector = make_member("inspector-dij", role=Role.INSPECTOR, trial=world.trial)
    make_grant(inspector=inspector, trial=world.trial, sites=[world.site_a], granted_by=world.sponsor)
    return inspector


def artifact(number):
    return TmfArtifact.objects.get(number=number)


def document(world, number, *, place="trial", title="Document", status="current", qc_status="approved",
             filed_hours_ago=0.0, decided_after_hours=None, qc_by=None, source_type="", date=None, save=True):
    """A document filed `filed_hours_ago`, decided (`qc_at`) that many hours after its filing (negative: a decision
    recorded before the filing), at `place`: "trial", "FR" (country) or a site."""
    level = "trial" if place == "trial" else "country" if isinstance(place, str) else "site"
    filed_at = NOW - datetime.timedelta(hours=filed_hours_ago)
    made = TmfDocument(
        trial=world.trial, artifact=artifact(number), level=level, country="" if level == "trial" else "FR",
        site=place if level == "site" else None, title=title, status=status, qc_status=qc_status,
        document_date=date or datetime.date(2026, 1, 1), file_name="d.pdf", source_type=source_type,
        source_id="x" if source_type else "", source_part=title if source_type else "", qc_by=qc_by,
        qc_at=None if decided_after_hours is None else filed_at + datetime.timedelta(hours=decided_after_hours))
    if not save:
        return made, filed_at
    made.save()
    TmfDocument.objects.filter(pk=made.pk).update(filed_at=filed_at)  # auto_now_add: set afterwards
    made.filed_at = filed_at
    return made


def mixed(world, qc_member):
    """Documents at every level and in every state: decided over a few minutes to weeks (two in the same hour,
    one before its filing), filed on time or late, automatic filings checked or not, issues open and closed."""
    dij, lil = world.site_a, world.site_b
    rows = [  # (artifact, place, status, QC status, hours from filing to decision, filed how many days late)
        ("05.02.04", dij, "current", "approved", 0.2, 3), ("05.02.04", dij, "current", "approved", 0.7, 40),
        ("05.02.04", dij, "superseded", "approved", 26.5, 0), ("05.02.04", lil, "current", "rejected", 49.0, 12),
        ("05.02.04", lil, "current", "pending", None, 31), ("05.02.04", lil, "withdrawn", "approved", 300.0, 1),
        ("01.01.06", "trial", "current", "approved", 5.0, 29), ("01.01.06", "trial", "current", "rejected", 5.5, 30),
        ("01.01.06", "trial", "approved", "pending", None, 2), ("01.01.08", "trial", "current", "approved", -3.0, 5),
        ("04.01.01", "FR", "current", "approved", 71.9, 100), ("04.01.01", "FR", "current", "rejected", 72.0, 0),
        ("04.01.01", "FR", "draft", "pending", None, 8), ("05.04.03", dij, "current", "approved", 1000.25, 60),
        ("05.04.03", lil, "current", "approved", 11.0, 14), ("05.04.03", dij, "current", "rejected", 11.9, 15),
    ]
    made = []
    for index, (number, place, status, qc_status, hours, late) in enumerate(rows):
        made.append(document(world, number, place=place, title=f"D{index}", status=status, qc_status=qc_status,
                             filed_hours_ago=24 * 400 - index, decided_after_hours=hours,
                             qc_by=qc_member if hours is not None else None,
                             date=(NOW - datetime.timedelta(hours=24 * 400 - index)).date()
                             - datetime.timedelta(days=late)))
    # An automatic filing nobody checked (not in the time to QC, nor in the timeliness) and one a person checked.
    document(world, "02.02.03", place=dij, title="auto", source_type="consent.form", decided_after_hours=0)
    document(world, "02.02.03", place=lil, title="auto checked", source_type="consent.form",
             decided_after_hours=7.25, qc_by=qc_member)
    for doc, category in ((made[3], "illegible"), (made[7], "missing_pages"), (made[11], "illegible"),
                          (made[15], "wrong_artifact")):
        TmfQcIssue.objects.create(document=doc, category=category, comment="x", raised_by=qc_member,
                                  raised_at=doc.qc_at)
    TmfQcIssue.objects.filter(document=made[7]).update(closed_at=NOW, closed_by=qc_member)
    return made


# --- The counts ---------------------------------------------------------------------------------------------------

def counted(rows):
    return {tuple(row[:-1]): row[-1] for row in rows}


@pytest.mark.parametrize("persona", ["sponsor", "qa", "admin", "inspector", "inspector_dij", "coordinator_a",
                                     "other_sponsor"])
def test_the_counts_are_those_of_the_documents_each_persona_reads(world, qc_member, inspector_dij, persona):
    mixed(world, qc_member)
    user = inspector_dij if persona == "inspector_dij" else getattr(world, persona)
    visible = permissions.tmf_documents_visible(user, world.trial)
    expected = Counter(visible.values_list(*GROUPS))
    assert counted(tallies.document_counts(user, world.trial, GROUPS)) == expected
    assert counted(tallies.document_counts(user, world.trial, GROUPS, direct=True)) == expected
    assert set(tallies.Scope.of(user, world.trial).documents()) == set(visible)
    per_artifact = Counter(visible.values_list("artifact_id", flat=True))
    assert dict(tallies.document_counts(user, world.trial, ("artifact_id",))) == per_artifact
    assert tallies.document_total(user, world.trial, status="current") == visible.filter(status="current").count()
    if persona == "inspector_dij":
        assert {site for *_rest, site, _s, _q in expected} == {None, world.site_a.pk}


def recounted():
    """The running counts as they should be, counted anew from the documents and issues."""
    documents = Counter((t, *rest) for t, *rest in TmfDocument.objects.values_list("trial_id", *GROUPS))
    lag, hours = Counter(), Counter()
    for trial, level, country, site, source, filed_at, date, qc_at, qc_by in TmfDocument.objects.values_list(
            "trial_id", "level", "country", "site_id", "source_type", "filed_at", "document_date", "qc_at",
            "qc_by_id"):
        if not source:
            lag[(trial, level, country, site, "lag", (timezone.localdate(filed_at) - date).days)] += 1
        if qc_at is not None and (qc_by is not None or not source):
            hour = max(0, (qc_at - filed_at) // datetime.timedelta(hours=1))
            hours[(trial, level, country, site, "hours", hour)] += 1
    issues = Counter((d.trial_id, d.level, d.country, d.site_id, i.category, i.closed_at is None)
                     for i in TmfQcIssue.objects.select_related("document") for d in [i.document])
    return documents, lag + hours, issues


def kept():
    def rows(model, fields):
        return {tuple(row[:-1]): row[-1] for row in model.objects.values_list(*fields, "n") if row[-1]}

    return (rows(TmfDocumentCount, ("trial_id", *GROUPS)),
            rows(TmfQcTally, ("trial_id", "level", "country", "site_id", "kind", "value")),
            rows(TmfQcIssueCount, ("trial_id", "level", "country", "site_id", "category", "open")))


@postgres_only
def test_the_triggers_follow_every_kind_of_write(world, qc_member):
    made = mixed(world, qc_member)
    assert kept() == tuple(dict(c) for c in recounted())
    # bulk_create, a queryset update of status and QC status, a document moved to another site (its issue moves
    # with it), a filing date changed, an issue closed, raw SQL, a document deleted.
    TmfDocument.objects.bulk_create([document(world, "05.02.04", place=world.site_b, title=f"B{n}", save=False)[0]
                                     for n in range(7)])
    TmfDocument.objects.filter(title__startswith="B").update(status="superseded", qc_status="pending")
    TmfDocument.objects.filter(pk=made[15].pk).update(site=world.site_b)
    TmfDocument.objects.filter(pk=made[0].pk).update(filed_at=NOW - datetime.timedelta(days=3))
    TmfQcIssue.objects.filter(document=made[3]).update(closed_at=NOW, closed_by=qc_member)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE regulatory_tmfdocument SET qc_status = 'approved', qc_at = now(), qc_by_id = %s "
                       "WHERE title = 'B0'", [qc_member.pk])
    TmfDocument.objects.filter(title="B1").delete()
    assert kept() == tuple(dict(c) for c in recounted())
    # A rejection through the workflow: the document's move from pending and its new issue.
    pending = document(world, "05.02.04", place=world.site_a, title="to reject", qc_status="pending",
                       filed_hours_ago=30)
    tmf_qc.qc_reject(actor=qc_member, document=pending, category="illegible", comment="Flou")
    assert kept() == tuple(dict(c) for c in recounted())


def test_the_triggers_take_the_audit_chains_lock_number():
    """The migration is self-contained: its copy of the audit chain's lock number is the one `regulatory.audit`
    takes (the same order of locks in every writer, see the migration)."""
    import importlib

    from regulatory import audit

    migration = importlib.import_module("regulatory.migrations.0021_tmf_tallies")
    assert migration.AUDIT_CHAIN_LOCK == audit.CHAIN_LOCK


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_write_of_documents_takes_the_audit_chain_before_its_tally_rows(world, qc_member):
    """A writer of documents holds the audit chain's lock from its first write on (the trigger takes it before
    its tally rows), so two writers never hold the two locks in opposite orders (no deadlock)."""
    from regulatory import audit

    def chain_held() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                           "AND pid = pg_backend_pid() AND (classid::bigint << 32) + objid::bigint = %s",
                           [audit.CHAIN_LOCK])
            return cursor.fetchone()[0] == 1

    from django.db import transaction

    with transaction.atomic():
        assert not chain_held()
        document(world, "05.02.04", place=world.site_a, title="locks")
        assert chain_held()


@postgres_only
def test_the_filing_day_is_counted_in_the_settings_time_zone(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('regulatory_tmf_tally_documents_insert'::regproc)")
        assert f"AT TIME ZONE '{settings.TIME_ZONE}'" in cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_truncate_empties_the_counts(world, qc_member):
    """Django's flush (between transactional tests) truncates the documents: the counts go with them."""
    mixed(world, qc_member)
    assert kept() != ({}, {}, {})
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE regulatory_tmfqcissue, regulatory_tmfdocument CASCADE")
    assert kept() == ({}, {}, {})


# --- The QC metrics, in SQL, against a computation in Python -------------------------------------------------------

def python_metrics(user, trial, days):
    """The QC metrics computed in Python from one row per document (what `qc_metrics.report` did before issue 19)."""
    documents = list(permissions.tmf_documents_visible(user, trial))
    sites = list(permissions.sites_accessible(user).filter(trial=trial).order_by("code"))
    places = [("trial", None, trial.nct_number)]
    places += [("country", country, country) for country in sorted({site.country for site in sites})]
    places += [("site", site.pk, site.code) for site in sites]
    issues = list(TmfQcIssue.objects.filter(document__in=documents))
    result = []
    for kind, key, label in places:
        def here(doc, kind=kind, key=key):
            return (kind == "trial" or (kind == "country" and doc.level != "trial" and doc.country == key)
                    or (kind == "site" and doc.level == "site" and doc.site_id == key))
        mine = [doc for doc in documents if here(doc)]
        durations = sorted(max(0.0, (doc.qc_at - doc.filed_at).total_seconds() / 86400) for doc in mine
                           if doc.qc_at is not None and (doc.qc_by_id is not None or not doc.source_type))
        timed = [doc for doc in mine if not doc.source_type]
        rejections = Counter(issue.category for issue in issues if here(issue.document))
        result.append({
            "label": label, "pending": sum(doc.qc_status == QcStatus.PENDING for doc in mine),
            "decided": len(durations),
            "median": round(statistics.median(durations), 1) if durations else None,
            "p90": None if not durations else round(qc_metrics.percentile(durations, 90), 1),
            "rejections": dict(rejections), "timed": len(timed),
            "on_time": sum((timezone.localdate(doc.filed_at) - doc.document_date).days <= days for doc in timed),
            "open": sum(issue.closed_at is None for issue in issues if here(issue.document)),
        })
    return result


def sql_metrics(result):
    return [{"label": p.label, "pending": p.pending, "decided": p.decided, "median": p.median_days,
             "p90": p.p90_days, "rejections": p.rejections, "timed": p.timed, "on_time": p.on_time,
             "open": p.open_issues} for p in result.places]


@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize("persona", ["sponsor", "qa", "admin"])
def test_the_qc_metrics_computed_in_the_database_are_those_computed_in_python(world, qc_member, persona, direct):
    """Median (an even and an odd number of decisions), 90th percentile, rejections by category, timeliness and
    pending per place, on both databases (PostgreSQL: from the running counts, and `direct`)."""
    mixed(world, qc_member)
    user = getattr(world, persona)
    result = qc_metrics.report(user, world.trial, direct=direct)
    expected = python_metrics(user, world.trial, result.days)
    assert sql_metrics(result) == expected
    trial, france, dij, lil = expected
    assert (trial["decided"], dij["decided"], lil["decided"]) == (14, 5, 4)  # even and odd
    assert trial["rejections"] == {"illegible": 2, "missing_pages": 1, "wrong_artifact": 1} and trial["open"] == 3
    assert 0 < trial["on_time"] < trial["timed"]
    # Every number of decisions from 1 to 12 at one site: each rank of the median and the 90th percentile.
    for n in range(12):
        document(world, "05.02.04", place=world.site_b, title=f"R{n}", filed_hours_ago=100 + n,
                 decided_after_hours=0.5 + 7 * n, qc_by=qc_member)
        assert sql_metrics(qc_metrics.report(user, world.trial, direct=direct)) == python_metrics(
            user, world.trial, result.days)


@postgres_only
def test_the_running_counts_of_a_reader_of_some_sites_only_are_those_of_the_documents(world, qc_member):
    """No sponsor-side reader reads only some sites today (a trial's access reads all of them): the readers of the
    running counts still narrow to the sites given, as the documents are narrowed."""
    mixed(world, qc_member)
    scope = tallies.Scope(world.trial, sites=(world.site_a.pk,))
    places = [tallies.Place("trial"), tallies.Place("country", "FR"), tallies.Place("site", world.site_a.pk),
              tallies.Place("site", world.site_b.pk)]
    assert tallies.durations(scope, places) == tallies.durations(scope, places, direct=True)
    assert tallies.durations(scope, places)[3].decided == 0 and tallies.durations(scope, places)[2].decided == 5
    assert sorted(tallies.timeliness(scope, 30)) == sorted(tallies.timeliness(scope, 30, direct=True))
    assert sorted(tallies.issue_counts(scope)) == sorted(tallies.issue_counts(scope, direct=True))
    assert counted(tallies.document_counts(scope, world.trial, GROUPS)) == counted(
        tallies.document_counts(scope, world.trial, GROUPS, direct=True))


def test_the_qc_metrics_are_empty_without_decisions(world):
    result = qc_metrics.report(world.sponsor, world.trial)
    assert [(p.decided, p.median_days, p.p90_days, p.rejection_rate) for p in result.places] == [
        (0, None, None, None)] * len(result.places)


def test_the_ranks_of_the_median_and_90th_percentile():
    assert tallies.ranks(1) == (0, 0, 0)
    assert tallies.ranks(2) == (0, 1, 1)
    assert tallies.ranks(10) == (4, 5, 8)
    assert tallies.ranks(11) == (5, 5, 9)
    for n in range(1, 500):
        values = list(range(n))
        assert tallies.ranks(n)[2] == qc_metrics.percentile(values, 90)
        low, high, _ = tallies.ranks(n)
        assert (low + high) / 2 == statistics.median(values)


# --- The pages ----------------------------------------------------------------------------------------------------

def test_the_listings_count_from_the_running_counts(world, qc_member, as_user):
    mixed(world, qc_member)
    client = as_user(world.sponsor)
    page = client.get(f"{BASE}/artifact/05.02.04/").context["page"]
    assert page.paginator.count == TmfDocument.objects.filter(artifact__number="05.02.04").count() == 6
    page = client.get(f"{BASE}/artifact/05.02.04/?site=LIL&status=current").context["page"]
    assert page.paginator.count == len(page.object_list) == 2
    page = client.get(f"{BASE}/search/?site=trial").context["page"]
    assert page.paginator.count == TmfDocument.objects.filter(trial=world.trial, site__isnull=True).count()
    assert page.paginator.count == len(page.object_list)


def test_a_search_matching_more_than_the_cap_says_so_and_lists_the_latest_filed_first(world, as_user, monkeypatch):
    for n in range(5):
        document(world, "01.01.06", title=f"Rapport {n}")
    document(world, "01.01.08", title="Audit")
    client = as_user(world.sponsor)
    with CaptureQueriesContext(connection) as ranked:
        response = client.get(f"{BASE}/search/?q=rapport")
    assert response.context["capped"] is None and response.context["page"].paginator.count == 5
    monkeypatch.setattr(views, "SEARCH_CAP", 3)
    with CaptureQueriesContext(connection) as capped:
        response = client.get(f"{BASE}/search/?q=rapport")
    page = response.context["page"]
    assert response.context["capped"] == 3 and page.paginator.count == 3
    assert [d.title for d in page.object_list] == ["Rapport 4", "Rapport 3", "Rapport 2"]
    html = response.content.decode()
    assert 'id="capped"' in html and "3" in html.split('id="capped"', 1)[1].split("</p>", 1)[0]
    assert len(capped) == len(ranked)


def test_a_listing_filtered_by_dates_counts_up_to_its_cap(world, as_user, monkeypatch):
    for n in range(4):
        document(world, "01.01.06", title=f"Daté {n}", date=datetime.date(2026, 1, 1 + n))
    monkeypatch.setattr(views, "FILTERED_CAP", 2)
    client = as_user(world.sponsor)
    response = client.get(f"{BASE}/artifact/01.01.06/?date_from=2026-01-01")
    assert response.context["capped"] == 2 and 'id="capped"' in response.content.decode()
    response = client.get(f"{BASE}/artifact/01.01.06/?date_from=2026-01-03")
    assert response.context["capped"] is None and response.context["page"].paginator.count == 2


def test_the_qc_page_lists_pending_documents_and_open_issues_a_page_at_a_time(world, qc_member, as_user,
                                                                              monkeypatch):
    monkeypatch.setattr(qc_views, "LIST_SIZE", 2)
    pending = [document(world, "05.02.04", place=world.site_a, title=f"P{n}", qc_status="pending",
                        filed_hours_ago=50 - n) for n in range(5)]
    for doc in pending[3:]:
        tmf_qc.qc_reject(actor=qc_member, document=doc, category="illegible", comment="Flou")
    client = as_user(qc_member)
    first = client.get(f"{BASE}/qc/").context
    assert first["pending_count"] == 3 and [d.title for d in first["pending"]] == ["P0", "P1"]
    assert [d.title for d in client.get(f"{BASE}/qc/?pending_page=2").context["pending"]] == ["P2"]
    assert first["issues"].paginator.count == 2 and len(first["issues"]) == 2
    assert [i.document.title for i in first["issues"]] == ["P4", "P3"]  # latest rejection first
    TmfQcIssue.objects.filter(document=pending[4]).update(closed_at=NOW, closed_by=qc_member)
    assert [i.document.title for i in client.get(f"{BASE}/qc/").context["issues"]] == ["P3"]
    # The rows' links, spelt from the TMF's address, are those of the URLconf.
    html = client.get(f"{BASE}/qc/").content.decode()
    nct = world.trial.nct_number
    assert f'action="{reverse("tmf_qc_decide", args=[nct, pending[0].pk])}"' in html
    assert f'href="{reverse("tmf_document", args=[nct, pending[3].pk])}"' in html


def test_the_listing_rows_link_to_the_urlconfs_addresses(world, as_user):
    made = document(world, "05.02.04", place=world.site_a, title="CV")
    html = as_user(world.sponsor).get(f"{BASE}/artifact/05.02.04/").content.decode()
    nct = world.trial.nct_number
    for name, args in (("tmf_artifact", [nct, "05.02.04"]), ("tmf_document", [nct, made.pk]),
                       ("tmf_document_download", [nct, made.pk])):
        assert f'href="{reverse(name, args=args)}"' in html


def test_the_search_page_lists_in_the_reference_models_order(world, qc_member, as_user):
    """Ordered by the artifact's id while the ids follow the numbers (read from the listing index), by the number
    through the join otherwise: the same order either way."""
    from regulatory.models.tmf import LISTING_ORDER

    mixed(world, qc_member)
    client = as_user(world.sponsor)

    def expected():
        return list(TmfDocument.objects.filter(trial=world.trial).order_by("artifact__number", *LISTING_ORDER)
                    .values_list("pk", flat=True)[:50])

    assert views._reference_order()[0] == "artifact_id"
    assert [d.pk for d in client.get(f"{BASE}/search/").context["page"].object_list] == expected()
    first, last = artifact("01.01.06"), artifact("05.04.03")
    TmfArtifact.objects.filter(pk=first.pk).update(number="zz")
    TmfArtifact.objects.filter(pk=last.pk).update(number="01.01.06")
    TmfArtifact.objects.filter(pk=first.pk).update(number="05.04.03")
    assert views._reference_order()[0] == "artifact__number"
    assert [d.pk for d in client.get(f"{BASE}/search/").context["page"].object_list] == expected()
