"""Word in and out through the real commands and admin views, with the real documents in tests/fixtures."""

import io
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from docx import Document

from consent import services
from consent.blocks import neutral
from consent.docx import import_docx
from consent.models import ConsentFormVersionPage
from consent.tests.factories import make_form
from regulatory.models import AuditEntry

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "docx"
REAL = sorted(p for p in FIXTURES.glob("*.docx") if "TrackedChanges" not in p.name)
TRACKED = FIXTURES / "ICH_M11_Template_Draft_2025-01-17_TrackedChanges.docx"

EVERY_BLOCK = {
    "information": [
        ("heading", {"text": "Pourquoi cette étude ?", "level": 1}),
        ("paragraph", "<p>Noradrénaline ≥ 0,25 µg/kg/min, <b>œdème</b> et <i>réanimation</i>.</p>"),
        ("list", {"style": "bullet", "items": ["Bénéfice attendu", "Risques surveillés"]}),
        ("list", {"style": "numbered", "items": ["Inclusion", "Suivi à J90"]}),
        ("table", {"first_row_is_header": True, "rows": [["Jour", "Examen"], ["J0", "Bilan"]]}),
        ("page_break", None),
    ],
    "consent": [
        ("consent_statement", {"text": "J'accepte de participer.", "accept_label": "J'accepte",
                               "refuse_label": "Je n'accepte pas", "mandatory": True}),
        ("checkbox", {"text": "Je souhaite être informé des résultats."}),
        ("fill_in", {"label": "Lien avec le patient"}),
        ("signature", {"role": "surrogate", "label": "Le proche"}),
    ],
}


def run_import(path, *extra):
    out = io.StringIO()
    call_command("import_consent_docx", str(path), "--trial", "NCT07063680", "--kind", "patient",
                 "--as-user", "sponsor", *extra, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_every_real_document_imports_as_a_draft(world, path):
    out = run_import(path)
    version = ConsentFormVersionPage.objects.get(pk=int(out.strip().splitlines()[-1].split()[0]))
    assert not version.live
    assert neutral(version.information) or neutral(version.consent)
    assert path.name in version.import_notes
    assert AuditEntry.objects.filter(action="consentformversion.created", object_id=str(version.pk)).exists()


def test_a_document_with_tracked_changes_is_refused_naming_them(world):
    with pytest.raises(CommandError, match="10 insertions, 6 suppressions et 8 commentaires"):
        run_import(TRACKED)
    assert not ConsentFormVersionPage.objects.exists()


def test_tracked_changes_are_kept_only_with_a_recorded_reason(world):
    out = run_import(TRACKED, "--accept-tracked-changes", "Version de travail validée par le CPP")
    version = ConsentFormVersionPage.objects.get(pk=int(out.strip().splitlines()[-1].split()[0]))
    assert "Version de travail validée par le CPP" in version.import_notes
    assert "10" in version.import_notes


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600  # an encrypted Office file


@pytest.mark.parametrize("content", [b"not a zip", b"PK\x03\x04broken", OLE2])
def test_broken_files_are_refused_and_nothing_is_created(world, tmp_path, content):
    path = tmp_path / "form.docx"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="Refused"):
        run_import(path)
    assert not ConsentFormVersionPage.objects.exists()


def test_export_then_import_gives_the_same_blocks(world):
    version = make_form(trial=world.trial, **EVERY_BLOCK)
    result = import_docx(services.consent_version_export(version))
    assert result.information == neutral(version.information)
    assert result.consent == neutral(version.consent)


def test_export_consent_docx_writes_the_version_in_force(world, tmp_path):
    from django.utils import timezone

    version = make_form(trial=world.trial)
    services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                 effective_from=timezone.now())
    out = tmp_path / "form.docx"
    call_command("export_consent_docx", "--trial", "NCT07063680", "--site", "DIJ", "--kind", "patient",
                 "--out", str(out), stdout=io.StringIO())
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "Noradrénaline ≥ 0,25 µg/kg/min" in text
    with pytest.raises(CommandError):
        call_command("export_consent_docx", "--trial", "NCT07063680", "--site", "LIL", "--kind", "patient",
                     "--out", str(out), stdout=io.StringIO())


def test_sponsor_imports_in_the_admin(world, as_user):
    client = as_user(world.sponsor)
    upload = SimpleUploadedFile("form.docx", REAL[0].read_bytes())
    response = client.post("/admin/consent/import/", {"trial": world.trial.pk, "kind": "surrogate",
                                                      "language": "fr", "title": "Formulaire du proche",
                                                      "file": upload})
    assert response.status_code == 302
    assert ConsentFormVersionPage.objects.get(kind="surrogate", live=False).title == "Formulaire du proche"


def test_a_hostile_file_in_the_admin_gives_a_message_and_creates_nothing(world, as_user):
    client = as_user(world.sponsor)
    response = client.post("/admin/consent/import/", {
        "trial": world.trial.pk, "kind": "patient", "language": "fr",
        "file": SimpleUploadedFile("evil.docx", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")})
    assert response.status_code == 200
    assert not ConsentFormVersionPage.objects.exists()


@pytest.mark.parametrize("persona", ["qa", "inspector", "coordinator_a", "other_sponsor"])
def test_only_the_trial_sponsor_imports(world, as_user, persona):
    client = as_user(getattr(world, persona))
    client.post("/admin/consent/import/", {"trial": world.trial.pk, "kind": "patient", "language": "fr",
                                           "file": SimpleUploadedFile("f.docx", REAL[0].read_bytes())})
    assert not ConsentFormVersionPage.objects.exists()


def test_comparison_side_by_side_and_exported(world, as_user):
    v1 = make_form(trial=world.trial)
    v2 = make_form(trial=world.trial, number="2.0", information=[
        ("heading", {"text": "Pourquoi cette étude ?", "level": 1}),
        ("paragraph", "<p>Noradrénaline ≥ 0,30 µg/kg/min.</p>"),
        ("paragraph", "<p>Nouveau paragraphe.</p>")])
    client = as_user(world.sponsor)
    body = client.get("/admin/consent/compare/", {"left": v1.pk, "right": v2.pk}).content.decode()
    assert "Noradrénaline ≥ 0,30 µg/kg/min." in body and "Nouveau paragraphe." in body
    response = client.get("/admin/consent/compare/", {"left": v1.pk, "right": v2.pk, "format": "docx"})
    table_text = "\n".join(cell.text for table in Document(io.BytesIO(response.content)).tables
                           for row in table.rows for cell in row.cells)
    assert "Nouveau paragraphe." in table_text and "Ajouté" in table_text


# ----------------------------------------------------------------------------------------------------------------
# Real Word files through the service and the admin (issue 13)
# ----------------------------------------------------------------------------------------------------------------

NIH_PROTOCOL = FIXTURES / "Protocol_NIH_Interventional_Template_v9_2025-02-04.docx"
NIH_ICF = FIXTURES / "ICF_NIH_ClinicalCenter_Template_v14_2026-01-26.docx"


def import_file(world, path, **options):
    options.setdefault("kind", "patient")
    options.setdefault("language", "fr")
    return services.consent_version_import(actor=world.sponsor, trial=world.trial, data=path.read_bytes(),
                                           filename=path.name, **options)


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_every_real_document_prints_once_imported(world, as_user, tmp_path, path):
    version, _notes = import_file(world, path)
    response = as_user(world.sponsor).get(f"/admin/consent/versions/{version.pk}/pdf/")

    assert response.status_code == 200
    pdf = tmp_path / "draft.pdf"
    pdf.write_bytes(b"".join(response.streaming_content))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert " ".join(version.title.split()[:3]) in " ".join(text.split())


def test_the_protocol_schedule_table_prints_in_landscape_and_the_notes_say_so(world):
    version, notes = import_file(world, NIH_PROTOCOL)

    table_notes = [note for note in notes if note.startswith("Tableau 5 (21 lignes × 15 colonnes")]
    assert len(table_notes) == 1 and "imprimé sur des pages en paysage" in table_notes[0]
    assert "ligne d'en-tête répétée sur chaque page" in table_notes[0]
    assert table_notes[0] in version.import_notes


def test_the_title_is_the_documents_first_title_printed_once(world):
    version, notes = import_file(world, NIH_ICF)

    assert version.title == "NIH INFORMED CONSENT TEMPLATE FOR USE AT THE NIH CLINICAL CENTER"
    first = neutral(version.information)[0]
    assert first == {"type": "heading", "value": {"text": "Version 14: 01-26-2026", "level": 2}}
    assert any("est celui de la version : imprimé une fois" in note for note in notes)


def test_a_title_the_sponsor_changed_leaves_the_documents_heading_in_the_text(world):
    version, _notes = import_file(world, NIH_ICF, title="Consentement de l'adulte — étude ARGIPRESSINE")

    assert version.title == "Consentement de l'adulte — étude ARGIPRESSINE"
    assert neutral(version.information)[0]["value"]["text"].startswith("NIH INFORMED CONSENT TEMPLATE")


def test_without_a_title_of_its_own_a_version_is_titled_by_its_form_and_version(world):
    data = io.BytesIO()
    document = Document()
    document.add_paragraph("Vous êtes invité(e) à participer à une recherche. " * 8)
    document.core_properties.title = "Formulaire patient — v2.0"
    document.save(data)

    version, _notes = services.consent_version_import(
        actor=world.sponsor, trial=world.trial, data=data.getvalue(), filename="consentement-v2.docx",
        kind="surrogate", language="fr", version_number="3.0")

    assert version.title == "Consentement d'un proche (proche ou personne de confiance) — version 3.0"


def test_without_a_title_the_admin_proposes_one_to_confirm_and_writes_nothing(world, as_user):
    client = as_user(world.sponsor)
    before = AuditEntry.objects.count()

    response = client.post("/admin/consent/import/", {
        "trial": world.trial.pk, "kind": "patient", "language": "fr",
        "file": SimpleUploadedFile("NIH.docx", NIH_ICF.read_bytes())})

    assert response.status_code == 200
    body = response.content.decode()
    assert 'value="NIH INFORMED CONSENT TEMPLATE FOR USE AT THE NIH CLINICAL CENTER"' in body  # in the title field
    assert "Titre proposé d'après le document" in body
    assert not ConsentFormVersionPage.objects.exists() and AuditEntry.objects.count() == before

    response = client.post("/admin/consent/import/", {
        "trial": world.trial.pk, "kind": "patient", "language": "fr", "title": "Consentement NIH (adulte)",
        "file": SimpleUploadedFile("NIH.docx", NIH_ICF.read_bytes())})

    assert response.status_code == 302
    assert ConsentFormVersionPage.objects.get().title == "Consentement NIH (adulte)"


def test_the_title_is_proposed_as_soon_as_the_file_is_chosen(world, as_user):
    client = as_user(world.sponsor)
    url = "/admin/consent/import/title/"

    answer = client.post(url, {"trial": world.trial.pk, "kind": "patient", "language": "fr",
                               "file": SimpleUploadedFile("f.docx", NIH_ICF.read_bytes())})
    assert answer.json() == {"title": "NIH INFORMED CONSENT TEMPLATE FOR USE AT THE NIH CLINICAL CENTER"}
    refused = client.post(url, {"trial": world.trial.pk, "kind": "patient", "language": "fr",
                                "file": SimpleUploadedFile("f.docx", b"not a zip")})
    assert refused.status_code == 400 and "archive ZIP" in refused.json()["error"]
    assert client.get(url).status_code == 405
    assert not ConsentFormVersionPage.objects.exists()


@pytest.mark.parametrize("persona", ["qa", "coordinator_a", "inspector"])
def test_only_who_imports_may_ask_for_a_title(world, as_user, persona):
    response = as_user(getattr(world, persona)).post("/admin/consent/import/title/", {
        "trial": world.trial.pk, "kind": "patient", "language": "fr",
        "file": SimpleUploadedFile("f.docx", NIH_ICF.read_bytes())})

    assert response.status_code in (302, 403)  # outside the admin: its login; in it without a trial to manage: 403
    assert "NIH" not in response.content.decode()


def test_an_existing_version_number_is_refused_by_the_command_and_nothing_is_written(world):
    make_form(trial=world.trial, number="2.0")
    before = ConsentFormVersionPage.objects.count()

    with pytest.raises(CommandError, match="existe déjà"):
        run_import(NIH_ICF, "--version-number", "2.0")

    assert ConsentFormVersionPage.objects.count() == before


def test_the_command_prints_the_title_it_kept(world):
    out = run_import(NIH_ICF)

    assert "title: NIH INFORMED CONSENT TEMPLATE FOR USE AT THE NIH CLINICAL CENTER" in out
