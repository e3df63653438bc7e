"""Issue 17: axe-core (the copy shipped inside the Python package axe-playwright-python, nothing downloaded at run
time) finds no WCAG 2.2 AA violation on the tablet consent pages (the information note, then the consent part, of
each form a participant or a relative signs), on the staff's login page the tablet opens on, and on the pages
that show a withdrawal and the consent-status dashboard. The tablet's consent can be completed from the keyboard
alone (`test_small_screens_browser.test_the_consent_form_from_the_keyboard` signs it; here every control of the
consent part is reached and answered with Tab, Space and typing only)."""

import datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from consent import services
from consent.tests.test_records import forms, record  # noqa: F401  (fixture)
from regulatory.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SITE = "/nct07063680/sites/dij"


def violations(page) -> list[str]:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA},
                                       "resultTypes": ["violations"]})
    return [f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:5])
            for v in results.response["violations"]]


def log_in(page, base_url, username="coordinator-a"):
    page.goto(f"{base_url}/accounts/login/")
    assert violations(page) == [], "login"
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base_url}/")


def test_the_tablet_consent_pages_have_no_wcag_22_aa_violation(world, forms, live_server, new_page):  # noqa: F811
    fresh = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    included = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    record(world, included, forms["surrogate"], actor=world.coordinator_a,
           signed_at=timezone.now() - datetime.timedelta(hours=2))
    page = new_page(width=900, height=1200)  # a tablet held upright
    log_in(page, live_server.url)
    found = {}
    for name, participant, kind in (("patient", fresh, "patient"), ("surrogate", fresh, "surrogate"),
                                    ("continuation", included, "continuation")):
        page.goto(f"{live_server.url}{SITE}/participants/{participant.code}/consent/{forms[kind].pk}/")
        found[f"{name}: information note"] = violations(page)
        note = page.locator("[data-note-scroll]")
        if note.count():
            note.evaluate("note => { note.scrollTop = note.scrollHeight; }")
            page.locator("[data-note-done]").click()
            page.locator("[data-consent-part]").wait_for(state="visible")
        found[f"{name}: consent part"] = violations(page)
    assert {page_: v for page_, v in found.items() if v} == {}


def test_the_withdrawal_and_dashboard_pages_have_no_wcag_22_aa_violation(world, forms, live_server,  # noqa: F811
                                                                         new_page):
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    record(world, participant, forms["patient"], actor=world.coordinator_a,
           signed_at=timezone.now() - datetime.timedelta(hours=2))
    services.participant_withdraw(actor=world.coordinator_a, participant=participant, scope="treatment",
                                  reason="Nausées", at=timezone.now() - datetime.timedelta(hours=1))
    page = new_page(width=1200, height=900)
    log_in(page, live_server.url)
    found = {}
    for name, path in (("participant", f"{SITE}/participants/{participant.code}/"),
                       ("participants", f"{SITE}/participants/"),
                       ("participants, filtered", f"{SITE}/participants/?state=withdrawn_treatment")):
        page.goto(f"{live_server.url}{path}")
        found[name] = violations(page)
    assert {name: v for name, v in found.items() if v} == {}
    # The check does report: a page without a language and an image without a text alternative fails it.
    page.set_content('<html><head><title>x</title></head><body><main><img src="/static/x.png"></main></body></html>')
    reported = " ".join(violations(page))
    assert "image-alt" in reported and "html-has-lang" in reported


def test_the_consent_part_is_answered_from_the_keyboard_alone(world, forms, live_server, new_page):  # noqa: F811
    """Tab to each control of the consent part, Space to choose, typing to fill: every statement answered and
    the typed signature, user name and password entered without the mouse."""
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    page = new_page(width=900, height=1200)
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}{SITE}/participants/{participant.code}/consent/{forms['patient'].pk}/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    page.keyboard.press("Tab")
    page.keyboard.press("End")
    page.locator("[data-note-done]").wait_for(state="visible")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("[data-consent-part]").wait_for(state="visible")
    wanted = {"signature_typed": "Jeanne Martin", "username": "coordinator-a", "password": PASSWORD}
    for _ in range(80):
        page.keyboard.press("Tab")
        active = page.evaluate("({name: document.activeElement.name || '', type: document.activeElement.type || '',"
                               " value: document.activeElement.value || '', text: document.activeElement.textContent})")
        if active["type"] == "radio" and active["value"] == "accept":
            page.keyboard.press("Space")
        elif active["name"] in wanted and not page.input_value(f"[name={active['name']}]"):
            page.keyboard.type(wanted[active["name"]])
        elif active["type"] == "submit" and "Signer" in active["text"]:
            break
    else:
        pytest.fail("the keyboard never reached the Sign button")
    assert all(page.input_value(f"[name={name}]") == value for name, value in wanted.items())
    accepts = page.locator("input[type=radio][value=accept]")
    assert accepts.count() and all(accepts.nth(i).is_checked() for i in range(accepts.count()))
    with page.expect_navigation(timeout=120_000):
        page.keyboard.press("Enter")
    assert f"/participants/{participant.code}/" in page.url and page.locator(".errors, .errorlist").count() == 0
