"""An inspector, inside the window the sponsor granted, browses the TMF to the consent forms artifact, reads and
downloads a version; once the window has closed the same pages answer "not found"."""

import datetime

import pytest
from django.utils import timezone

from consent import services as consent_services
from consent.tests.factories import make_form
from regulatory.models import AuditEntry, InspectorGrant
from regulatory.tests.factories import PASSWORD, make_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_inspector_browses_the_tmf_downloads_a_consent_form_and_is_locked_out_after_the_window(
        world, live_server, page, screenshot, tmp_path):
    make_version(trial=world.trial, number="1.0")
    form = make_form(trial=world.trial, number="2.0", title="Note d'information et consentement du patient")
    consent_services.form_make_effective(actor=world.sponsor, version=form, sites=[world.site_a],
                                         effective_from=timezone.now() - datetime.timedelta(days=2))
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "inspector")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")
    assert "lecture seule" in page.content()
    screenshot("inspector-1-home")
    page.get_by_role("link", name="Dossier permanent de l'essai (TMF)").first.click()
    page.get_by_role("link", name="02 Central Trial Documents").click()
    page.get_by_role("link", name="02.02.03 Informed Consent Form").click()
    screenshot("inspector-2-consent-forms-artifact")
    page.get_by_role("link", name="Note d'information et consentement du patient").first.click()
    assert "Historique des versions" in page.content()
    screenshot("inspector-3-document")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger").first.click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-") and saved.name.startswith("NCT07063680-02.02.03")
    assert AuditEntry.objects.filter(action="inspection.download", actor=world.inspector).exists()
    assert AuditEntry.objects.filter(action="inspection.view", actor=world.inspector).count() >= 4

    document_url = page.url
    InspectorGrant.objects.filter(pk=world.inspector_grant.pk).update(ends_at=timezone.now())  # the window closes
    response = page.goto(document_url)
    assert response.status == 404
    response = page.goto(f"{base}/tmf/NCT07063680/")
    assert response.status == 404
    page.goto(f"{base}/")
    assert "NCT07063680" not in page.content()
    screenshot("inspector-4-after-the-window")
