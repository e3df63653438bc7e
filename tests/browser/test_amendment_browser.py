"""The sponsor drafts an amendment in the Wagtail admin and submits it; QA and the sponsor approve it (which
publishes it); the sponsor makes it effective at a site; the site's coordinator is told and acknowledges."""

import datetime
import re

import pytest
from django.utils import timezone

from regulatory import services
from regulatory.models import ProtocolVersionPage, SiteAcknowledgement
from regulatory.tests.factories import PASSWORD, make_opinion, make_version, protocol_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def logged_in(new_page, base_url, username):
    page = new_page(1280, 1000)
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base_url}/")
    return page


def footer_action(page, name_pattern):
    """Open the editor's footer menu and press one of its actions."""
    page.locator("footer [data-w-dropdown-target=toggle]").first.click()
    page.get_by_role("button", name=re.compile(name_pattern)).first.click()
    page.wait_for_load_state()


def test_sponsor_publishes_an_amendment_and_the_site_acknowledges_it(world, live_server, new_page, screenshot_dir):
    v1 = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=v1, date=datetime.date(2026, 1, 10))
    services.activation_create(actor=world.sponsor, version=v1, site=world.site_a,
                               effective_from=timezone.now() - datetime.timedelta(days=60))
    base = live_server.url

    sponsor = logged_in(new_page, base, "sponsor")
    sponsor.goto(f"{base}/admin/pages/add/regulatory/protocolversionpage/{protocol_of(world.trial).pk}/")
    sponsor.fill("#id_title", "Protocole v1.1 — amendement 1")
    sponsor.fill("#id_version_number", "1.1")
    sponsor.fill("#id_version_date", "2026-11-20")
    sponsor.fill("#id_amendment_number", "1")
    sponsor.fill("#id_summary_of_changes", "Corrections rédactionnelles de l'annexe 2.")
    sponsor.fill("#id_non_substantial_justification", "Sans effet sur la sécurité des participants.")
    sponsor.screenshot(path=str(screenshot_dir / "amendment-1-draft.png"), full_page=True)
    footer_action(sponsor, r"^Soumettre à ")
    version = ProtocolVersionPage.objects.get(version_number="1.1")
    assert not version.live and version.workflow_in_progress
    sponsor.goto(f"{base}/admin/")  # leave the editor: one editor open at a time

    qa = logged_in(new_page, base, "qa")
    qa.goto(f"{base}/admin/")
    qa.screenshot(path=str(screenshot_dir / "amendment-2-qa-dashboard.png"), full_page=True)
    qa.get_by_role("link", name="Protocole v1.1 — amendement 1").first.click()
    qa.wait_for_url(f"**/admin/pages/{version.pk}/edit/")
    footer_action(qa, r"^Approuver$")
    qa.goto(f"{base}/admin/")

    sponsor.goto(f"{base}/admin/pages/{version.pk}/edit/")
    footer_action(sponsor, r"^Approuver et publier$|^Approuver et Publier$")
    version.refresh_from_db()
    assert version.live

    sponsor.goto(f"{base}/nct07063680/activations/new/")
    sponsor.select_option("#id_version", str(version.pk))
    sponsor.check(f"input[name=sites][value='{world.site_a.pk}']")
    sponsor.click("button[type=submit].primary")
    sponsor.wait_for_url("**/acknowledgements/")
    assert "pas prise en compte" in sponsor.content()
    sponsor.screenshot(path=str(screenshot_dir / "amendment-3-matrix.png"), full_page=True)

    coordinator = logged_in(new_page, base, "coordinator-a")
    assert "Amendements à prendre en compte" in coordinator.content()
    coordinator.get_by_role("link", name=re.compile("DIJ$")).first.click()
    row = coordinator.get_by_role("row", name=re.compile("v1.1"))
    row.get_by_role("button", name="J'en prends connaissance").click()
    coordinator.wait_for_load_state()
    assert SiteAcknowledgement.objects.filter(activation__version=version, acknowledged_by=world.coordinator_a).exists()
    coordinator.screenshot(path=str(screenshot_dir / "amendment-4-acknowledged.png"), full_page=True)
