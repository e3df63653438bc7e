"""A coordinator opens the current consent forms of her site and prints the patient form: a signed master."""

import datetime
import hashlib
import subprocess

import pytest
from django.utils import timezone

from consent import services
from consent.models import ArchivalRevision, SignedMaster
from consent.pki import ensure_identities
from consent.tests.factories import make_form
from regulatory.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_prints_the_current_patient_form(world, live_server, page, screenshot, screenshot_dir):
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    v1, v2 = make_form(trial=world.trial, number="1.0"), make_form(trial=world.trial, number="2.0")
    start = timezone.now() - datetime.timedelta(days=30)
    services.form_make_effective(actor=world.sponsor, version=v1, sites=[world.site_a], effective_from=start)
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a],
                                 effective_from=start + datetime.timedelta(days=5))

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "coordinator-a")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.get_by_role("link", name="DIJ — CHU Dijon Bourgogne").click()
    page.get_by_role("link", name="Formulaires de consentement en vigueur").click()
    assert page.get_by_role("cell", name="2.0", exact=False).count() >= 1
    assert "1.0 du" not in page.locator("table").inner_text()
    screenshot("current-consent-forms")

    href = page.get_by_role("link", name="Imprimer", exact=True).first.get_attribute("href")
    response = page.context.request.get(f"{live_server.url}{href}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    sha256 = hashlib.sha256(pdf).hexdigest()
    assert sha256 == response.headers["x-content-sha256"]
    # The copy is the master as signed (B-T); its archival completion (B-LTA) runs once the request commits, so
    # the stored file moves on and the copy handed out stays a recorded revision of that same master.
    master = SignedMaster.objects.get()
    assert ArchivalRevision.objects.get(archival__master=master, reason="signed").sha256 == sha256
    path = screenshot_dir / "printed-patient-form.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(path),
                    str(screenshot_dir / "printed-patient-form")], check=True)
    assert "Signature is Valid." in subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
