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


# --- The per-request snapshot (`permissions.Access`) against guardian's own answers --------------------------------

PERSONAS = ("coordinator_a", "investigator_a", "coordinator_b", "sponsor", "qa", "inspector", "other_sponsor", "nobody")


def _guardian_answers(user, world):
    """What guardian itself says (its nested subqueries and `has_perm`), for every trial and site of the world."""
    from guardian.shortcuts import get_objects_for_user

    from regulatory.models import TrialPage

    def objects(perm, klass):
        return set(get_objects_for_user(user, perm, klass=klass, accept_global_perms=False, with_superuser=False)
                   .values_list("pk", flat=True))

    return {
        "trials": {perm: objects(perm, TrialPage) for perm in (permissions.ACCESS_TRIAL, permissions.MANAGE_TRIAL)},
        "sites": {perm: objects(perm, InvestigationalSite) for perm in (
            permissions.ACCESS_SITE, permissions.RECORD_CONSENT, permissions.ACKNOWLEDGE_AMENDMENT)},
        "admin": user.has_perm("wagtailadmin.access_admin"),
    }


def test_the_snapshot_agrees_with_guardian_for_every_persona(world):
    from guardian.shortcuts import assign_perm

    # A permission given to a user directly, not through a role group, counts too.
    assign_perm(permissions.ACCESS_SITE, world.nobody, world.other_site)
    for name in PERSONAS:
        user = getattr(world, name)
        held = permissions.Access(user)
        expected = _guardian_answers(user, world)
        for perm, pks in expected["trials"].items():
            assert held.trials_with(perm) == pks, (name, perm)
        for perm, pks in expected["sites"].items():
            assert held.sites_with(perm) == pks, (name, perm)
        assert held.uses_admin == expected["admin"], name
        assert held.site_trials == dict(
            InvestigationalSite.objects.filter(pk__in=held.site_trials).values_list("pk", "trial_id")), name
    assert permissions.Access(world.inspector).grants == {world.trial.pk: None}
    assert permissions.can_access_site(world.nobody, world.other_site)


def test_one_query_per_user_and_request_and_changes_are_seen_at_once(world, django_assert_num_queries):
    from regulatory.services import trials as trial_services

    user = world.coordinator_b
    with permissions.request_cache():
        with django_assert_num_queries(1):
            assert permissions.can_access_site(user, world.site_b)
            assert not permissions.can_access_site(user, world.site_a)
            assert permissions.is_site_staff(user, world.site_b)
            assert not permissions.can_read_trial_wide(user, world.trial)
            assert permissions.can_access_trial(user, world.trial)
        with django_assert_num_queries(1):  # the delegation log: one more query, the user's entries at the site
            assert permissions.can_record_consent(user, world.site_b)
        # A role granted in the same request is seen by the next question (the cache is emptied).
        trial_services.role_grant(actor=world.sponsor, user=user, role="coordinator", trial=world.trial,
                                  site=world.site_a)
        assert permissions.can_access_site(user, world.site_a)
        trial_services.role_revoke(actor=world.sponsor, user=user, role="coordinator", trial=world.trial,
                                   site=world.site_a)
        assert not permissions.can_access_site(user, world.site_a)
    # Outside a request nothing is kept: every question reads afresh.
    with django_assert_num_queries(2):
        assert permissions.can_access_site(user, world.site_b)
        assert not permissions.can_access_site(user, world.site_a)
