"""The tablet ceremony with several signers (issue 17): a comprehension question answered wrongly, its explanation
shown and discussed before the signatures open; the patient, an impartial witness and an interpreter each draw
their signature in order; the investigator signs with user name and password; the signed PDF names each of them
and poppler's pdfsig finds it valid."""

import datetime
import subprocess

import pytest
from django.utils import timezone

from consent import services
from consent.models import ConsentRecord
from consent.pki import ensure_identities
from consent.tests.factories import make_form
from consent.tests.test_ceremony import QUESTIONS, SIGNERS
from regulatory.tests.factories import PASSWORD
from tests.browser.test_consent_browser import read_information_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def draw(page, pad):
    box = page.locator(f"[data-signature-pad='{pad}'] canvas").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 60)
    page.mouse.down()
    for step in range(1, 10):
        page.mouse.move(box["x"] + 30 + step * 30, box["y"] + 60 - (step % 3) * 20, steps=3)
    page.mouse.up()


def test_the_tablet_ceremony_with_a_witness_an_interpreter_and_a_question(world, live_server, page, screenshot_dir,
                                                                          tmp_path):
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    version = make_form(trial=world.trial, kind="patient", signers=SIGNERS, comprehension=QUESTIONS)
    services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=3))
    participant = services.participant_create(actor=world.investigator_a, site=world.site_a)
    page.set_viewport_size({"width": 900, "height": 1200})
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "investigator-a")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.goto(f"{live_server.url}/nct07063680/sites/dij/participants/{participant.code}/consent/{version.pk}/")
    read_information_note(page)
    part = page.locator("[data-signature-part]")
    assert part.is_hidden()  # the signatures wait for the questions
    page.check("input[name=statement_0][value=accept]")
    page.check("input[name=question_0][value='1']")  # wrong
    page.click("[data-check-answers]")
    explanation = page.locator("[data-question] [data-explanation]")
    explanation.wait_for(state="visible")
    assert "sans avoir à vous justifier" in explanation.inner_text() and part.is_hidden()
    page.check("input[name=question_0][value='0']")
    page.click("[data-check-answers]")
    page.check("input[name=question_0_discussed]")
    part.wait_for(state="visible")
    page.check("input[name=cannot_read]")
    draw(page, "id_signature_drawn")
    page.check("input[name=impartial_witness_present]")
    page.fill("input[name=impartial_witness_name]", "Marc Témoin")
    draw(page, "id_impartial_witness_drawn")
    page.check("input[name=interpreter_present]")
    page.fill("input[name=interpreter_name]", "Samira Interprète")
    page.fill("input[name=interpreter_language]", "arabe")
    draw(page, "id_interpreter_drawn")
    page.fill("input[name=username]", "investigator-a")
    page.fill("input[name=password]", PASSWORD)
    page.screenshot(path=str(screenshot_dir / "ceremony-tablet.png"), full_page=True)
    page.click("[data-signature-part] button[type=submit].primary")
    page.wait_for_load_state()
    assert page.url.endswith(f"/participants/{participant.code}/"), page.locator(".errors").all_inner_texts()
    record = ConsentRecord.objects.get()
    assert [(s["role"], s["decision"]) for s in record.ceremony] == [
        ("participant", "signed"), ("impartial_witness", "signed"), ("interpreter", "signed"),
        ("investigator", "signed")]
    assert record.comprehension[0]["attempts"] == [QUESTIONS[0][1]["choices"][1], QUESTIONS[0][1]["choices"][0]]
    assert record.comprehension[0]["discussed"] and record.outcome == "consented"
    path = tmp_path / "consent.pdf"
    path.write_bytes(record.pdf.read())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "Témoin impartial" in text and "Interprète" in text and "arabe" in text
    assert "Signature is Valid" in subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
