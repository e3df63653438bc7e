"""Issue 19, the delegation log enforced, as its users meet it: a DIJ staff member not delegated "obtain informed
consent" (the demo's nurse-dij; nurse-a here) registers a participant but is offered no consent form and told why;
the principal investigator delegates the task, signing with user name and password; she acknowledges it, signing
too; the consent form is then offered; the log's signed PDF is valid (pdfsig) and filed in the site's ISF."""

import datetime
import subprocess

import pytest
from django.utils import timezone

from consent import services
from consent.pki import ensure_identities
from consent.tests.factories import make_form
from regulatory.models import DelegationEntry
from regulatory.tests.factories import PASSWORD, make_nurse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base, username):
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")


def test_a_nurse_not_delegated_is_told_why_then_delegated_by_the_pi(world, live_server, page, screenshot,
                                                                     screenshot_dir):
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    nurse = make_nurse(world.site_a)
    version = make_form(trial=world.trial, kind="patient")
    services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=3))
    base = live_server.url

    # The nurse registers a participant (delegated) but is offered no consent form: the page says why.
    log_in(page, base, "nurse-a")
    page.goto(f"{base}/nct07063680/sites/dij/participants/")
    page.get_by_role("button", name="Enregistrer un nouveau participant").click()
    page.get_by_role("button", name="Oui, inscrire le participant").click()
    page.wait_for_url("**/participants/DIJ-0001/")
    refusal = page.locator(".delegation-refusal")
    assert "ne figure pas au registre de délégation de DIJ pour la tâche « Recueillir le consentement éclairé »" in \
        refusal.inner_text()
    assert page.get_by_role("link", name="v1.0").count() == 0
    screenshot("delegation-nurse-not-delegated")
    # The form itself, asked for directly, is refused with the same reason.
    response = page.goto(f"{base}/nct07063680/sites/dij/participants/DIJ-0001/consent/{version.pk}/")
    assert response.status == 403 and "Recueillir le consentement éclairé" in page.content()

    # The principal investigator delegates "obtain informed consent" to her, signing the entry.
    log_in(page, base, "investigator-a")
    page.goto(f"{base}/nct07063680/sites/dij/delegation/")
    page.select_option("#id_staff", str(nurse.pk))
    page.check("input[name=tasks][value=consent]")
    page.fill("#id_start_date", timezone.localdate().isoformat())
    page.fill("#id_username", "investigator-a")
    page.fill("#id_password", "not my password")
    page.get_by_role("button", name="Signer la délégation").click()
    assert "la délégation n'a pas été enregistrée" in page.content()
    assert DelegationEntry.objects.filter(staff=nurse).count() == 1  # the entry of the world only
    page.check("input[name=tasks][value=consent]")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Signer la délégation").click()
    page.wait_for_url("**/sites/dij/delegation/")
    assert "Délégation signée par Investigator-A Test, investigateur principal de DIJ" in page.content()
    screenshot("delegation-log-signed-by-the-pi")

    # She acknowledges it, signing too; the consent form is then offered.
    log_in(page, base, "nurse-a")
    page.goto(f"{base}/nct07063680/sites/dij/delegation/")
    form = page.locator("form.acknowledge")
    form.locator("input[name=username]").fill("nurse-a")
    form.locator("input[name=password]").fill(PASSWORD)
    form.get_by_role("button", name="Prendre connaissance et signer").click()
    page.wait_for_url("**/sites/dij/delegation/")
    assert "Prise de connaissance signée par Nurse-A Test" in page.content()
    page.goto(f"{base}/nct07063680/sites/dij/participants/DIJ-0001/")
    assert page.get_by_role("link", name="v1.0").count() == 1

    # The log's signed PDF is valid, and the ISF files it under "Registre de délégation".
    with page.expect_download() as download_info:
        page.goto(f"{base}/nct07063680/sites/dij/delegation/")
        page.get_by_role("link", name="PDF signé du registre").click()
    path = screenshot_dir / "delegation-log.pdf"
    download_info.value.save_as(str(path))
    assert "Signature is Valid." in subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(path),
                    str(screenshot_dir / "delegation-log")], check=True)
    page.goto(f"{base}/nct07063680/sites/dij/isf/")
    section = page.locator(".isf-section").first
    assert "Registre de délégation" in section.inner_text() and "05.02.18" in section.inner_text()
    screenshot("isf-dij")
