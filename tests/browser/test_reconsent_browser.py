"""The sponsor makes a new patient form version effective at DIJ (an approved version, with its favourable
opinion); the re-consent of the participant who signed the older version appears in DIJ's to-do list."""

import datetime

import pytest
from django.utils import timezone

from consent import services
from consent.models import ConsentTask
from consent.tests.factories import make_form
from consent.tests.test_records import record
from regulatory.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")


def test_a_new_form_version_in_force_puts_the_reconsent_on_the_sites_list(world, live_server, new_page,
                                                                           screenshot_dir):
    from consent.pki import ensure_identities

    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    v1 = make_form(trial=world.trial, number="1.0")
    services.form_make_effective(actor=world.sponsor, version=v1, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=30))
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    record(world, participant, v1)
    v2 = make_form(trial=world.trial, number="2.0", title="Note d'information et consentement v2.0")
    base = live_server.url

    sponsor = new_page(1280, 1000)
    log_in(sponsor, base, "sponsor")
    sponsor.goto(f"{base}{v2.url}effective/")
    sponsor.check(f"input[name=sites][value='{world.site_a.pk}']")
    # The sponsor judges the change: substantive, so each participant consents again.
    sponsor.get_by_label("Substantielle : les participants consentent à nouveau", exact=False).check()
    sponsor.screenshot(path=str(screenshot_dir / "reconsent-1-make-effective.png"), full_page=True)
    sponsor.click("form button[type=submit].primary")
    sponsor.wait_for_url(f"{base}{v2.url}")
    assert ConsentTask.objects.filter(participant=participant, kind="reconsent", closed_at__isnull=True).exists()

    coordinator = new_page(1280, 1000)
    log_in(coordinator, base, "coordinator-a")
    coordinator.goto(f"{base}/nct07063680/sites/dij/tasks/")
    row = coordinator.get_by_role("row", name=participant.code)
    assert "2.0" in row.inner_text()
    coordinator.screenshot(path=str(screenshot_dir / "reconsent-2-site-tasks.png"), full_page=True)
