"""A coordinator registers a participant, records a surrogate consent with a signature drawn in the page,
and downloads the signed PDF, which poppler's pdfsig finds valid."""

import datetime
import subprocess

import pytest
from django.utils import timezone

from consent import services
from consent.models import ConsentRecord
from consent.pki import ensure_identities
from consent.tests.factories import make_form
from regulatory.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_records_a_surrogate_consent_and_downloads_the_signed_pdf(world, live_server, page, screenshot,
                                                                             screenshot_dir):
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    surrogate = make_form(trial=world.trial, kind="surrogate")
    services.form_make_effective(actor=world.sponsor, version=surrogate, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=3))
    page.set_viewport_size({"width": 900, "height": 1200})  # a tablet held upright
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "coordinator-a")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.goto(f"{live_server.url}/nct07063680/sites/dij/participants/")
    page.get_by_role("button", name="Enregistrer un nouveau participant").click()
    page.wait_for_url("**/participants/DIJ-0001/")
    page.get_by_role("link", name="v1.0").click()

    page.get_by_label("J'accepte", exact=True).first.check()
    page.fill("#id_surrogate_relationship", "fille")
    page.check("#id_independence_attested")
    box = page.locator(".signature-pad canvas").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 100)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 30 + step * 35, box["y"] + 100 - (step % 3) * 30, steps=4)
    page.mouse.up()
    page.fill("#id_username", "coordinator-a")  # both components of the signature, typed again (11.200)
    page.fill("#id_password", PASSWORD)
    screenshot("consent-form-signed")
    page.get_by_role("button", name="Signer et enregistrer").click()
    page.wait_for_url("**/participants/DIJ-0001/")
    record = ConsentRecord.objects.get()
    assert record.signature_source == "drawn" and record.surrogate_relationship == "fille"
    screenshot("participant-after-consent")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF signé").click()
    path = screenshot_dir / "surrogate-consent.pdf"
    download_info.value.save_as(str(path))
    assert "Signature is Valid." in subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "3", "-l", "3", str(path),
                    str(screenshot_dir / "surrogate-consent-record")], check=True)
