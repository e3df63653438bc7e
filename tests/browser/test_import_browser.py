"""The sponsor imports a real Word consent form in the Wagtail admin: the title is proposed from the document as
soon as the file is chosen, the sponsor confirms it, the import notes are shown and the draft's PDF prints."""

import re
import subprocess
from pathlib import Path

import pytest

from consent.models import ConsentFormVersionPage

from .test_amendment_browser import logged_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docx"
NIH_ICF = FIXTURES / "ICF_NIH_ClinicalCenter_Template_v14_2026-01-26.docx"
NIH_PROTOCOL = FIXTURES / "Protocol_NIH_Interventional_Template_v9_2025-02-04.docx"


def choose(page, path: Path, *, kind: str, language: str):
    page.select_option("#id_trial", index=1)
    page.select_option("#id_kind", kind)
    page.select_option("#id_language", language)
    page.set_input_files("#id_file", str(path))
    page.wait_for_function("() => document.querySelector('#id_title').value.length > 0")


def test_the_sponsor_confirms_the_proposed_title_and_the_imported_draft_prints(world, live_server, new_page,
                                                                                 screenshot_dir, tmp_path):
    base = live_server.url
    page = logged_in(new_page, base, "sponsor")
    page.set_viewport_size({"width": 1280, "height": 1500})  # the admin scrolls inside its own pane
    page.goto(f"{base}/admin/consent/import/")

    choose(page, NIH_ICF, kind="patient", language="en")
    assert page.input_value("#id_title") == "NIH INFORMED CONSENT TEMPLATE FOR USE AT THE NIH CLINICAL CENTER"
    assert "Proposé d'après le document" in page.inner_text("[data-import-title-note]")
    page.screenshot(path=str(screenshot_dir / "import-1-title-proposed.png"))
    page.fill("#id_title", "Consentement de l'adulte (modèle NIH)")
    choose(page, NIH_ICF, kind="patient", language="en")  # choosing the file again keeps the sponsor's title
    assert page.input_value("#id_title") == "Consentement de l'adulte (modèle NIH)"
    page.click("form[data-import-form] button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/pages/\d+/edit/"))
    notes = page.locator(".messages").inner_text()
    assert "Lien hypertexte conservé avec son adresse « Policy 302 »" in notes
    page.screenshot(path=str(screenshot_dir / "import-2-notes.png"))
    version = ConsentFormVersionPage.objects.get()
    assert version.title == "Consentement de l'adulte (modèle NIH)"

    page.goto(f"{base}/admin/consent/import/")
    choose(page, NIH_PROTOCOL, kind="emergency", language="en")
    page.click("form[data-import-form] button[type=submit]")
    # a 65-page protocol: the editor it opens holds some 1,400 blocks and takes its time to render
    page.wait_for_url(re.compile(r".*/admin/pages/\d+/edit/"), timeout=180_000)
    assert "imprimé sur des pages en paysage" in page.locator(".messages").inner_text()
    protocol = ConsentFormVersionPage.objects.get(kind="emergency")
    response = page.request.get(f"{base}/admin/consent/versions/{protocol.pk}/pdf/")
    assert response.status == 200
    pdf = tmp_path / "protocol.pdf"
    pdf.write_bytes(response.body())
    sizes = subprocess.run(["pdfinfo", "-l", "200", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "841.89 x 595.276" in sizes  # the schedule of activities on landscape pages

    page.goto(f"{base}/admin/consent/import/")
    page.fill("#id_version_number", "1.0")
    choose(page, NIH_ICF, kind="patient", language="en")
    page.click("form[data-import-form] button[type=submit]")
    page.wait_for_load_state()
    assert "existe déjà" in page.inner_text("main")
    page.screenshot(path=str(screenshot_dir / "import-3-existing-version.png"))
    assert ConsentFormVersionPage.objects.count() == 2
