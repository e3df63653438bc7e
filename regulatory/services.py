"""Writes of the regulatory backbone. Each runs in one transaction and leaves its audit entries."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm
from wagtail.models import GroupPagePermission, Page, Revision

from . import audit
from .models import InvestigationalSite, Role, RoleGroup, TrialArm, TrialPage
from .models.roles import SITE_ROLES, TRIAL_ROLES
from .permissions import (
    SITE_ROLE_PERMISSIONS,
    SPONSOR_MODEL_PERMISSIONS,
    SPONSOR_PAGE_PERMISSIONS,
    TRIAL_ROLE_PERMISSIONS,
)

TRIAL_AUDIT_FIELDS = (
    "title", "slug", "acronym", "nct_number", "eu_ct_number", "org_study_id", "sponsor_name", "phase",
    "target_enrolment", "status", "start_date", "completion_date", "condition", "design_summary",
)
SITE_AUDIT_FIELDS = (
    "trial", "code", "name", "city", "country", "principal_investigator", "status", "activation_date",
    "is_demo",
)
SITE_IMMUTABLE_FIELDS = ("trial", "code")


# --- Trials -----------------------------------------------------------------------------------------

def _arm_lines(arms: Iterable[Mapping[str, Any]]) -> list[str]:
    return [f"{a['label']} ({a['arm_type']}): {a['intervention']}" for a in arms]


def _trial_values(trial: TrialPage) -> dict[str, Any]:
    values = audit.snapshot(trial, TRIAL_AUDIT_FIELDS)
    values["arms"] = _arm_lines(
        {"label": a.label, "arm_type": a.arm_type, "intervention": a.intervention} for a in trial.arms.all()
    )
    return values


@transaction.atomic
def trial_create(*, actor, parent: Page, arms: Iterable[Mapping[str, Any]] = (), **fields) -> TrialPage:
    """Create and publish a trial page under `parent`, with its sponsor and inspector role groups."""
    trial = TrialPage(**fields)
    trial.arms = [TrialArm(**arm) for arm in arms]
    parent.add_child(instance=trial)
    trial.save_revision(user=actor, log_action=False).publish(user=actor, log_action=False)
    audit.record(actor=actor, action="trial.created", obj=trial, changes=audit.diff({}, _trial_values(trial)))
    for role in TRIAL_ROLES:
        _ensure_role_group(actor=actor, trial=trial, role=role)
    return trial


@transaction.atomic
def trial_update(*, actor, trial: TrialPage, arms: Iterable[Mapping[str, Any]] | None = None,
                 **fields) -> TrialPage:
    """Change a trial and publish the change; nothing is written when nothing differs."""
    trial = TrialPage.objects.select_for_update().get(pk=trial.pk)
    before = _trial_values(trial)
    for name, value in fields.items():
        setattr(trial, name, value)
    if arms is not None:
        trial.arms = [TrialArm(**arm) for arm in arms]
    after = {**audit.snapshot(trial, TRIAL_AUDIT_FIELDS),
             "arms": _arm_lines(arms) if arms is not None else before["arms"]}
    changes = audit.diff(before, after)
    if not changes:
        return trial
    trial.full_clean()
    trial.save_revision(user=actor, log_action=False).publish(user=actor, log_action=False)
    audit.record(actor=actor, action="trial.changed", obj=trial, changes=changes)
    return trial


def _revision_values(revision: Revision | None) -> dict[str, Any]:
    if revision is None:
        return {}
    content = revision.content
    values = {name: content.get(name) for name in TRIAL_AUDIT_FIELDS}
    values["arms"] = _arm_lines(content.get("arms", []))
    return values


@transaction.atomic
def trial_revision_audit(*, actor, trial: TrialPage, action: str) -> None:
    """Record an edit made in the Wagtail page editor: the newest revision against the one before."""
    revisions = list(trial.revisions.order_by("-created_at", "-pk")[:2])
    newest = revisions[0] if revisions else None
    previous = revisions[1] if len(revisions) > 1 else None
    changes = audit.diff(_revision_values(previous), _revision_values(newest))
    audit.record(actor=actor, action=action, obj=trial, changes=changes,
                 reason=f"revision {newest.pk}" if newest else "")
    if action == "trial.created":
        for role in TRIAL_ROLES:
            _ensure_role_group(actor=actor, trial=trial, role=role)


# --- Sites ------------------------------------------------------------------------------------------

@transaction.atomic
def site_create(*, actor, trial: TrialPage, **fields) -> InvestigationalSite:
    """Create an investigational site with its investigator and coordinator role groups."""
    site = InvestigationalSite(trial=trial, **fields)
    site.full_clean()
    site.save()
    audit.record(actor=actor, action="site.created", obj=site,
                 changes=audit.diff({}, audit.snapshot(site, SITE_AUDIT_FIELDS)))
    for role in SITE_ROLES:
        _ensure_role_group(actor=actor, trial=trial, site=site, role=role)
    return site


@transaction.atomic
def site_update(*, actor, site: InvestigationalSite, **fields) -> InvestigationalSite:
    """Change a site's details. Its trial and code never change: participant codes are built on them."""
    site = InvestigationalSite.objects.select_for_update().get(pk=site.pk)
    before = audit.snapshot(site, SITE_AUDIT_FIELDS)
    for name, value in fields.items():
        setattr(site, name, value)
    after = audit.snapshot(site, SITE_AUDIT_FIELDS)
    frozen = [name for name in SITE_IMMUTABLE_FIELDS if str(before[name]) != str(after[name])]
    if frozen:
        raise ValidationError({name: _("This cannot change once the site exists.") for name in frozen})
    changes = audit.diff(before, after)
    if not changes:
        return site
    site.full_clean()
    site.save()
    audit.record(actor=actor, action="site.changed", obj=site, changes=changes)
    return site


# --- Roles ------------------------------------------------------------------------------------------

def _group_name(trial: TrialPage, role: str, site: InvestigationalSite | None) -> str:
    """A stable name, always in the site's main language, whatever language the creating request used."""
    with translation.override(settings.LANGUAGE_CODE):
        parts = [trial.nct_number] + ([site.code] if site else []) + [str(Role(role).label)]
    return " · ".join(parts)


def _ensure_role_group(*, actor, trial: TrialPage, role: str, site: InvestigationalSite | None = None
                       ) -> RoleGroup:
    existing = RoleGroup.objects.filter(trial=trial, site=site, role=role).select_related("group").first()
    if existing:
        return existing
    group = Group.objects.create(name=_group_name(trial, role, site))
    role_group = RoleGroup.objects.create(group=group, role=role, trial=trial, site=site)
    target = site or trial
    grants = SITE_ROLE_PERMISSIONS[role] if site else TRIAL_ROLE_PERMISSIONS[role]
    for perm in grants:
        assign_perm(perm, group, target)
        audit.record(actor=actor, action="permission.granted", obj=group,
                     changes={"permission": [None, perm], "on": [None, str(target)]})
    if role == Role.SPONSOR:
        for permission_type in SPONSOR_PAGE_PERMISSIONS:
            GroupPagePermission.objects.create(group=group, page=trial, permission_type=permission_type)
            audit.record(actor=actor, action="permission.granted", obj=group,
                         changes={"permission": [None, f"wagtailcore.{permission_type}_page"],
                                  "on": [None, str(trial)]})
        for perm in SPONSOR_MODEL_PERMISSIONS:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            audit.record(actor=actor, action="permission.granted", obj=group,
                         changes={"permission": [None, perm]})
    return role_group


def role_group_for(*, trial: TrialPage, role: str, site: InvestigationalSite | None = None) -> RoleGroup:
    if (role in SITE_ROLES) != (site is not None):
        raise ValidationError(_("Site roles need a site; trial roles take none."))
    return RoleGroup.objects.select_related("group").get(trial=trial, site=site, role=role)


@transaction.atomic
def role_grant(*, actor, user, role: str, trial: TrialPage, site: InvestigationalSite | None = None) -> bool:
    """Give `user` a role on a trial or site. Returns False when they already held it."""
    role_group = role_group_for(trial=trial, role=role, site=site)
    if user.groups.filter(pk=role_group.group_id).exists():
        return False
    user.groups.add(role_group.group)
    audit.record(actor=actor, action="role.granted", obj=user, object_repr=f"{user.get_username()}",
                 changes={"role": [None, role_group.group.name]})
    return True


@transaction.atomic
def role_revoke(*, actor, user, role: str, trial: TrialPage, site: InvestigationalSite | None = None) -> bool:
    """Take a role away from `user`. Returns False when they did not hold it."""
    role_group = role_group_for(trial=trial, role=role, site=site)
    if not user.groups.filter(pk=role_group.group_id).exists():
        return False
    user.groups.remove(role_group.group)
    audit.record(actor=actor, action="role.revoked", obj=user, object_repr=f"{user.get_username()}",
                 changes={"role": [role_group.group.name, None]})
    return True


def account_audit(*, actor, user, before: Mapping[str, Any], action: str) -> None:
    """Record an account edit made in the Wagtail user admin: groups (roles), superuser, active flag."""
    after = account_state(user)
    changes = audit.diff(before, after)
    if changes or action == "account.created":
        audit.record(actor=actor, action=action, obj=user, object_repr=user.get_username(), changes=changes)


def account_state(user) -> dict[str, Any]:
    return {
        "groups": sorted(user.groups.values_list("name", flat=True)) if user.pk else [],
        "is_superuser": user.is_superuser,
        "is_active": user.is_active,
    }
