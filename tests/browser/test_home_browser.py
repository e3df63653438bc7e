"""A coordinator logs in through the real login form and finds their own site, and only theirs."""

import pytest

from regulatory.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url, username):
    page.goto(f"{base_url}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base_url}/")


def test_coordinator_logs_in_and_sees_only_their_site(world, live_server, page, screenshot):
    log_in(page, live_server.url, "coordinator-a")
    assert page.locator("h1").inner_text().startswith("Bienvenue")
    assert page.get_by_role("link", name="DIJ — CHU Dijon Bourgogne").is_visible()
    assert "Lille" not in page.content()
    screenshot("home-coordinator")

    page.get_by_role("link", name="DIJ — CHU Dijon Bourgogne").click()
    page.wait_for_url("**/sites/dij/")
    assert page.get_by_role("heading", name="CHU Dijon Bourgogne").is_visible()
    screenshot("site-page-coordinator")

    response = page.goto(f"{live_server.url}/nct07063680/sites/lil/")
    assert response.status == 404


def test_wrong_password_shows_a_clear_message(world, live_server, page, screenshot):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "coordinator-a")
    page.fill("#id_password", "not the password")
    page.click("button[type=submit].primary")
    assert page.locator(".errors").is_visible()
    assert "/accounts/login/" in page.url
    screenshot("login-failed")


def test_logout_ends_the_session(world, live_server, page):
    log_in(page, live_server.url, "coordinator-a")
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/accounts/login/")
    page.goto(f"{live_server.url}/nct07063680/sites/dij/")
    assert "/accounts/login/" in page.url
