import datetime

import pytest
from django.core.exceptions import ValidationError
from guardian.shortcuts import get_perms
from wagtail.models import GroupPagePermission

from regulatory import services
from regulatory.models import AuditEntry, InvestigationalSite, Role, RoleGroup
from regulatory.tests.factories import make_site, make_trial, make_user


def test_trial_creation_is_audited_and_sets_up_trial_roles(db):
    trial = make_trial(nct_number="NCT07063680")
    created = AuditEntry.objects.get(action="trial.created")
    assert created.changes["nct_number"] == [None, "NCT07063680"]
    sponsor = RoleGroup.objects.get(trial=trial, role=Role.SPONSOR)
    assert sorted(get_perms(sponsor.group, trial)) == ["access_trial", "manage_trial"]
    # The inspector role opens nothing by itself: access comes from an inspection window.
    assert get_perms(RoleGroup.objects.get(trial=trial, role=Role.INSPECTOR).group, trial) == []
    page_perms = set(GroupPagePermission.objects.filter(group=sponsor.group).values_list(
        "permission__codename", flat=True))
    assert page_perms == {"add_page", "change_page", "publish_page", "lock_page", "unlock_page"}
    assert AuditEntry.objects.filter(action="permission.granted").count() >= 9


def test_trial_update_records_old_and_new_values(db):
    trial = make_trial(target_enrolment=100)
    services.trial_update(actor=None, trial=trial, target_enrolment=390, status="RECRUITING")
    entry = AuditEntry.objects.get(action="trial.changed")
    assert entry.changes == {"target_enrolment": [100, 390], "status": ["NOT_YET_RECRUITING", "RECRUITING"]}
    trial.refresh_from_db()
    assert trial.target_enrolment == 390 and trial.live


def test_trial_update_without_change_writes_nothing(db):
    trial = make_trial()
    revisions, entries = trial.revisions.count(), AuditEntry.objects.count()
    services.trial_update(actor=None, trial=trial, target_enrolment=trial.target_enrolment)
    assert trial.revisions.count() == revisions and AuditEntry.objects.count() == entries


def test_trial_dates_in_wrong_order_are_refused(db):
    trial = make_trial()
    with pytest.raises(ValidationError):
        services.trial_update(actor=None, trial=trial, completion_date=datetime.date(2020, 1, 1))
    assert not AuditEntry.objects.filter(action="trial.changed").exists()


def test_site_creation_sets_up_site_roles_and_audit(db):
    trial = make_trial()
    site = make_site(trial=trial, code="DIJ")
    for role in (Role.INVESTIGATOR, Role.COORDINATOR):
        group = RoleGroup.objects.get(site=site, role=role).group
        assert sorted(get_perms(group, site)) == ["access_site", "acknowledge_amendment", "record_consent"]
    entry = AuditEntry.objects.get(action="site.created")
    assert entry.changes["code"] == [None, "DIJ"]


@pytest.mark.parametrize("code", ["dij", "D", "TOOLONGX", "DI1", "<b>"])
def test_invalid_site_code_is_refused_and_nothing_is_written(db, code):
    trial = make_trial()
    entries = AuditEntry.objects.count()
    with pytest.raises(ValidationError):
        services.site_create(actor=None, trial=trial, code=code, name="X", city="Y", principal_investigator="Z")
    assert not InvestigationalSite.objects.exists()
    assert AuditEntry.objects.count() == entries


def test_duplicate_site_code_in_one_trial_is_refused(db):
    trial = make_trial()
    make_site(trial=trial, code="DIJ")
    with pytest.raises(ValidationError):
        make_site(trial=trial, code="DIJ")
    assert InvestigationalSite.objects.count() == 1


def test_same_site_code_in_another_trial_is_allowed(db):
    make_site(trial=make_trial(), code="DIJ")
    make_site(trial=make_trial(), code="DIJ")
    assert InvestigationalSite.objects.filter(code="DIJ").count() == 2


def test_site_update_records_old_and_new(db):
    site = make_site(trial=make_trial(), code="DIJ", name="Old name")
    services.site_update(actor=None, site=site, name="New name", status="ON_HOLD")
    entry = AuditEntry.objects.get(action="site.changed")
    assert entry.changes == {"name": ["Old name", "New name"], "status": ["ACTIVE", "ON_HOLD"]}


def test_site_code_and_trial_cannot_change(db):
    site = make_site(trial=make_trial(), code="DIJ")
    with pytest.raises(ValidationError):
        services.site_update(actor=None, site=site, code="LYO")
    with pytest.raises(ValidationError):
        services.site_update(actor=None, site=site, trial=make_trial())
    site.refresh_from_db()
    assert site.code == "DIJ"


def test_role_grant_and_revoke_are_audited_and_idempotent(db):
    trial = make_trial()
    site = make_site(trial=trial, code="DIJ")
    actor, user = make_user("admin", superuser=True), make_user("nurse")
    assert services.role_grant(actor=actor, user=user, role=Role.COORDINATOR, trial=trial, site=site)
    assert not services.role_grant(actor=actor, user=user, role=Role.COORDINATOR, trial=trial, site=site)
    granted = AuditEntry.objects.filter(action="role.granted", object_id=str(user.pk))
    assert granted.count() == 1 and granted.get().actor == actor
    assert user.has_perm("regulatory.access_site", site)
    assert services.role_revoke(actor=actor, user=user, role=Role.COORDINATOR, trial=trial, site=site)
    assert not services.role_revoke(actor=actor, user=user, role=Role.COORDINATOR, trial=trial, site=site)
    assert AuditEntry.objects.filter(action="role.revoked", object_id=str(user.pk)).count() == 1
    user = type(user).objects.get(pk=user.pk)
    assert not user.has_perm("regulatory.access_site", site)


def test_site_role_without_site_is_refused(db):
    trial = make_trial()
    with pytest.raises(ValidationError):
        services.role_grant(actor=None, user=make_user("x"), role=Role.COORDINATOR, trial=trial)


def test_role_group_names_are_french_whatever_the_request_language(db):
    from django.utils import translation

    with translation.override("en"):
        trial = make_trial(nct_number="NCT07063680")
        make_site(trial=trial, code="DIJ")
    names = set(RoleGroup.objects.values_list("group__name", flat=True))
    assert names == {"NCT07063680 · Promoteur", "NCT07063680 · Inspecteur", "NCT07063680 · DIJ · Investigateur",
                     "NCT07063680 · DIJ · Coordinateur d'étude", "NCT07063680 · Assurance qualité promoteur",
                     "NCT07063680 · Contrôle qualité du TMF"}


def test_wagtail_site_wide_editor_groups_are_gone(db):
    from django.contrib.auth.models import Group

    assert not Group.objects.filter(name__in=["Editors", "Moderators"]).exists()
