"""Remote consent of a relative (issue 17) on a 360-px-wide phone: the link from the e-mail, the one-time code (a
wrong one first), the information note, the consent with a comprehension question answered wrongly then right, the
signature drawn with a finger, the thank-you page, and the used link. axe-core (WCAG 2.2 A and AA) reports no
violation on any page the relative sees; nothing is wider than the phone; the whole journey can also be completed
from the keyboard alone (the signature typed)."""

import re

import pytest
from django.core import mail

from consent.models import RemoteConsentInvitation
from consent.services import remote
from consent.tests.test_records import forms, new  # noqa: F401  (fixtures)
from consent.tests.test_remote_consent import surrogate  # noqa: F401  (fixture)
from tests.browser.test_accessibility_browser import violations
from tests.browser.test_ceremony_browser import draw

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = 360
WIDTH = "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"


def invite(world, version):
    participant = new(world)
    mail.outbox.clear()
    invitation = remote.remote_invitation_create(actor=world.coordinator_a, participant=participant,
                                                 version=version, email="proche@example.org")
    link, code = mail.outbox
    token = re.search(r"/remote/([A-Za-z0-9_-]+)/", link.body).group(1)
    return participant, invitation, token, re.search(r"(\d{6})", code.body).group(1)


def test_the_remote_journey_on_a_phone_has_no_wcag_22_aa_violation(world, surrogate, live_server,  # noqa: F811
                                                                   new_page, screenshot_dir):
    participant, invitation, token, code = invite(world, surrogate)
    page = new_page(width=PHONE, height=740)
    found, widths = {}, {}

    def check(name):
        found[name] = violations(page)
        widths[name] = page.evaluate(WIDTH)
        page.screenshot(path=str(screenshot_dir / f"remote-{name}.png"), full_page=True)

    page.goto(f"{live_server.url}/remote/{token}/")
    assert participant.code in page.content()
    check("code")
    page.fill("#id_code", "000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Continuer").click()
    assert "Tentative(s) restante(s) : 4" in page.locator(".errors").inner_text()
    check("code-wrong")
    page.fill("#id_code", code)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(f"{live_server.url}/remote/{token}/consent/")
    check("note")
    page.locator("[data-note-scroll]").evaluate("note => { note.scrollTop = note.scrollHeight; }")
    page.locator("[data-note-done]").click()
    page.locator("[data-consent-part]").wait_for(state="visible")
    check("consent")
    page.get_by_label("J'accepte", exact=True).first.check()
    page.get_by_label("Non", exact=True).check()  # the wrong answer to the question
    page.fill("#id_relationship", "fille")
    page.locator("#id_independence_attested").check()
    draw(page, "id_signature_drawn")
    page.get_by_role("button", name="Signer et envoyer").click()
    page.wait_for_load_state()
    assert "sans justification" in page.locator(".explanation").inner_text()
    check("consent-explanation")
    assert RemoteConsentInvitation.objects.get(pk=invitation.pk).used_at is None
    page.get_by_label("Oui, sans conséquence sur ses soins", exact=True).check()
    page.get_by_role("button", name="Signer et envoyer").click()
    page.wait_for_url(f"{live_server.url}/remote/{token}/done/")
    check("done")
    page.goto(f"{live_server.url}/remote/{token}/")
    assert "déjà été utilisé" in page.content()
    check("used")
    page.get_by_role("button", name="English").click()  # the relative's language, from any page
    page.wait_for_load_state()
    assert "already been used" in page.content() and page.locator("html").get_attribute("lang") == "en"
    check("used-en")
    assert {name: v for name, v in found.items() if v} == {}
    assert {name: w for name, w in widths.items() if w > PHONE} == {}
    invitation.refresh_from_db()
    assert invitation.signature_source == "drawn" and invitation.comprehension == {"0": [1, 0]}
    assert invitation.information_seconds is not None and invitation.email == ""


def test_the_remote_consent_from_the_keyboard_alone(world, surrogate, live_server, new_page):  # noqa: F811
    _participant, invitation, token, code = invite(world, surrogate)
    page = new_page(width=PHONE, height=740)
    page.goto(f"{live_server.url}/remote/{token}/")

    def tab_to(test: str, limit=40):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(test):
                return
        raise AssertionError(f"never reached with Tab: {test}")

    tab_to("document.activeElement.id === 'id_code'")
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/remote/{token}/consent/")
    tab_to("document.activeElement.hasAttribute('data-note-scroll')")
    page.keyboard.press("End")
    page.locator("[data-note-done]").wait_for(state="visible")
    tab_to("document.activeElement.hasAttribute('data-note-done')", limit=3)
    page.keyboard.press("Enter")
    # Every control of the consent part, in order: the first choice of each group (the right answer to the
    # question, "J'accepte" to each statement), every box ticked, the relationship and the name typed.
    for _ in range(60):
        page.keyboard.press("Tab")
        kind, name = page.evaluate("[document.activeElement.type, document.activeElement.name]")
        if kind in ("radio", "checkbox"):
            page.keyboard.press("Space")
        elif name == "relationship":
            page.keyboard.type("fils")
        elif name == "signature_typed":
            page.keyboard.type("Paul Martin")
        elif kind == "submit" and page.evaluate("document.activeElement.textContent") == "Signer et envoyer":
            break
    else:
        raise AssertionError("the submit button was never reached")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/remote/{token}/done/")
    invitation.refresh_from_db()
    assert invitation.used_at and invitation.signature_source == "typed" and invitation.relationship == "fils"
