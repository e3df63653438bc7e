"""Reads of the regulatory backbone, always filtered through `regulatory.permissions`."""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from . import permissions
from .models import InvestigationalSite, Role, RoleGroup, TrialPage


def trials_for_user(*, user) -> QuerySet[TrialPage]:
    return permissions.trials_accessible(user).live().order_by("nct_number")


def sites_for_user(*, user, trial: TrialPage | None = None) -> QuerySet[InvestigationalSite]:
    sites = permissions.sites_accessible(user).select_related("trial")
    if trial is not None:
        sites = sites.filter(trial=trial)
    return sites.order_by("trial__nct_number", "code")


def site_for_user(*, user, trial: TrialPage, code: str) -> InvestigationalSite | None:
    """The site with that code in that trial, or None when it does not exist or the user may not see it."""
    return sites_for_user(user=user, trial=trial).filter(code=code.upper()).first()


def roles_of_user(*, user, trial: TrialPage | None = None) -> QuerySet[RoleGroup]:
    if not permissions.is_authenticated(user):
        return RoleGroup.objects.none()
    roles = RoleGroup.objects.filter(group__user=user).select_related("trial", "site", "group")
    if trial is not None:
        roles = roles.filter(trial=trial)
    return roles.order_by("trial__nct_number", "site__code", "role")


@dataclass(frozen=True)
class TeamMember:
    full_name: str
    username: str
    role: str
    role_label: str


def site_team(*, site: InvestigationalSite) -> list[TeamMember]:
    """Active members of the site's role groups, investigators first."""
    role_groups = {rg.group_id: rg for rg in RoleGroup.objects.filter(site=site)}
    users = (
        get_user_model().objects.filter(is_active=True, groups__in=role_groups.keys())
        .prefetch_related("groups").order_by("last_name", "first_name", "username").distinct()
    )
    members = []
    for user in users:
        for group in user.groups.all():
            if group.pk in role_groups:
                role_group = role_groups[group.pk]
                members.append(TeamMember(user.get_full_name() or user.get_username(), user.get_username(),
                                          role_group.role, role_group.get_role_display()))
    members.sort(key=lambda m: (m.role != Role.INVESTIGATOR, m.full_name))
    return members


@dataclass
class TrialSummary:
    trial: TrialPage
    roles: list[str] = field(default_factory=list)
    sites: list[InvestigationalSite] = field(default_factory=list)


@dataclass
class Dashboard:
    trials: list[TrialSummary]
    capabilities: list[str]
    is_administrator: bool


def dashboard(*, user) -> Dashboard:
    """What the logged-in home shows: each trial with the user's roles and visible sites, and what they can do."""
    summaries = {t.pk: TrialSummary(trial=t) for t in trials_for_user(user=user)}
    role_keys: list[str] = []
    for role_group in roles_of_user(user=user):
        summary = summaries.get(role_group.trial_id)
        label = role_group.get_role_display()
        if role_group.site is not None:
            label = f"{label} — {role_group.site.code}"
        if summary is not None:
            summary.roles.append(label)
        if role_group.role not in role_keys:
            role_keys.append(role_group.role)
    for site in sites_for_user(user=user):
        if site.trial_id in summaries:
            summaries[site.trial_id].sites.append(site)
    is_admin = permissions.is_administrator(user)
    keys = (["administrator"] if is_admin else []) + role_keys
    capabilities = []
    for key in keys:
        for capability in permissions.ROLE_CAPABILITIES[key]:
            if str(capability) not in capabilities:
                capabilities.append(str(capability))
    return Dashboard(trials=list(summaries.values()), capabilities=capabilities, is_administrator=is_admin)
