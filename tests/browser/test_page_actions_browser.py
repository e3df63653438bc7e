"""Issue 12 in the browser: the sponsor writes a letter as typed (its title fills its slug, on the tab in view) and
publishes it; an approved version's editor is read-only and offers no copy, unpublish, move or delete."""

import pytest
from playwright.sync_api import expect

from consent.tests.factories import make_form
from regulatory.models import CorrespondenceItemPage
from tests.browser.test_amendment_browser import footer_action, logged_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_letter_publishes_as_typed_and_an_approved_version_opens_read_only(world, live_server, new_page,
                                                                            screenshot_dir):
    form = make_form(trial=world.trial, kind="patient")  # published, with its favourable-opinion letter
    submission = CorrespondenceItemPage.objects.get().get_parent()
    base = live_server.url
    sponsor = logged_in(new_page, base, "sponsor")

    sponsor.goto(f"{base}/admin/pages/add/regulatory/correspondenceitempage/{submission.pk}/")
    sponsor.locator("#id_title").click()
    sponsor.locator("#id_title").press_sequentially("Réponse aux questions du CPP")  # typed: keyup fills the slug
    sponsor.locator("#id_title").blur()
    slug = sponsor.locator("#id_slug")
    expect(slug).to_be_visible()  # on the tab in view, right under the title
    expect(slug).to_have_value("réponse-aux-questions-du-cpp")
    sponsor.select_option("#id_direction", "sent")
    sponsor.fill("#id_date", "2026-03-02")
    sponsor.select_option("#id_item_type", "other")
    sponsor.fill("#id_correspondent", "CPP Sud-Est")
    sponsor.screenshot(path=str(screenshot_dir / "page-actions-1-letter.png"), full_page=True)
    footer_action(sponsor, r"^Publier$")
    sponsor.wait_for_url(f"**/admin/pages/{submission.pk}/")
    letter = CorrespondenceItemPage.objects.get(title="Réponse aux questions du CPP")
    assert letter.live and letter.slug == "réponse-aux-questions-du-cpp"

    sponsor.goto(f"{base}/admin/pages/{form.pk}/edit/")
    assert "content-locked" in (sponsor.locator("body").get_attribute("class") or "")
    assert "figée" in sponsor.content()
    sponsor.screenshot(path=str(screenshot_dir / "page-actions-2-frozen-version.png"), full_page=True)
    html = sponsor.content()
    for action in ("copy", "unpublish", "move", "delete"):
        assert f"/admin/pages/{form.pk}/{action}/" not in html

    sponsor.goto(f"{base}/admin/pages/{form.pk}/unpublish/")  # typed by hand: refused with the reason
    sponsor.wait_for_url(f"**/admin/pages/{form.get_parent().pk}/")
    assert "Rien de ce qui a été approuvé ne disparaît" in sponsor.content()
    sponsor.screenshot(path=str(screenshot_dir / "page-actions-3-unpublish-refused.png"), full_page=True)
    form.refresh_from_db()
    assert form.live
