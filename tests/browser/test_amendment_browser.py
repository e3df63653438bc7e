"""The sponsor drafts an amendment in the Wagtail admin and submits it; QA, then a second sponsor account (the author
never approves their own version), sign its approval with their user name and password (the last one publishes it);
the sponsor makes it effective at a site; the site's coordinator is told and acknowledges."""

import datetime
import re

import pytest
from django.utils import timezone

from regulatory import services
from regulatory.models import ApprovalSignature, ProtocolVersionPage, Role, SiteAcknowledgement
from regulatory.tests.factories import PASSWORD, make_member, make_opinion, make_version, protocol_of

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


def sign_in_modal(page, username, *, password=PASSWORD, screenshot=None):
    """Wagtail's workflow modal asks for the approver's user name and password; submit it."""
    form = page.locator("form[action*='/workflow/collect_action_data/']")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    with page.expect_navigation():  # the modal hands the signature to the editor's form, which is posted
        form.locator("button[type=submit]").click()
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
    footer_action(qa, r"^Signer l'approbation$")
    sign_in_modal(qa, "qa", screenshot=screenshot_dir / "amendment-2b-qa-signs.png")
    assert ApprovalSignature.objects.filter(page_id=version.pk, signer__username="qa").exists()
    qa.goto(f"{base}/admin/")

    sponsor.goto(f"{base}/admin/pages/{version.pk}/edit/")  # the author: the approval is not offered
    sponsor.locator("footer [data-w-dropdown-target=toggle]").first.click()
    assert sponsor.get_by_role("button", name=re.compile("Signer l'approbation")).count() == 0
    sponsor.goto(f"{base}/admin/")

    make_member("sponsor-ra", role=Role.SPONSOR, trial=world.trial)
    approver = logged_in(new_page, base, "sponsor-ra")
    approver.goto(f"{base}/admin/pages/{version.pk}/edit/")
    footer_action(approver, r"Signer l'approbation et [pP]ublier")
    sign_in_modal(approver, "sponsor-ra", password="a wrong password")  # refused: nothing approved
    version.refresh_from_db()
    assert not version.live and "rien n'a été approuvé" in approver.content().replace("&#x27;", "'")
    approver.goto(f"{base}/admin/pages/{version.pk}/edit/")
    footer_action(approver, r"Signer l'approbation et [pP]ublier")
    sign_in_modal(approver, "sponsor-ra")
    version.refresh_from_db()
    assert version.live
    approver.goto(f"{base}{version.url}")
    assert "Approuvé par Sponsor-Ra Test en tant que promoteur" in approver.content()
    approver.screenshot(path=str(screenshot_dir / "amendment-2c-signatures.png"), full_page=True)

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
