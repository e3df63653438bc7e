"""The investigator site file a section at a time (issue 19: a site may hold 10^5 documents): each section's count
(the running counts on PostgreSQL, the documents counted on SQLite) equal to the documents it shows, its newest
documents on the binder's page, every one of them a page at a time on the section's page (read per artifact or in
the site's date order, the same either way), QC-approved and not withdrawn documents only, the site's staff and
inspectors in a window only; a bad page number gives a page, not an error; the number of queries does not depend
on the number of documents; the zip still holds every document."""

import datetime
import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from consent import isf
from regulatory.models import Role, TmfArtifact, TmfDocument
from regulatory.tests.factories import make_grant, make_member

ISF = "/nct07063680/sites/dij/isf/"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def filed(world, number, *, site=None, title="Document", date=datetime.date(2026, 1, 1), status="current",
          qc_status="approved"):
    return TmfDocument.objects.create(
        trial=world.trial, artifact=TmfArtifact.objects.get(number=number), level="site", country="FR",
        site=site or world.site_a, title=title, status=status, qc_status=qc_status, document_date=date,
        file_name="d.pdf", file=ContentFile(b"%PDF-1.4\n%%EOF\n", name="d.pdf"))


def letters(world, n, *, first=0):
    """`n` monitoring-visit letters of DIJ (two artifacts of the section), a day apart, some on the same day."""
    return [filed(world, "05.04.03" if index % 3 else "05.04.12", title=f"Letter {index:03d}",
                  date=datetime.date(2026, 1, 1) + datetime.timedelta(days=index // 2))
            for index in range(first, first + n)]


def unwanted(world):
    """Documents the ISF of DIJ never shows: pending or rejected at QC, withdrawn, another site's."""
    return [filed(world, "05.04.03", title="Pending letter", qc_status="pending", date=datetime.date(2027, 1, 1)),
            filed(world, "05.04.03", title="Rejected letter", qc_status="rejected", date=datetime.date(2027, 1, 1)),
            filed(world, "05.04.03", title="Withdrawn letter", status="withdrawn", date=datetime.date(2027, 1, 1)),
            filed(world, "05.04.03", site=world.site_b, title="Letter of LIL", date=datetime.date(2027, 1, 1))]


def newest_first(documents):
    return sorted(documents, key=lambda d: (d.document_date, d.pk), reverse=True)


def expected(world, slug):
    """The section's documents as `isf.documents` holds them (the one query of the ISF's documents), newest
    first."""
    numbers = {s: group for s, _heading, group in isf.SECTIONS}
    named = {n for group in numbers.values() for n in group}
    return newest_first([d for d in isf.documents(world.site_a) if (
        d.artifact.number in numbers[slug] if slug in numbers else d.artifact.number not in named)])


def test_each_section_counts_what_it_holds_and_shows_its_newest(world, client):
    made = letters(world, 30)
    filed(world, "05.02.18", title="Delegation log v1")
    other = filed(world, "05.02.04", title="Curriculum vitae")
    hidden = unwanted(world)
    client.force_login(world.coordinator_a)
    response = client.get(ISF)
    assert response.status_code == 200
    sections = {section.slug: section for section in response.context["binder"].sections}
    assert list(sections) == [*(slug for slug, _h, _n in isf.SECTIONS), "other"]
    for slug, section in sections.items():
        assert section.count == len(expected(world, slug)), slug
        assert section.documents == expected(world, slug)[:isf.OVERVIEW_SIZE], slug
    monitoring = sections["monitoring"]
    assert monitoring.count == 30 and monitoring.documents == newest_first(made)[:isf.OVERVIEW_SIZE]
    assert sections["other"].documents[0] == other
    html = response.content.decode()
    assert "30 documents." in html and "Les 10 plus récents sont affichés." in html  # the pages are in French
    assert "?section=monitoring" in html and "Les 30 documents de cette section" in html
    assert "Letter 029" in html and "Letter 000" not in html  # the oldest is on the section's page
    for document in hidden:
        assert document.title not in html
    assert f"{ISF}documents/{made[-1].pk}/" in html
    assert client.get(f"{ISF}documents/{made[0].pk}/").status_code == 200
    assert client.get(f"{ISF}documents/{hidden[0].pk}/").status_code == 404


@pytest.mark.parametrize("dense", [True, False], ids=["site order", "per artifact"])
def test_a_sections_page_lists_every_document_once_newest_first(world, client, monkeypatch, dense):
    made = letters(world, 30)
    unwanted(world)
    monkeypatch.setattr(isf, "PAGE_SIZE", 7)
    monkeypatch.setattr(isf, "DENSE", 0 if dense else 2)  # every section read in the site's order, or none
    client.force_login(world.coordinator_a)
    seen = []
    for number in range(1, 6):
        response = client.get(f"{ISF}?section=monitoring&page={number}")
        assert response.status_code == 200
        listing = response.context["listing"]
        assert response.context["section"].dense is dense
        assert listing.paginator.count == 30 and listing.paginator.num_pages == 5 and listing.number == number
        assert response.context["asked"] is None
        seen += list(listing.object_list)
    assert seen == newest_first(made) == expected(world, "monitoring")
    html = response.content.decode()
    assert "page 5 sur 5" in html and "?section=monitoring&amp;page=4" in html and "Pending letter" not in html


@pytest.mark.parametrize(("asked", "shown"), [("abc", 1), ("0", 5), ("-3", 5), ("99", 5), ("", 1), ("2.5", 1)])
def test_a_bad_page_number_gives_the_nearest_page_and_says_so(world, client, monkeypatch, asked, shown):
    letters(world, 30)
    monkeypatch.setattr(isf, "PAGE_SIZE", 7)
    client.force_login(world.coordinator_a)
    response = client.get(f"{ISF}?section=monitoring&page={asked}")
    assert response.status_code == 200
    assert response.context["listing"].number == shown
    assert (f"Cette section n'a pas de page « {asked} » : la page {shown} sur 5 est affichée."
            in response.content.decode().replace("&#x27;", "'"))


def test_an_unknown_or_empty_section(world, client):
    client.force_login(world.coordinator_a)
    assert client.get(f"{ISF}?section=nothing-such").status_code == 404
    response = client.get(f"{ISF}?section=training&page=3")
    assert response.status_code == 200 and "Rien de classé pour le moment." in response.content.decode()


def test_inspectors_read_it_within_their_window_only(world, client):
    letters(world, 12)
    client.force_login(world.inspector)  # a window open on the whole trial
    response = client.get(ISF)
    assert response.status_code == 200
    assert {s.slug: s.count for s in response.context["binder"].sections}["monitoring"] == 12
    assert client.get(f"{ISF}?section=monitoring").status_code == 200
    late = make_member("inspector-late", role=Role.INSPECTOR, trial=world.trial)
    make_grant(inspector=late, trial=world.trial, granted_by=world.sponsor,
               starts_at=timezone.now() - datetime.timedelta(days=10),
               ends_at=timezone.now() - datetime.timedelta(days=3))
    elsewhere = make_member("inspector-lil", role=Role.INSPECTOR, trial=world.trial)
    make_grant(inspector=elsewhere, trial=world.trial, sites=[world.site_b], granted_by=world.sponsor)
    for user in (late, elsewhere, world.sponsor):
        client.force_login(user)
        for path in (ISF, f"{ISF}?section=monitoring", f"{ISF}?section=monitoring&page=2", f"{ISF}export/"):
            response = client.get(path)
            assert response.status_code == 404, (user, path)
            assert b"Letter 0" not in response.content


def test_the_number_of_queries_does_not_depend_on_the_number_of_documents(world, client, monkeypatch):
    monkeypatch.setattr(isf, "PAGE_SIZE", 7)
    client.force_login(world.coordinator_a)
    counted = {}
    for size in (2, 30):
        letters(world, size - len(expected(world, "monitoring")), first=len(expected(world, "monitoring")))
        for other in range(size // 2):
            filed(world, "05.02.04" if other % 2 else "05.03.01", title=f"Other {size} {other}")
        queries = []
        for path in (ISF, f"{ISF}?section=monitoring&page=2", f"{ISF}?section=other"):
            client.get(path)  # the session and the site's rows cached alike for both sizes
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path).status_code == 200
            queries.append(len(captured))
        counted[size] = queries
    assert counted[2] == counted[30]


def test_the_zip_holds_every_document_not_only_those_shown(world, client, monkeypatch):
    made = letters(world, 30)
    hidden = unwanted(world)
    monkeypatch.setattr(isf, "OVERVIEW_SIZE", 3)
    client.force_login(world.coordinator_a)
    response = client.get(f"{ISF}export/")
    assert response.status_code == 200
    package = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = package.namelist()
    for document in made:
        assert sum(name.startswith("05_05.04.") and f"/{document.pk}_" in name for name in names) == 1
    for document in hidden:
        assert not any(f"/{document.pk}_" in name for name in names)
    index = package.read("index.csv").decode("utf-8-sig")
    assert all(document.title in index for document in made)
