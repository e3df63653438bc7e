from django.contrib.auth.models import Permission

from regulatory import permissions
from regulatory.models import InvestigationalSite


def codes(sites):
    return sorted(site.code for site in sites)


def test_site_a_coordinator_accesses_only_site_a(world):
    assert codes(permissions.sites_accessible(world.coordinator_a)) == ["DIJ"]
    assert permissions.can_access_site(world.coordinator_a, world.site_a)
    assert not permissions.can_access_site(world.coordinator_a, world.site_b)
    assert not permissions.can_access_site(world.coordinator_a, world.other_site)


def test_site_staff_read_their_trial_but_not_another(world):
    assert list(permissions.trials_accessible(world.investigator_a)) == [world.trial]
    assert not permissions.can_access_trial(world.investigator_a, world.other_trial)
    assert not permissions.can_manage_trial(world.investigator_a, world.trial)


def test_sponsor_accesses_and_manages_every_site_of_their_trial_only(world):
    assert codes(permissions.sites_accessible(world.sponsor)) == ["DIJ", "LIL"]
    assert codes(permissions.sites_managed(world.sponsor)) == ["DIJ", "LIL"]
    assert permissions.can_manage_site(world.sponsor, world.site_b)
    assert not permissions.can_manage_site(world.sponsor, world.other_site)
    assert not permissions.can_access_trial(world.sponsor, world.other_trial)


def test_inspector_reads_every_site_of_the_trial_and_manages_nothing(world):
    assert codes(permissions.sites_accessible(world.inspector)) == ["DIJ", "LIL"]
    assert not permissions.sites_managed(world.inspector).exists()
    assert not permissions.can_manage_trial(world.inspector, world.trial)
    assert not permissions.can_manage_site(world.inspector, world.site_a)
    assert not permissions.can_add_site(world.inspector)


def test_administrator_accesses_and_manages_everything(world):
    assert codes(permissions.sites_accessible(world.admin)) == ["BOR", "DIJ", "LIL"]
    assert permissions.can_manage_site(world.admin, world.other_site)


def test_user_without_role_and_anonymous_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    for user in (world.nobody, AnonymousUser()):
        assert not permissions.sites_accessible(user).exists()
        assert not permissions.trials_accessible(user).exists()
        assert not permissions.can_access_site(user, world.site_a)


def test_model_level_permission_never_widens_a_scoped_listing(world):
    """accept_global_perms=False: a global `access_site` grant does not open every site."""
    world.coordinator_a.user_permissions.add(
        Permission.objects.get(codename="access_site"), Permission.objects.get(codename="access_trial")
    )
    user = type(world.coordinator_a).objects.get(pk=world.coordinator_a.pk)
    assert codes(permissions.sites_accessible(user)) == ["DIJ"]
    assert not permissions.can_access_site(user, world.site_b)


def test_deactivated_account_loses_every_access(world):
    world.coordinator_a.is_active = False
    world.coordinator_a.save()
    assert not permissions.sites_accessible(world.coordinator_a).exists()


def test_wagtail_policy_scopes_admin_listing_by_site(world):
    policy = permissions.InvestigationalSitePolicy(InvestigationalSite)
    assert codes(policy.instances_user_has_any_permission_for(world.coordinator_a, ["view"])) == ["DIJ"]
    assert codes(policy.instances_user_has_any_permission_for(world.coordinator_a, ["change"])) == []
    assert codes(policy.instances_user_has_any_permission_for(world.sponsor, ["change"])) == ["DIJ", "LIL"]
    assert policy.user_has_permission(world.sponsor, "add")
    assert not policy.user_has_permission(world.inspector, "add")
    assert not policy.user_has_permission_for_instance(world.sponsor, "change", world.other_site)


def test_no_one_may_delete_a_site(world):
    policy = permissions.InvestigationalSitePolicy(InvestigationalSite)
    for user in (world.admin, world.sponsor, world.coordinator_a):
        assert not policy.user_has_permission(user, "delete")
        assert not policy.user_has_permission_for_instance(user, "delete", world.site_a)
