"""Printing consent forms through the real stack: who may print what, signed masters, and verification."""

import datetime
import io
import shutil
import subprocess
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from consent import selectors, services
from consent.models import SignedMaster
from consent.pki import ensure_identities
from consent.tests.factories import make_form
from tests.sharing import shared_fixture


@shared_fixture
def pki(world):
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])


@shared_fixture
def forms(world, pki):
    """Patient v1.0 superseded by v2.0 at both sites; a LIL-only surrogate form; a draft."""
    start = timezone.now() - datetime.timedelta(days=60)
    v1 = make_form(trial=world.trial, number="1.0")
    v2 = make_form(trial=world.trial, number="2.0")
    local = make_form(trial=world.trial, kind="surrogate", number="1.1", sites=[world.site_b])
    draft = make_form(trial=world.trial, number="3.0", publish=False, approved=False)
    services.form_make_effective(actor=world.sponsor, version=v1, sites=[world.site_a, world.site_b],
                                 effective_from=start)
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a, world.site_b],
                                 effective_from=start + datetime.timedelta(days=10))
    services.form_make_effective(actor=world.sponsor, version=local, sites=[world.site_b], effective_from=start)
    return SimpleNamespace(v1=v1, v2=v2, local=local, draft=draft)


def site_url(code, tail=""):
    return f"/nct07063680/sites/{code}/consent-forms/{tail}"


def test_current_forms_page_lists_only_the_sites_effective_versions(world, forms, as_user):
    body = as_user(world.coordinator_b).get(site_url("lil")).content.decode()
    assert f"/{forms.v2.pk}/pdf/" in body and f"/{forms.local.pk}/pdf/" in body
    assert f"/{forms.v1.pk}/pdf/" not in body and f"/{forms.draft.pk}/pdf/" not in body
    body = as_user(world.coordinator_a).get(site_url("dij")).content.decode()
    assert f"/{forms.local.pk}/pdf/" not in body and f"/{forms.v2.pk}/pdf/" in body


def test_current_forms_page_shows_each_approval_and_costs_the_same_queries_for_more_forms(
        world, forms, as_user, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from regulatory.tests.factories import make_opinion

    client = as_user(world.coordinator_b)
    client.get(site_url("lil"))
    with CaptureQueriesContext(connection) as before:
        client.get(site_url("lil"))
    # A second, later opinion on v2.0: the page names the latest, as `approval_reference` does for one version.
    make_opinion(trial=world.trial, version=forms.v2, date=datetime.date(2026, 2, 20))
    english = make_form(trial=world.trial, number="2.0", language="en")
    services.form_make_effective(actor=world.sponsor, version=english, sites=[world.site_b],
                                 effective_from=timezone.now() - datetime.timedelta(days=1))
    with django_assert_max_num_queries(len(before)):
        body = client.get(site_url("lil")).content.decode()
    references = selectors.approval_references([forms.v2, forms.local, english, forms.draft])
    for version in (forms.v2, forms.local, english, forms.draft):
        assert references[version.pk] == selectors.approval_reference(version)
        assert references[version.pk] in body
    assert "du 20/02/2026" in references[forms.v2.pk] and references[forms.draft.pk] == ""
    assert body.count("/pdf/") == 4  # three forms and the bulk print


def test_site_staff_print_the_effective_version_as_a_signed_master(world, forms, as_user):
    response = as_user(world.coordinator_a).get(site_url("dij", f"{forms.v2.pk}/pdf/"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = b"".join(response.streaming_content)
    assert pdf.startswith(b"%PDF") and b"/ByteRange" in pdf
    master = SignedMaster.objects.get()
    assert response["X-Content-SHA256"] == master.sha256


@pytest.mark.parametrize("which", ["v1", "draft", "local"])
def test_site_staff_never_print_a_superseded_draft_or_foreign_version(world, forms, as_user, which):
    client = as_user(world.coordinator_a)
    assert client.get(site_url("dij", f"{getattr(forms, which).pk}/pdf/")).status_code == 404
    assert not SignedMaster.objects.exists()


def test_site_staff_never_print_for_another_site(world, forms, as_user):
    client = as_user(world.coordinator_a)
    assert client.get(site_url("lil")).status_code == 404
    assert client.get(site_url("lil", f"{forms.local.pk}/pdf/")).status_code == 404
    assert client.get(site_url("lil", "all/pdf/")).status_code == 404


@pytest.mark.parametrize("which", ["v1", "v2", "draft"])
def test_site_staff_cannot_open_version_pages(world, forms, as_user, which):
    version = getattr(forms, which)
    client = as_user(world.coordinator_a)
    assert client.get(f"/nct07063680/consent-forms/{version.slug}/").status_code == 404
    assert client.get(f"/nct07063680/consent-forms/{version.slug}/pdf/").status_code == 404


def test_printing_twice_hands_out_the_same_stored_master(world, forms, as_user):
    client = as_user(world.coordinator_a)
    first = b"".join(client.get(site_url("dij", f"{forms.v2.pk}/pdf/")).streaming_content)
    second = b"".join(client.get(site_url("dij", f"{forms.v2.pk}/pdf/")).streaming_content)
    assert first == second and SignedMaster.objects.count() == 1


def test_bulk_print_holds_every_current_form_of_the_site(world, forms, as_user):
    response = as_user(world.coordinator_b).get(site_url("lil", "all/pdf/"))
    assert response.status_code == 200
    master = SignedMaster.objects.get()
    assert {v.pk for v in master.versions.all()} == {forms.v2.pk, forms.local.pk}


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is installed by .ci/run")
def test_the_page_and_the_bulk_print_follow_the_pathways_order(world, forms, as_user, tmp_path):
    """Patient, surrogate, emergency, continuation (French first), whatever order the kinds sort in by name."""
    start = timezone.now() - datetime.timedelta(days=5)
    later = {kind: make_form(trial=world.trial, kind=kind, number="1.0", title=f"Titre {kind}")
             for kind in ("continuation", "emergency")}
    english = make_form(trial=world.trial, number="2.0", language="en", title="Titre patient EN")
    for version in (*later.values(), english):
        services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_b], effective_from=start)
    client = as_user(world.coordinator_b)
    body = client.get(site_url("lil")).content.decode()
    links = [f"/{v.pk}/pdf/" for v in (forms.v2, english, forms.local, later["emergency"], later["continuation"])]
    assert [body.index(link) for link in links] == sorted(body.index(link) for link in links)
    pdf = tmp_path / "bundle.pdf"
    pdf.write_bytes(b"".join(client.get(site_url("lil", "all/pdf/")).streaming_content))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    titles = [forms.v2.title, "Titre patient EN", forms.local.title, "Titre emergency", "Titre continuation"]
    assert [text.index(title) for title in titles] == sorted(text.index(title) for title in titles)


def test_one_date_format_per_language_on_the_current_forms_page(world, forms, as_user):
    """English: "Favourable opinion … of 10/01/2026" beside "01/01/2026", day first like the printed forms; French:
    "Avis favorable … du 10/01/2026". Never a French "du" in English, never a US month-first date."""
    client = as_user(world.coordinator_a)
    french = client.get(site_url("dij")).content.decode()
    assert "Avis favorable CPP Test" in french and " du 10/01/2026" in french and "2.0 du 01/01/2026" in french
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.get(site_url("dij")).content.decode()
    assert "Favourable opinion CPP Test" in english and " of 10/01/2026" in english
    assert "2.0 of 01/01/2026" in english
    assert " du " not in english and "01/10/2026" not in english


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is installed by .ci/run")
def test_an_english_form_prints_in_english_and_a_french_one_in_french(world, forms, as_user, tmp_path):
    english = make_form(trial=world.trial, number="1.0", language="en", title="Patient consent (English)")
    services.form_make_effective(actor=world.sponsor, version=english, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=1))
    client = as_user(world.coordinator_a)
    texts = {}
    for version in (english, forms.v2):
        pdf = tmp_path / f"{version.pk}.pdf"
        pdf.write_bytes(b"".join(client.get(site_url("dij", f"{version.pk}/pdf/")).streaming_content))
        texts[version.language] = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                                          text=True, check=True).stdout.split())
    assert "Version 1.0 of 01/01/2026" in texts["en"] and "Favourable opinion CPP Test" in texts["en"]
    assert "Sponsor:" in texts["en"] and " du " not in texts["en"] and "Promoteur" not in texts["en"]
    assert "Version 2.0 du 01/01/2026" in texts["fr"] and "Avis favorable CPP Test" in texts["fr"]
    assert "Promoteur :" in texts["fr"]


@pytest.mark.parametrize("persona", ["sponsor", "inspector", "qa"])
def test_trial_wide_readers_open_every_version_marked_when_not_current(world, forms, as_user, persona):
    client = as_user(getattr(world, persona))
    superseded = client.get(f"/nct07063680/consent-forms/{forms.v1.slug}/pdf/")
    assert superseded.status_code == 200
    assert SignedMaster.objects.get(versions=forms.v1).watermark == "VERSION REMPLACÉE"
    assert client.get(f"/nct07063680/consent-forms/{forms.draft.slug}/pdf/").status_code == 404  # not live
    draft = client.get(f"/admin/consent/versions/{forms.draft.pk}/pdf/")
    if persona == "inspector":
        assert draft.status_code == 302  # no administration for inspectors
    else:
        assert draft.status_code == 200 and b"/ByteRange" not in b"".join(draft.streaming_content)


def test_each_versions_status_reads_in_french(world, forms, as_user):
    """The status was printed as its code ("effective", "superseded") in the French pages."""
    client = as_user(world.sponsor)
    index = client.get("/nct07063680/consent-forms/").content.decode()
    assert '<span class="status status-superseded">remplacée</span>' in index
    assert '<span class="status status-effective">en vigueur</span>' in index
    assert '<span class="status status-draft">brouillon</span>' in index
    services.form_withdraw(actor=world.sponsor, version=forms.local, reason="Erreur de traduction")
    page = client.get(f"/nct07063680/consent-forms/{forms.local.slug}/").content.decode()
    assert '<span class="status status-withdrawn">retirée</span>' in page
    assert "<dt>Retirée le</dt>" in page and "— Erreur de traduction</dd>" in page
    assert "LIL à partir du " in page and " jusqu'au " in page  # its period, ended by the withdrawal


def test_signing_unavailable_prints_nothing(world, forms, as_user, settings, tmp_path):
    settings.TRIALDOCS_PKI_DIR = tmp_path / "empty"
    response = as_user(world.coordinator_a).get(site_url("dij", f"{forms.v2.pk}/pdf/"))
    assert response.status_code == 503
    assert not SignedMaster.objects.exists()


@pytest.fixture
def master_pdf(world, forms, as_user, tmp_path):
    response = as_user(world.coordinator_a).get(site_url("dij", f"{forms.v2.pk}/pdf/"))
    path = tmp_path / "master.pdf"
    path.write_bytes(b"".join(response.streaming_content))
    return path


def verify(path) -> tuple[bool, str]:
    out = io.StringIO()
    try:
        call_command("verify_pdf", str(path), stdout=out)
        return True, out.getvalue()
    except CommandError as error:
        return False, out.getvalue() + str(error)


def test_verify_pdf_accepts_the_stored_master(master_pdf):
    ok, out = verify(master_pdf)
    assert ok and "VERIFIED" in out and "signed master of" in out


def tampered_copies(path, tmp_path):
    data = path.read_bytes()
    one_byte = bytearray(data)
    one_byte[len(data) // 3] ^= 0x01
    start = data.index(b"/Contents <") + 20
    in_signature = bytearray(data)
    in_signature[start] = ord("0") if in_signature[start] != ord("0") else ord("1")
    appended = data + b"\n1 0 obj\n<< /Type /Annot >>\nendobj\nstartxref\n0\n%%EOF\n"
    stripped = data.replace(b"/ByteRange", b"/ByteRangX")
    copies = {"one-byte": bytes(one_byte), "signature-byte": bytes(in_signature), "appended": appended,
              "stripped": stripped, "truncated": data[: len(data) // 2]}
    paths = {}
    for name, content in copies.items():
        paths[name] = tmp_path / f"{name}.pdf"
        paths[name].write_bytes(content)
    return paths


def test_verify_pdf_rejects_every_tampered_copy(master_pdf, tmp_path):
    for name, path in tampered_copies(master_pdf, tmp_path).items():
        ok, out = verify(path)
        assert not ok, name


def test_verify_pdf_rejects_a_valid_signature_on_an_unknown_document(master_pdf):
    SignedMaster.objects.all().delete()
    ok, out = verify(master_pdf)
    assert not ok and "no stored document" in out


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils is installed by .ci/run")
def test_pdfsig_agrees(master_pdf, tmp_path):
    valid = subprocess.run(["pdfsig", str(master_pdf)], capture_output=True, text=True).stdout
    assert "Signature is Valid." in valid
    altered = tampered_copies(master_pdf, tmp_path)["one-byte"]
    assert "Signature is Valid." not in subprocess.run(["pdfsig", str(altered)], capture_output=True, text=True).stdout


def test_verification_page(world, master_pdf, as_user, tmp_path):
    from django.test import Client

    assert Client().get("/verify/").status_code == 302
    page = as_user(world.inspector)
    with master_pdf.open("rb") as handle:
        body = page.post("/verify/", {"pdf": handle}).content.decode()
    assert "✔" in body
    with tampered_copies(master_pdf, tmp_path)["one-byte"].open("rb") as handle:
        body = page.post("/verify/", {"pdf": handle}).content.decode()
    assert "✘" in body
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"not a pdf at all")
    with garbage.open("rb") as handle:
        response = page.post("/verify/", {"pdf": handle})
    assert response.status_code == 200 and "✘" in response.content.decode()
    assert page.post("/verify/", {}).status_code == 400


def test_sponsor_makes_a_version_effective_and_withdraws_one_through_the_pages(world, forms, as_user):
    client = as_user(world.sponsor)
    v3 = make_form(trial=world.trial, number="4.0")
    response = client.post(f"/nct07063680/consent-forms/{v3.slug}/effective/", {
        "sites": [world.site_a.pk], "effective_from": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "change_kind": "substantive"})
    assert response.status_code == 302
    assert selectors.current_version(site=world.site_a, kind="patient", language="fr").pk == v3.pk
    assert client.post(f"/nct07063680/consent-forms/{v3.slug}/withdraw/", {"reason": ""}).status_code == 302
    v3.refresh_from_db()
    assert v3.withdrawn_at is None
    client.post(f"/nct07063680/consent-forms/{v3.slug}/withdraw/", {"reason": "Erreur de traduction"})
    v3.refresh_from_db()
    assert v3.withdrawn_at is not None and selectors.current_forms(site=world.site_a) == []


def test_sponsor_schedules_a_version_then_withdraws_it_and_the_site_keeps_its_form(world, forms, as_user):
    client = as_user(world.sponsor)
    v4 = make_form(trial=world.trial, number="4.0")
    starts = timezone.localtime() + datetime.timedelta(days=7)
    response = client.post(f"/nct07063680/consent-forms/{v4.slug}/effective/", {
        "sites": [world.site_a.pk], "effective_from": starts.strftime("%Y-%m-%dT%H:%M"),
        "change_kind": "substantive"}, follow=True)
    assert "sera en vigueur à DIJ à partir du" in response.content.decode()
    assert "approuvée, pas encore en vigueur" in response.content.decode()
    response = client.post(f"/nct07063680/consent-forms/{v4.slug}/withdraw/", {"reason": "Avis défavorable"},
                           follow=True)
    assert "Version retirée : Consentement du patient v4.0 (fr)." in response.content.decode()
    later = starts + datetime.timedelta(days=1)
    assert selectors.current_version(site=world.site_a, kind="patient", language="fr", at=later).pk == forms.v2.pk
    assert forms.v2.effectivities.get(site=world.site_a).effective_until is None


@pytest.mark.parametrize("persona", ["inspector", "qa", "coordinator_a"])
def test_only_the_sponsor_makes_forms_effective_or_withdraws_them(world, forms, as_user, persona):
    client = as_user(getattr(world, persona))
    refused = (403, 404)  # 403: an inspector's account is read-only
    assert client.post(f"/nct07063680/consent-forms/{forms.v2.slug}/withdraw/", {"reason": "x"}).status_code in refused
    assert client.get(f"/nct07063680/consent-forms/{forms.v2.slug}/effective/").status_code == 404
    forms.v2.refresh_from_db()
    assert forms.v2.withdrawn_at is None
