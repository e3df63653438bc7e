"""The Wagtail admin, through its real views: sites scoped by the permission module, edits audited."""

from django.test import Client
from wagtail.test.utils.form_data import querydict_from_html

from regulatory.models import AuditEntry, InvestigationalSite, Role, RoleGroup

SITES = "/admin/investigational_sites/"


def site_post_data(trial, **overrides):
    data = {"trial": str(trial.pk), "code": "LYO", "name": "CHU de Lyon (test)", "city": "Lyon",
            "country": "FR", "principal_investigator": "Dr Test", "status": "PENDING", "activation_date": ""}
    data.update(overrides)
    return data


def test_sponsor_listing_shows_only_their_trial_sites(world, as_user):
    body = as_user(world.sponsor).get(SITES).content.decode()
    assert "CHU Dijon Bourgogne" in body and "Hôpital fictif de Lille" in body
    assert "Bordeaux" not in body


def test_sponsor_search_never_returns_another_trial_site(world, as_user):
    client = as_user(world.sponsor)
    assert "CHU fictif de Bordeaux" not in client.get(SITES, {"q": "Bordeaux"}).content.decode()
    assert "CHU fictif de Bordeaux" not in client.get(SITES + "results/", {"q": "BOR"}).content.decode()
    assert "CHU Dijon" in client.get(SITES, {"q": "Dijon"}).content.decode()


def test_sponsor_creates_a_site_through_the_admin(world, as_user):
    response = as_user(world.sponsor).post(SITES + "new/", site_post_data(world.trial))
    assert response.status_code == 302
    site = InvestigationalSite.objects.get(code="LYO")
    assert site.trial == world.trial
    assert RoleGroup.objects.filter(site=site).count() == 2
    entry = AuditEntry.objects.get(action="site.created", object_id=str(site.pk))
    assert entry.actor == world.sponsor and entry.request_id


def test_sponsor_cannot_create_a_site_in_another_trial(world, as_user):
    response = as_user(world.sponsor).post(SITES + "new/", site_post_data(world.other_trial))
    assert response.status_code == 200  # form redisplayed with the error
    assert not InvestigationalSite.objects.filter(code="LYO").exists()


def test_bad_site_code_is_refused_with_a_message(world, as_user):
    response = as_user(world.sponsor).post(SITES + "new/", site_post_data(world.trial, code="lyon-1"))
    assert response.status_code == 200
    assert "2 à 6 lettres majuscules" in response.content.decode() or "2 to 6 capital" in response.content.decode()
    assert not InvestigationalSite.objects.filter(name="CHU de Lyon (test)").exists()


def test_sponsor_edits_a_site_and_the_change_is_audited(world, as_user):
    client = as_user(world.sponsor)
    url = f"{SITES}edit/{world.site_b.pk}/"
    data = site_post_data(world.trial, code="LIL", name="Hôpital fictif de Lille (renamed)", status="ON_HOLD",
                          city="Lille")
    response = client.post(url, data)
    assert response.status_code == 302
    world.site_b.refresh_from_db()
    assert world.site_b.name == "Hôpital fictif de Lille (renamed)" and world.site_b.code == "LIL"
    entry = AuditEntry.objects.get(action="site.changed")
    assert entry.changes["name"] == ["Hôpital fictif de Lille", "Hôpital fictif de Lille (renamed)"]
    assert entry.changes["status"] == ["ACTIVE", "ON_HOLD"]


def test_posting_a_new_code_on_edit_is_ignored(world, as_user):
    client = as_user(world.sponsor)
    client.post(f"{SITES}edit/{world.site_b.pk}/", site_post_data(world.trial, code="XXX", city="Lille"))
    world.site_b.refresh_from_db()
    assert world.site_b.code == "LIL"


def test_other_sponsor_cannot_open_or_change_a_foreign_site(world, as_user):
    client = as_user(world.other_sponsor)
    url = f"{SITES}edit/{world.site_a.pk}/"
    assert client.get(url).status_code in (302, 403, 404)
    client.post(url, site_post_data(world.trial, code="DIJ", name="Hijacked"))
    world.site_a.refresh_from_db()
    assert world.site_a.name == "CHU Dijon Bourgogne"
    assert not AuditEntry.objects.filter(action="site.changed").exists()


def test_nobody_can_delete_a_site_through_the_admin(world, as_user):
    for user in (world.admin, world.sponsor):
        client = as_user(user)
        client.post(f"{SITES}delete/{world.site_a.pk}/")
        assert InvestigationalSite.objects.filter(pk=world.site_a.pk).exists()


def test_inspector_and_site_staff_have_no_admin_and_write_nothing(world, as_user):
    for user in (world.inspector, world.coordinator_a, world.investigator_a):
        client = as_user(user)
        response = client.get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        client.post(SITES + "new/", site_post_data(world.trial))
        client.post(f"{SITES}edit/{world.site_a.pk}/", site_post_data(world.trial, code="DIJ", name="Changed"))
        client.post(f"/admin/pages/{world.trial.pk}/edit/", {"title": "Changed"})
    assert not InvestigationalSite.objects.filter(code="LYO").exists()
    world.site_a.refresh_from_db()
    world.trial.refresh_from_db()
    assert world.site_a.name == "CHU Dijon Bourgogne" and world.trial.title == "Argipressine test"


def test_sponsor_edits_the_trial_page_and_the_change_is_audited(world, as_user):
    client = as_user(world.sponsor)
    url = f"/admin/pages/{world.trial.pk}/edit/"
    data = querydict_from_html(client.get(url).content.decode(), form_id="page-edit-form")
    data["target_enrolment"] = "390"
    data["action-publish"] = "action-publish"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    world.trial.refresh_from_db()
    assert world.trial.target_enrolment == 390
    published = AuditEntry.objects.get(action="trial.published", actor=world.sponsor)
    assert published.actor == world.sponsor
    assert published.changes == {"target_enrolment": [100, 390]}


def test_sponsor_cannot_edit_another_trial_page(world, as_user):
    client = as_user(world.sponsor)
    url = f"/admin/pages/{world.other_trial.pk}/edit/"
    assert client.get(url).status_code in (302, 403)
    world.other_trial.refresh_from_db()
    assert world.other_trial.title == "Another trial"


def test_trial_pages_are_never_deleted(world, as_user):
    client = as_user(world.admin)
    client.post(f"/admin/pages/{world.trial.pk}/delete/")
    world.trial.refresh_from_db()
    assert world.trial.live


def test_role_change_in_the_wagtail_user_editor_is_audited(world, as_user):
    client = as_user(world.admin)
    url = f"/admin/users/edit/{world.nobody.pk}/"
    data = querydict_from_html(client.get(url).content.decode(), form_id="w-editor-form")
    group = RoleGroup.objects.get(site=world.site_a, role=Role.COORDINATOR).group
    data.setlist("groups", [str(group.pk)])
    data["email"], data["is_active"] = "nobody@example.org", "on"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = AuditEntry.objects.get(action="account.changed", object_id=str(world.nobody.pk))
    assert entry.actor == world.admin
    assert entry.changes["groups"] == [[], [group.name]]
    assert world.nobody.has_perm("regulatory.access_site", world.site_a)


def test_accounts_are_never_deleted(world, as_user):
    as_user(world.admin).post(f"/admin/users/delete/{world.nobody.pk}/")
    assert type(world.nobody).objects.filter(pk=world.nobody.pk).exists()


def test_site_history_report_shows_no_foreign_site(world, as_user):
    admin = Client()
    admin.force_login(world.admin)
    admin.post(f"{SITES}edit/{world.other_site.pk}/", site_post_data(
        world.other_trial, code="BOR", name="CHU fictif de Bordeaux", city="Bordeaux-Ouest"))
    assert AuditEntry.objects.filter(action="site.changed", object_id=str(world.other_site.pk)).exists()
    sponsor = as_user(world.sponsor)
    sponsor.post(f"{SITES}edit/{world.site_b.pk}/", site_post_data(world.trial, code="LIL", name="Lille renamed"))
    body = sponsor.get("/admin/reports/site-history/").content.decode()
    assert "Lille renamed" in body
    assert "Bordeaux" not in body


def test_admin_page_search_shows_no_foreign_trial(world, as_user):
    body = as_user(world.sponsor).get("/admin/pages/search/", {"q": "trial"}).content.decode()
    assert "Another trial" not in body


def english_admin(user):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "en"
    profile.save()


def test_the_site_list_says_yes_or_no_for_a_demo_site_in_the_users_language(world, as_user):
    import re

    client = as_user(world.sponsor)
    french = client.get(SITES).content.decode()
    assert "Centre de démonstration" in french and not re.search(r">\s*(True|False)\s*<", french)
    assert re.search(r">\s*(Oui|Non)\s*<", french)
    english_admin(world.sponsor)
    english = client.get(SITES).content.decode()
    assert "Demonstration site" in english and re.search(r">\s*(Yes|No)\s*<", english)
    assert not re.search(r">\s*(True|False)\s*<", english)


def test_the_admin_login_labels_its_password_field_in_each_language(db):
    french = Client().get("/admin/login/").content.decode()
    label = french[french.index('for="id_password"'):][:200]
    assert "Mot de passe" in label and "Password" not in label
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/login/"})
    english = client.get("/admin/login/").content.decode()
    assert 'for="id_password"' in english
    label = english[english.index('for="id_password"'):][:200]
    assert "Password" in label


def test_no_page_is_submitted_to_wagtails_default_moderators_workflow(world):
    from wagtail.models import Page, Workflow

    assert not Workflow.objects.filter(name="Moderators approval", active=True).exists()
    for page in Page.objects.all():
        workflow = page.get_workflow()
        assert workflow is None or workflow.name != "Moderators approval", page
