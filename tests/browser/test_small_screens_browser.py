"""Issue 13: every page of site staff works on a phone (390 px wide: nothing wider than the screen, the Print
buttons on screen), the home page offers the current forms to print, the consent form can be reached and signed
from the keyboard, and the audit trail fits a 1,366 px window."""

import pytest

from consent import services
from consent.models import ConsentRecord
from consent.tests.test_records import forms, record  # noqa: F401  (fixture)
from regulatory.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = 390
WIDTH = "document.scrollingElement.scrollWidth"


def log_in(page, base_url, username):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base_url}/")


def test_every_site_staff_page_fits_a_phone(world, forms, live_server, new_page, screenshot_dir):  # noqa: F811
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    record(world, participant, forms["patient"], actor=world.coordinator_a)
    fresh = services.participant_create(actor=world.coordinator_a, site=world.site_a)  # a consent form is offered
    page = new_page(width=PHONE, height=800)
    log_in(page, live_server.url, "coordinator-a")

    # The home page offers this site's current forms to print, in one tap.
    link = page.get_by_role("link", name="Imprimer les formulaires en vigueur — DIJ")
    assert link.is_visible()
    site = "/nct07063680/sites/dij"
    pages = {
        "home": "/", "trial": "/nct07063680/", "site": f"{site}/", "current-forms": f"{site}/consent-forms/",
        "participants": f"{site}/participants/", "participant": f"{site}/participants/{participant.code}/",
        "consent-form": f"{site}/participants/{fresh.code}/consent/{forms['patient'].pk}/",
        "tasks": f"{site}/tasks/", "verify": "/verify/", "password": "/accounts/password_change/",
    }
    for name, path in pages.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, (name, response.status)
        page.screenshot(path=str(screenshot_dir / f"phone-{name}.png"), full_page=True)
        assert page.evaluate(WIDTH) <= PHONE, (name, page.evaluate(WIDTH))

    # The current forms: in the pathway's order, each Print button inside the screen.
    page.goto(f"{live_server.url}{site}/consent-forms/")
    buttons = page.get_by_role("link", name="Imprimer", exact=True)
    assert buttons.count() == 4
    for index in range(4):
        box = buttons.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE
    kinds = page.locator("table.list tbody tr td:first-child").all_inner_texts()
    assert [k.split("\n")[0] for k in kinds] == [
        "Consentement du patient", "Consentement d'un proche (proche ou personne de confiance)",
        "Inclusion en situation d'urgence", "Consentement de poursuite"]
    # The consents table stays inside its card, its cells under their column's name.
    page.goto(f"{live_server.url}{site}/participants/{participant.code}/")
    card = page.locator("section.card", has=page.locator("table.list")).first.bounding_box()
    table = page.locator("section.card table.list").first.bounding_box()
    assert table["x"] >= card["x"] and table["x"] + table["width"] <= card["x"] + card["width"] + 0.5
    assert page.locator("table.list td[data-label]").count() > 0


def test_the_consent_form_from_the_keyboard(world, forms, live_server, new_page, screenshot_dir):  # noqa: F811
    """The first Tab reaches "Aller au formulaire de consentement", which leads to the form's first field; the
    signer signs by typing their name, and the record says so."""
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    page = new_page(width=900, height=1200)
    log_in(page, live_server.url, "coordinator-a")
    page.goto(f"{live_server.url}/nct07063680/sites/dij/participants/{participant.code}/consent/"
              f"{forms['patient'].pk}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Aller au formulaire de consentement"
    page.screenshot(path=str(screenshot_dir / "consent-form-skip-link.png"))
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the information note comes first: its scrolling region takes the focus
    assert page.evaluate("document.activeElement.hasAttribute('data-note-scroll')")
    page.keyboard.press("End")  # read to its end from the keyboard
    page.locator("[data-note-done]").wait_for(state="visible")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.hasAttribute('data-note-done')")
    page.keyboard.press("Enter")

    page.get_by_label("J'accepte", exact=True).first.check()
    page.fill("#id_signature_typed", "Jeanne Martin")
    page.fill("#id_username", "coordinator-a")
    page.fill("#id_password", PASSWORD)
    page.screenshot(path=str(screenshot_dir / "consent-form-typed-signature.png"), full_page=True)
    with page.expect_navigation(timeout=120_000):  # signing the PDF takes a while on a busy machine
        page.get_by_role("button", name="Signer et enregistrer").click()
    errors = page.locator(".errors, .errorlist").all_inner_texts()
    page.screenshot(path=str(screenshot_dir / "consent-form-typed-signature-sent.png"), full_page=True)
    assert errors == [] and f"/participants/{participant.code}/" in page.url
    assert ConsentRecord.objects.get().signature_source == "typed"


def test_the_audit_trail_fits_a_laptop_window(world, forms, live_server, new_page, screenshot_dir):  # noqa: F811
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    record(world, participant, forms["patient"], actor=world.coordinator_a)
    page = new_page(width=1366, height=900)
    log_in(page, live_server.url, "sponsor")
    page.goto(f"{live_server.url}/audit/")
    page.screenshot(path=str(screenshot_dir / "audit-trail-1366.png"))
    assert page.evaluate(WIDTH) <= 1366
    text = page.locator("table.audit").inner_text()
    assert "Consentement enregistré" in text and world.coordinator_a.get_full_name() in text


def fits(page, selector):
    """Every box of what `selector` finds (and of the fields inside it) lies within the phone's width."""
    boxes = page.evaluate("""selector => [...document.querySelectorAll(selector)].flatMap(element =>
        [element, ...element.querySelectorAll('input, select, textarea, button, label, table')])
        .filter(element => element.getClientRects().length)
        .map(element => { const box = element.getBoundingClientRect();
                          return [element.tagName + (element.name ? '[' + element.name + ']' : ''), box.left,
                                  box.right]; })""", selector)
    assert boxes, selector
    return [box for box in boxes if box[1] < -0.5 or box[2] > PHONE + 0.5]


def test_the_delegation_log_the_isf_and_the_participant_forms_fit_a_phone(
        world, forms, live_server, new_page, screenshot_dir):  # noqa: F811
    """The principal investigator's pages too: the delegation log (with its form to delegate), the site's ISF, and
    the participant's page with its withdrawal, death and not-included forms."""
    included = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    record(world, included, forms["patient"], actor=world.investigator_a)
    screening = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    page = new_page(width=PHONE, height=800)
    log_in(page, live_server.url, "investigator-a")
    site = "/nct07063680/sites/dij"
    pages = {
        "delegation-log": (f"{site}/delegation/", "main form"),
        "isf": (f"{site}/isf/", "main"),
        "participant-forms": (f"{site}/participants/{included.code}/",
                              "form[action$='/withdraw/'], form[action$='/death/']"),
        "participant-not-included": (f"{site}/participants/{screening.code}/", "form[action$='/not-included/']"),
    }
    for name, (path, selector) in pages.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, (name, response.status)
        page.screenshot(path=str(screenshot_dir / f"phone-{name}.png"), full_page=True)
        assert page.evaluate(WIDTH) <= PHONE, (name, page.evaluate(WIDTH))
        assert fits(page, selector) == [], name
    # The forms are there to be used: each one once, on the page of a participant it applies to.
    page.goto(f"{live_server.url}{site}/participants/{included.code}/")
    assert page.locator("form[action$='/withdraw/']").count() == 1
    assert page.locator("form[action$='/death/']").count() == 1
    page.goto(f"{live_server.url}{site}/participants/{screening.code}/")
    assert page.locator("form[action$='/not-included/']").count() == 1
    page.goto(f"{live_server.url}{site}/delegation/")
    assert page.locator("main form select, main form input[type=checkbox]").count() > 0  # the form to delegate
