"""Word in and out through the real commands and admin views, with the real documents in tests/fixtures."""

import io
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
                                                      "language": "fr", "file": upload})
    assert response.status_code == 302
    assert ConsentFormVersionPage.objects.filter(kind="surrogate", live=False).count() == 1


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
