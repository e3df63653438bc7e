"""The TMF in the browser's eyes: who reads what, the inspector's window, search, filters, filing by hand."""

import datetime
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from consent import services as consent_services
from consent.tests.factories import make_form
from regulatory import permissions
from regulatory.models import AuditEntry, InspectorGrant, TmfArtifact, TmfDocument
from regulatory.models.tmf import SearchVectorColumn
from regulatory.tests.factories import make_grant, make_member, make_opinion, make_site, make_user, make_version
from regulatory.tmf import search as tmf_search
from tests.sharing import shared_fixture

BASE = "/tmf/NCT07063680/"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@shared_fixture
def tmf(world):
    v1 = make_version(trial=world.trial, number="1.0", summary_of_changes="Première version du protocole")
    v2 = make_version(trial=world.trial, number="1.1", amendment=1, version_date=datetime.date(2026, 3, 1),
                      summary_of_changes="Amendements de la posologie de l'argipressine",
                      non_substantial_justification="Rédactionnel.")
    make_opinion(trial=world.trial, version=v1)
    form = make_form(trial=world.trial)
    consent_services.form_make_effective(actor=world.sponsor, version=form, sites=[world.site_a, world.site_b],
                                         effective_from=timezone.now() - datetime.timedelta(days=1))
    site_doc = lambda site: TmfDocument.objects.get(site=site, artifact__number="02.02.03")  # noqa: E731
    return SimpleNamespace(v1=v1, v2=v2, form=form, dij=site_doc(world.site_a), lil=site_doc(world.site_b))


def urls(tmf):
    return [BASE, f"{BASE}zone/02/", f"{BASE}artifact/02.02.03/", f"{BASE}search/?q=protocole",
            f"{BASE}documents/{tmf.dij.pk}/", f"{BASE}documents/{tmf.dij.pk}/download/",
            f"{BASE}documents/{tmf.dij.pk}/view/", f"{BASE}completeness/"]


@pytest.mark.parametrize("persona", ["sponsor", "qa", "inspector", "admin"])
def test_trial_wide_readers_browse_every_page(world, tmf, as_user, persona):
    client = as_user(getattr(world, persona))
    for url in urls(tmf):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", ["coordinator_a", "investigator_a", "other_sponsor", "nobody"])
def test_everyone_else_gets_404(world, tmf, as_user, persona):
    client = as_user(getattr(world, persona))
    for url in urls(tmf):
        assert client.get(url).status_code == 404, url


def test_anonymous_is_sent_to_login(client, world, tmf):
    for url in urls(tmf):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


@pytest.mark.parametrize("window", ["past", "future", "revoked"])
def test_outside_the_window_the_inspector_sees_nothing(world, tmf, as_user, window):
    now = timezone.now()
    grant = world.inspector_grant
    if window == "past":
        InspectorGrant.objects.filter(pk=grant.pk).update(starts_at=now - datetime.timedelta(days=9),
                                                           ends_at=now - datetime.timedelta(seconds=1))
    elif window == "future":
        InspectorGrant.objects.filter(pk=grant.pk).update(starts_at=now + datetime.timedelta(hours=1))
    else:
        InspectorGrant.objects.filter(pk=grant.pk).update(revoked_at=now)
    client = as_user(world.inspector)
    for url in [*urls(tmf), "/nct07063680/", "/nct07063680/sites/dij/", "/nct07063680/consent-forms/",
                "/nct07063680/dashboard/", "/audit/"]:
        assert client.get(url).status_code == 404, url
    assert "NCT07063680" not in client.get("/").content.decode()


def test_a_window_on_some_sites_hides_the_others(world, tmf, as_user):
    world.inspector_grant.sites.set([world.site_a])
    client = as_user(world.inspector)
    assert client.get(f"{BASE}documents/{tmf.dij.pk}/download/").status_code == 200
    assert client.get(f"{BASE}documents/{tmf.lil.pk}/").status_code == 404
    assert client.get(f"{BASE}documents/{tmf.lil.pk}/download/").status_code == 404
    listing = client.get(f"{BASE}artifact/02.02.03/").content.decode()
    assert f"documents/{tmf.dij.pk}/" in listing and f"documents/{tmf.lil.pk}/" not in listing
    assert client.get(f"{BASE}search/?site=LIL").context["page"].paginator.count == 0
    assert client.get("/nct07063680/sites/lil/").status_code == 404
    assert client.get("/nct07063680/sites/dij/").status_code == 200


def test_every_page_an_inspector_opens_and_every_download_is_audited(world, tmf, as_user):
    client = as_user(world.inspector)
    client.get(f"{BASE}artifact/02.02.03/")
    client.get(f"{BASE}documents/{tmf.dij.pk}/download/")
    views = AuditEntry.objects.filter(action="inspection.view", actor=world.inspector)
    assert views.filter(changes__path=[None, f"{BASE}artifact/02.02.03/"]).exists()
    download = AuditEntry.objects.get(action="inspection.download", actor=world.inspector)
    assert download.changes["path"] == [None, f"{BASE}documents/{tmf.dij.pk}/download/"]
    assert "attachment" in download.changes["file"][1]
    assert not AuditEntry.objects.filter(action__startswith="inspection.", actor=world.sponsor).exists()


def test_an_inspector_writes_nothing_anywhere(world, tmf, as_user):
    client = as_user(world.inspector)
    before = (AuditEntry.objects.exclude(action__startswith="inspection.").count(), TmfDocument.objects.count())
    upload = SimpleUploadedFile("cv.pdf", PDF, content_type="application/pdf")
    for url, data in [(f"{BASE}upload/", {"file": upload}), (f"{BASE}inspections/", {}),
                      (f"{BASE}inspections/{world.inspector_grant.pk}/close/", {"reason": "x"}),
                      ("/nct07063680/sites/dij/participants/", {}), ("/admin/pages/", {}),
                      ("/accounts/password_change/", {}), (f"{BASE}documents/{tmf.dij.pk}/", {})]:
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "lecture seule" in response.content.decode()
    assert (AuditEntry.objects.exclude(action__startswith="inspection.").count(),
            TmfDocument.objects.count()) == before
    assert AuditEntry.objects.filter(action="inspection.write_refused").count() == 7


def test_search_filters_and_version_history(world, tmf, as_user):
    client = as_user(world.sponsor)
    found = client.get(f"{BASE}search/?q=posologie").context["page"].object_list
    assert [d.version for d in found] == ["1.1"]
    if connection.vendor == "postgresql":  # French stemming: the plural finds the singular, and back
        found = client.get(f"{BASE}search/?q=amendement posologies").context["page"].object_list
        assert [d.version for d in found] == ["1.1"]
    assert client.get(f"{BASE}search/?status=superseded").context["page"].paginator.count == 1
    assert client.get(f"{BASE}search/?site=DIJ").context["page"].paginator.count == 1
    assert client.get(f"{BASE}search/?date_from=2026-02-01&date_to=2026-03-31").context[
        "page"].paginator.count == 1
    assert client.get(f"{BASE}search/?date_from=not-a-date").context["page"].paginator.count == 0
    v2 = TmfDocument.objects.get(source_id=str(tmf.v2.pk), source_type="regulatory.protocolversionpage")
    history = client.get(f"{BASE}documents/{v2.pk}/").context["versions"]
    assert [d.version for d in history] == ["1.1", "1.0"]


def test_pdfs_open_inline_and_download_as_attachments(world, tmf, as_user):
    client = as_user(world.qa)
    inline = client.get(f"{BASE}documents/{tmf.dij.pk}/view/")
    assert inline["Content-Type"] == "application/pdf" and inline["Content-Disposition"].startswith("inline")
    attachment = client.get(f"{BASE}documents/{tmf.dij.pk}/download/")
    assert attachment["Content-Disposition"].startswith("attachment")
    assert b"".join(attachment.streaming_content).startswith(b"%PDF-")


def upload_post(**overrides):
    data = {"artifact": TmfArtifact.objects.get(number="05.02.04").pk, "level": "site", "country": "FR",
            "title": "CV du Dr Investigateur", "document_date": "2026-02-01", "version": "1", "status": "current",
            "file": SimpleUploadedFile("cv investigateur.pdf", PDF, content_type="application/pdf")}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_sponsor_files_a_document_by_hand_and_supersedes_it(world, as_user, settings):
    client = as_user(world.sponsor)
    response = client.post(f"{BASE}upload/", upload_post(site=world.site_a.pk))
    assert response.status_code == 302
    first = TmfDocument.objects.get(artifact__number="05.02.04")
    assert (first.site, first.file_name, len(first.sha256)) == (world.site_a, "cv_investigateur.pdf", 64)
    assert AuditEntry.objects.filter(action="tmf.document_filed", object_id=str(first.pk)).exists()
    client.post(f"{BASE}upload/", upload_post(site=world.site_a.pk, version="2", replaces=first.pk))
    first.refresh_from_db()
    second = TmfDocument.objects.exclude(pk=first.pk).get(artifact__number="05.02.04")
    assert first.status == "superseded" and first.series == second.series
    assert [d.version for d in client.get(f"{BASE}documents/{second.pk}/").context["versions"]] == ["2", "1"]
    download = client.get(f"{BASE}documents/{second.pk}/download/")
    assert b"".join(download.streaming_content) == PDF


@pytest.mark.parametrize("case", ["trial level not allowed", "site missing", "exe", "pdf that is not",
                                  "other trial site", "empty title", "empty file"])
def test_bad_filings_are_refused_and_leave_nothing(world, as_user, case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    bad = {
        "trial level not allowed": {"level": "trial", "site": None},
        "site missing": {"site": None},
        "exe": {"site": world.site_a.pk, "file": SimpleUploadedFile("cv.exe", b"MZ\x90\x00", "application/pdf")},
        "pdf that is not": {"site": world.site_a.pk, "file": SimpleUploadedFile("cv.pdf", b"PK\x03\x04zz")},
        "other trial site": {"site": world.other_site.pk},
        "empty title": {"site": world.site_a.pk, "title": "   "},
        "empty file": {"site": world.site_a.pk, "file": SimpleUploadedFile("cv.pdf", b"")},
    }[case]
    response = as_user(world.sponsor).post(f"{BASE}upload/", upload_post(**bad))
    assert response.status_code == 400
    assert not TmfDocument.objects.exists()
    assert not AuditEntry.objects.filter(action="tmf.document_filed").exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("persona", ["qa", "coordinator_a", "other_sponsor"])
def test_only_the_sponsor_files_and_opens_windows(world, as_user, persona):
    client = as_user(getattr(world, persona))
    assert client.get(f"{BASE}upload/").status_code == 404
    assert client.post(f"{BASE}upload/", upload_post(site=world.site_a.pk)).status_code == 404
    assert client.get(f"{BASE}inspections/").status_code == 404
    assert not TmfDocument.objects.exists()


def local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_the_sponsor_opens_and_closes_an_inspection_window(world, tmf, as_user):
    auditor = make_user("auditor")
    client = as_user(world.sponsor)
    now = timezone.now()
    response = client.post(f"{BASE}inspections/", {
        "inspector": auditor.pk, "sites": [world.site_b.pk], "starts_at": local(now - datetime.timedelta(hours=1)),
        "ends_at": local(now + datetime.timedelta(days=3)), "purpose": "Inspection ANSM"})
    assert response.status_code == 302
    grant = InspectorGrant.objects.get(inspector=auditor)
    assert list(grant.sites.all()) == [world.site_b]
    assert AuditEntry.objects.filter(action="inspection.window_granted", object_id=str(grant.pk)).exists()
    reader = as_user(auditor)
    assert reader.get(f"{BASE}documents/{tmf.lil.pk}/").status_code == 200
    assert reader.get(f"{BASE}documents/{tmf.dij.pk}/").status_code == 404
    client = as_user(world.sponsor)
    assert client.post(f"{BASE}inspections/{grant.pk}/close/", {"reason": ""}).status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is None  # a reason is required
    client.post(f"{BASE}inspections/{grant.pk}/close/", {"reason": "Mission terminée"})
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert as_user(auditor).get(f"{BASE}documents/{tmf.lil.pk}/").status_code == 404


@pytest.mark.parametrize("case", ["ends before start", "already over", "staff account", "admin"])
def test_bad_windows_are_refused(world, as_user, case):
    now = timezone.now()
    inspector = {"staff account": world.coordinator_a, "admin": world.admin}.get(case) or make_user("auditor")
    starts, ends = {"ends before start": (now + datetime.timedelta(days=2), now + datetime.timedelta(days=1)),
                    "already over": (now - datetime.timedelta(days=2), now - datetime.timedelta(days=1))}.get(
        case, (now, now + datetime.timedelta(days=1)))
    before = InspectorGrant.objects.count()
    response = as_user(world.sponsor).post(f"{BASE}inspections/", {
        "inspector": inspector.pk, "starts_at": local(starts), "ends_at": local(ends)})
    assert response.status_code == 400
    assert InspectorGrant.objects.count() == before


def test_an_inspector_with_an_expired_window_and_a_new_one_sees_again(world, tmf, as_user):
    InspectorGrant.objects.filter(pk=world.inspector_grant.pk).update(ends_at=timezone.now())
    assert as_user(world.inspector).get(BASE).status_code == 404
    make_grant(inspector=world.inspector, trial=world.trial)
    assert as_user(world.inspector).get(BASE).status_code == 200


def test_an_inspector_of_another_trial_sees_nothing_of_this_one(world, tmf, as_user):
    other = make_member("other-inspector", role="inspector", trial=world.other_trial)
    make_grant(inspector=other, trial=world.other_trial)
    for url in urls(tmf):
        assert as_user(other).get(url).status_code == 404, url


# --- Which documents, in which order, found how (bench/RESULTS.md (b)) --------------------------------------------

def filed(trial, number, *, level="trial", site=None, title="Document", search_text="", series="", date=None,
          save=True):
    document = TmfDocument(trial=trial, artifact=TmfArtifact.objects.get(number=number), level=level,
                           country="" if level == "trial" else "FR", site=site, title=title,
                           search_text=search_text, series=series,
                           document_date=date or datetime.date(2026, 1, 1), file_name="d.pdf")
    if save:
        document.save()
    return document


def where_fields(documents) -> list[str]:
    """The fields the query's WHERE clause compares, in order."""
    return [child.lhs.target.name if hasattr(child, "lhs") else None for child in documents.query.where.children]


@pytest.mark.parametrize("persona", ["sponsor", "qa", "admin", "inspector"])
def test_a_reader_of_every_site_gets_the_trial_documents_with_no_site_condition(world, tmf, persona):
    """The inspector's window names no site: every site, as for the sponsor, QA and administrators. (An inspector
    reads QC-approved documents only: one more condition, on the document's own column.)"""
    user = getattr(world, persona)
    filed(world.other_trial, "01.01.06", level="site", site=world.other_site)
    documents = permissions.tmf_documents_visible(user, world.trial)
    assert permissions.reads_every_site(user, world.trial)
    assert where_fields(documents) == (["trial", "qc_status"] if persona == "inspector" else ["trial"])
    assert set(documents) == set(TmfDocument.objects.filter(trial=world.trial))
    assert {tmf.dij, tmf.lil} <= set(documents)


def test_a_window_on_some_sites_keeps_the_site_condition(world, tmf):
    world.inspector_grant.sites.set([world.site_a])
    documents = permissions.tmf_documents_visible(world.inspector, world.trial)
    assert not permissions.reads_every_site(world.inspector, world.trial)
    assert where_fields(documents) == ["trial", "qc_status", None]  # trial, QC-approved, (site IS NULL OR site IN …)
    assert tmf.dij in documents and tmf.lil not in documents
    assert set(documents) == set(TmfDocument.objects.filter(trial=world.trial).exclude(site=world.site_b))
    assert documents.filter(site__isnull=True).exists()
    world.inspector_grant.sites.set([world.site_a, world.site_b])  # every site, named one by one
    assert permissions.reads_every_site(world.inspector, world.trial)
    assert set(permissions.tmf_documents_visible(world.inspector, world.trial)) == set(
        TmfDocument.objects.filter(trial=world.trial))


def test_a_new_site_outside_the_window_is_not_read(world, tmf):
    world.inspector_grant.sites.set([world.site_a, world.site_b])
    late = make_site(trial=world.trial, code="REN")
    document = filed(world.trial, "01.01.06", level="site", site=late)
    assert not permissions.reads_every_site(world.inspector, world.trial)
    assert document not in permissions.tmf_documents_visible(world.inspector, world.trial)
    assert document in permissions.tmf_documents_visible(world.sponsor, world.trial)


@pytest.mark.parametrize("persona", ["other_sponsor", "coordinator_a", "nobody"])
def test_nobody_else_reads_the_trial_documents(world, tmf, persona):
    user = getattr(world, persona)
    assert not permissions.tmf_documents_visible(user, world.trial).exists()


def test_a_sponsor_sees_nothing_of_another_trial(world, tmf):
    other = filed(world.other_trial, "01.01.06", level="site", site=world.other_site)
    assert not permissions.reads_every_site(world.sponsor, world.other_trial)
    assert not permissions.tmf_documents_visible(world.sponsor, world.other_trial).exists()
    assert other not in permissions.tmf_documents_visible(world.sponsor, world.trial)
    assert list(permissions.tmf_documents_visible(world.other_sponsor, world.other_trial)) == [other]


def test_the_artifact_page_lists_by_level_site_series_then_newest_first(world, as_user):
    """Sites come in the order they were created (their id), not by code: ANG, created last, comes last."""
    angers = make_site(trial=world.trial, code="ANG")
    day = datetime.date
    documents = [
        filed(world.trial, "01.01.06", title="trial b", series="b", date=day(2026, 1, 1)),
        filed(world.trial, "01.01.06", title="trial a old", series="a", date=day(2025, 1, 1)),
        filed(world.trial, "01.01.06", title="trial a new", series="a", date=day(2026, 6, 1)),
        filed(world.trial, "01.01.06", level="site", site=angers, title="ANG"),
        filed(world.trial, "01.01.06", level="site", site=world.site_b, title="LIL"),
        filed(world.trial, "01.01.06", level="site", site=world.site_a, title="DIJ 1"),
        filed(world.trial, "01.01.06", level="site", site=world.site_a, title="DIJ 2"),  # same date: newest pk
        filed(world.trial, "01.01.06", level="country", title="FR"),
    ]
    expected = ["FR", "DIJ 2", "DIJ 1", "LIL", "ANG", "trial a new", "trial a old", "trial b"]
    page = as_user(world.sponsor).get(f"{BASE}artifact/01.01.06/").context["page"]
    assert [d.title for d in page.object_list] == expected
    assert [d.title for d in TmfDocument.objects.filter(pk__in=[d.pk for d in documents])] == expected


def test_the_default_order_is_the_reference_model_then_the_listing_order(world):
    angers = make_site(trial=world.trial, code="ANG")
    for number, site in [("05.04.03", angers), ("01.01.06", None), ("02.01.02", None), ("05.04.03", world.site_b)]:
        filed(world.trial, number, title=f"{number} {site.code if site else ''}".strip(),
              level="site" if site else "trial", site=site)
    assert [d.title for d in TmfDocument.objects.all()] == ["01.01.06", "02.01.02", "05.04.03 LIL", "05.04.03 ANG"]


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the search_vector column is PostgreSQL's")


@pytest.fixture
def searchable(world):
    """Three documents made with bulk_create (which must leave the generated column to PostgreSQL)."""
    made = TmfDocument.objects.bulk_create([
        filed(world.trial, "01.01.06", title="Rapports de monitorage", save=False),
        filed(world.trial, "01.01.08", title="Courrier au comité", search_text="Rapport annuel de sécurité",
              save=False),
        filed(world.trial, "01.01.14", title="Certificat d'audit", search_text="Audit du centre", save=False),
    ])
    return type("Searchable", (), dict(zip(["title", "text", "other"], made, strict=True)))


@postgres_only
def test_the_search_vector_is_a_stored_generated_column_with_a_gin_index(world):
    with connection.cursor() as cursor:
        cursor.execute("SELECT attgenerated FROM pg_attribute WHERE attrelid = 'regulatory_tmfdocument'::regclass "
                       "AND attname = 'search_vector'")
        assert cursor.fetchone() == ("s",)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'tmf_search_vector_gin'")
        assert "USING gin (search_vector)" in cursor.fetchone()[0]


@postgres_only
def test_search_finds_a_stemmed_french_word_in_the_title_first_then_the_text(world, searchable):
    for words in ("rapport", "rapports", "RAPPORT"):
        found = tmf_search.search(TmfDocument.objects.filter(trial=world.trial), words)
        assert list(found) == [searchable.title, searchable.text], words
        assert found[0].search_rank > found[1].search_rank > 0
    sql = str(tmf_search.search(TmfDocument.objects.all(), "rapport").query)
    assert '"regulatory_tmfdocument"."search_vector" @@ (websearch_to_tsquery' in sql
    assert 'ts_rank("regulatory_tmfdocument"."search_vector", websearch_to_tsquery' in sql
    assert "to_tsvector" not in sql  # nothing computed per row: the stored column is matched and ranked


@postgres_only
def test_search_reads_words_as_a_web_search(world, searchable):
    def titles(words):
        return {d.title for d in tmf_search.search(TmfDocument.objects.all(), words)}

    assert titles("rapport -monitorage") == {"Courrier au comité"}
    assert titles('"rapport annuel"') == {"Courrier au comité"}
    assert titles("monitorage or audit") == {"Rapports de monitorage", "Certificat d'audit"}
    assert titles("rapport audit") == set()  # every word must match


@postgres_only
def test_the_search_vector_follows_every_write(world, searchable, as_user):
    TmfDocument.objects.filter(pk=searchable.other.pk).update(title="Rapport d'audit")
    document = filed(world.trial, "01.01.15", title="Liste des notes", search_text="rapport")
    document.title = "Rapport de notes"
    document.save()
    found = as_user(world.sponsor).get(f"{BASE}search/?q=rapport").context["page"]
    assert found.paginator.count == 4
    assert [d.title for d in found.object_list][-1] == "Courrier au comité"  # the only match in the text alone
    ranked = tmf_search.search(TmfDocument.objects.filter(trial=world.trial), "rapport")
    assert list(found.object_list) == list(ranked)  # the page shows the search's order


@postgres_only
def test_a_ranked_search_pages_over_ids_then_reads_the_page(world, as_user):
    TmfDocument.objects.bulk_create([filed(world.trial, "01.01.06", title=f"Rapport {n}", save=False,
                                           date=datetime.date(2026, 1, 1) + datetime.timedelta(days=n))
                                     for n in range(60)])
    client = as_user(world.sponsor)
    first = client.get(f"{BASE}search/?q=rapport")
    pages = [first.context["page"], client.get(f"{BASE}search/?q=rapport&page=2").context["page"]]
    assert [page.paginator.count for page in pages] == [60, 60]
    assert [len(page.object_list) for page in pages] == [50, 10]
    titles = [d.title for page in pages for d in page.object_list]
    assert titles == [f"Rapport {n}" for n in range(59, -1, -1)]  # same rank: newest first
    assert f"documents/{pages[0].object_list[0].pk}/" in first.content.decode()


@postgres_only
def test_a_search_works_inside_a_subquery(world, searchable):
    """The column follows the table's alias when the search becomes a subquery (U0 …)."""
    found = tmf_search.search(TmfDocument.objects.filter(trial=world.trial), "rapport")
    outer = TmfDocument.objects.filter(pk__in=found.values("pk"))
    assert set(outer) == {searchable.title, searchable.text}
    assert found.count() == 2


def test_search_on_sqlite_keeps_substrings(world):
    if connection.vendor == "postgresql":
        pytest.skip("substring search is SQLite's")
    filed(world.trial, "01.01.06", title="Rapports de monitorage")
    filed(world.trial, "01.01.08", title="Courrier", search_text="rapport annuel")
    found = tmf_search.search(TmfDocument.objects.all(), "rapport")
    assert {d.title for d in found} == {"Rapports de monitorage", "Courrier"}
    assert "search_vector" not in str(found.query)


def test_the_search_vector_column_belongs_to_tmf_documents_only(db):
    with pytest.raises(ValueError, match="column of TmfDocument"):
        TmfArtifact.objects.annotate(vector=SearchVectorColumn())


def test_search_ignores_accents_and_case_on_both_databases(world, as_user):
    """"hyponatremie" finds "hyponatrémie" and the other way round, in titles and texts (SQLite folds through
    `trialdocs_fold`, PostgreSQL through `unaccent` in its text search configuration)."""
    filed(world.trial, "01.01.06", title="Hyponatrémie sévère", search_text="")
    filed(world.trial, "01.01.08", title="Courrier", search_text="Cas d'HYPONATRÉMIE déclaré ; œdème")
    filed(world.trial, "01.01.14", title="Certificat", search_text="Rien à voir")
    for words in ("hyponatremie", "hyponatrémie", "HYPONATREMIE", "Hyponatrémie"):
        found = tmf_search.search(TmfDocument.objects.filter(trial=world.trial), words)
        assert {d.title for d in found} == {"Hyponatrémie sévère", "Courrier"}, words
    assert {d.title for d in tmf_search.search(TmfDocument.objects.all(), "oedeme")} == {"Courrier"}
    assert {d.title for d in tmf_search.search(TmfDocument.objects.all(), "severe")} == {"Hyponatrémie sévère"}
    page = as_user(world.sponsor).get(f"{BASE}search/?q=hyponatremie").context["page"]
    assert page.paginator.count == 2
