"""The front end: logged-in home, trial pages and site pages, per persona."""

import pytest

SITE_A = "/nct07063680/sites/dij/"
SITE_B = "/nct07063680/sites/lil/"
TRIAL = "/nct07063680/"
OTHER_TRIAL = "/nct01234567/"


@pytest.mark.parametrize("url", ["/", TRIAL, SITE_A, OTHER_TRIAL])
def test_anonymous_user_is_sent_to_login(world, client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_site_b_coordinator_gets_404_on_site_a_page(world, as_user):
    assert as_user(world.coordinator_b).get(SITE_A).status_code == 404


def test_site_a_coordinator_opens_own_site_page_with_its_team(world, as_user):
    response = as_user(world.coordinator_a).get(SITE_A)
    assert response.status_code == 200
    body = response.content.decode()
    assert "CHU Dijon Bourgogne" in body
    assert "Coordinator-A" in body and "Investigator-A" in body
    assert "Coordinator-B" not in body
    assert "/admin/investigational_sites/edit/" not in body


def test_site_code_in_url_is_case_insensitive(world, as_user):
    assert as_user(world.coordinator_a).get("/nct07063680/sites/DIJ/").status_code == 200


def test_unknown_site_code_is_404(world, as_user):
    assert as_user(world.sponsor).get("/nct07063680/sites/xyz/").status_code == 404


def test_site_a_coordinator_never_sees_site_b_in_home_or_trial_listing(world, as_user):
    client = as_user(world.coordinator_a)
    for url in ("/", TRIAL):
        body = client.get(url).content.decode()
        assert "CHU Dijon Bourgogne" in body
        assert "Lille" not in body and "LIL" not in body
        assert "Bordeaux" not in body


def test_site_staff_get_404_on_another_trial(world, as_user):
    assert as_user(world.coordinator_a).get(OTHER_TRIAL).status_code == 404
    assert as_user(world.coordinator_a).get("/nct01234567/sites/bor/").status_code == 404


def test_home_lists_roles_and_capabilities(world, as_user):
    body = as_user(world.coordinator_a).get("/").content.decode()
    assert "Coordinateur" in body or "coordinator" in body.lower()
    assert "NCT07063680" in body and "NCT01234567" not in body


def test_sponsor_sees_every_site_of_the_trial_with_edit_link(world, as_user):
    client = as_user(world.sponsor)
    body = client.get(TRIAL).content.decode()
    assert "CHU Dijon Bourgogne" in body and "Lille" in body and "Bordeaux" not in body
    site_page = client.get(SITE_B).content.decode()
    assert f"/admin/investigational_sites/edit/{world.site_b.pk}/" in site_page


def test_inspector_reads_every_site_without_edit_link(world, as_user):
    client = as_user(world.inspector)
    for url in (SITE_A, SITE_B):
        response = client.get(url)
        assert response.status_code == 200
        assert "/admin/" not in response.content.decode()


def test_user_without_role_gets_home_and_nothing_else(world, as_user):
    client = as_user(world.nobody)
    home = client.get("/")
    assert home.status_code == 200
    assert "NCT07063680" not in home.content.decode()
    assert client.get(TRIAL).status_code == 404
    assert client.get(SITE_A).status_code == 404


def test_logged_in_pages_are_not_cached(world, as_user):
    response = as_user(world.coordinator_a).get(SITE_A)
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_interface_is_french_even_for_an_english_browser(world, as_user):
    client = as_user(world.coordinator_a)
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="fr"' in body
    assert "Vos essais" in body


def test_english_is_available_by_choice(world, as_user):
    client = as_user(world.coordinator_a)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = client.get("/").content.decode()
    assert 'lang="en"' in body
    assert "Your trials" in body
