"""Reads of the regulatory backbone, always filtered through `regulatory.permissions`."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from . import approvals, permissions
from .models import (
    CorrespondenceIndexPage,
    InvestigationalSite,
    ProtocolVersionPage,
    Role,
    RoleGroup,
    SiteActivation,
    SubmissionPage,
    TrialPage,
)


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
    roles = permissions.roles_held(user).select_related("trial", "site", "group")
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
    reads_tmf: bool = False
    print_sites: list[InvestigationalSite] = field(default_factory=list)  # site staff: "print the current forms"
    inspection_ends: object = None


@dataclass
class Dashboard:
    trials: list[TrialSummary]
    capabilities: list[str]
    is_administrator: bool
    to_acknowledge: list = field(default_factory=list)


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
    for summary in summaries.values():
        summary.reads_tmf = permissions.can_read_trial_wide(user, summary.trial)
        summary.print_sites = [site for site in summary.sites if permissions.prints_site_forms(user, site)]
    for grant in permissions.active_grants(user):
        if grant.trial_id in summaries:
            summaries[grant.trial_id].inspection_ends = grant.ends_at
    is_admin = permissions.is_administrator(user)
    keys = (["administrator"] if is_admin else []) + role_keys
    capabilities = []
    for key in keys:
        for capability in permissions.ROLE_CAPABILITIES[key]:
            if str(capability) not in capabilities:
                capabilities.append(str(capability))
    return Dashboard(trials=list(summaries.values()), capabilities=capabilities, is_administrator=is_admin,
                     to_acknowledge=pending_acknowledgements(user=user))


# --- Protocol, correspondence, acknowledgements -----------------------------------------------------------

def site_staff(*, site: InvestigationalSite) -> list:
    """The active staff of a site (investigators and coordinators) who have an e-mail address."""
    return list(permissions.site_staff_members(site).exclude(email="").select_related("wagtail_userprofile"))


def site_staff_emails(*, site: InvestigationalSite) -> list[str]:
    """E-mail addresses of the active staff of a site (investigators and coordinators)."""
    return sorted(set(permissions.site_staff_members(site).exclude(email="").values_list("email", flat=True)))


def _sorted_versions(versions) -> list[ProtocolVersionPage]:
    return sorted(versions, key=lambda v: v.version_key)


def protocol_versions(*, trial: TrialPage, user) -> list[ProtocolVersionPage]:
    """The versions a user may read: every one for those who manage the trial, published ones for the others."""
    versions = ProtocolVersionPage.objects.descendant_of(trial)
    if not permissions.can_manage_trial(user, trial):
        versions = versions.live()
    return _sorted_versions(versions)


def effective_version(*, site: InvestigationalSite, at: datetime | None = None) -> ProtocolVersionPage | None:
    """The protocol version in force at a site at a moment (now by default)."""
    at = at or timezone.now()
    activations = SiteActivation.objects.filter(site=site, effective_from__lte=at).select_related("version")
    versions = [a.version for a in activations]
    return max(versions, key=lambda v: v.version_key) if versions else None


@dataclass
class SiteEffect:
    activation: SiteActivation
    is_current: bool
    is_future: bool


@dataclass
class ProtocolVersionRow:
    version: ProtocolVersionPage
    opinions: list
    effects: list[SiteEffect]
    blockers: list[str]
    in_review: bool


def version_row(*, version: ProtocolVersionPage, user,
                sites: list[InvestigationalSite] | None = None) -> ProtocolVersionRow:
    trial = version.trial
    sites = sites if sites is not None else list(sites_for_user(user=user, trial=trial))
    now = timezone.now()
    activations = (SiteActivation.objects.filter(version=version, site__in=sites)
                   .select_related("site", "acknowledgement__acknowledged_by").order_by("site__code"))
    effects = []
    for activation in activations:
        current = effective_version(site=activation.site)
        effects.append(SiteEffect(activation, current is not None and current.pk == version.pk,
                                  activation.effective_from > now))
    return ProtocolVersionRow(version=version, opinions=list(approvals.opinions(version)), effects=effects,
                      blockers=approvals.effectiveness_blockers(version),
                      in_review=version.workflow_in_progress)


def protocol_history(*, protocol, user) -> list[ProtocolVersionRow]:
    trial = protocol.get_parent().specific
    sites = list(sites_for_user(user=user, trial=trial))
    return [version_row(version=v, user=user, sites=sites) for v in protocol_versions(trial=trial, user=user)]


def version_status(*, version: ProtocolVersionPage, user) -> ProtocolVersionRow:
    return version_row(version=version, user=user)


def submissions(*, index) -> list[SubmissionPage]:
    return list(SubmissionPage.objects.child_of(index).live().order_by("-first_published_at"))


def pending_acknowledgements(*, user) -> list[SiteActivation]:
    """The in-app list: versions effective at the user's sites that the site has not acknowledged yet."""
    sites = [s for s in sites_for_user(user=user) if permissions.can_acknowledge(user, s)]
    return list(
        SiteActivation.objects.filter(site__in=sites, effective_from__lte=timezone.now(), acknowledgement__isnull=True)
        .select_related("site", "version").order_by("effective_from")
    )


def acknowledgements_of_site(*, site: InvestigationalSite) -> list[SiteActivation]:
    return list(SiteActivation.objects.filter(site=site).select_related(
        "version", "acknowledgement__acknowledged_by").order_by("-effective_from"))


@dataclass
class MatrixCell:
    activation: SiteActivation | None
    overdue: bool = False


@dataclass
class MatrixRow:
    version: ProtocolVersionPage
    cells: list[MatrixCell]


def acknowledgement_matrix(*, trial: TrialPage, user) -> tuple[list[InvestigationalSite], list[MatrixRow]]:
    """Versions (rows) × sites (columns): effective date and acknowledgement of each cell."""
    sites = list(sites_for_user(user=user, trial=trial))
    versions = [v for v in protocol_versions(trial=trial, user=user) if v.live]
    activations = {
        (a.version_id, a.site_id): a
        for a in SiteActivation.objects.filter(version__in=versions, site__in=sites)
        .select_related("acknowledgement__acknowledged_by")
    }
    due = timezone.now() - timedelta(days=settings.TRIALDOCS_ACKNOWLEDGEMENT_DAYS)
    rows = []
    for version in reversed(versions):
        cells = []
        for site in sites:
            activation = activations.get((version.pk, site.pk))
            unacknowledged = activation is not None and not hasattr(activation, "acknowledgement")
            overdue = unacknowledged and activation.effective_from < due
            cells.append(MatrixCell(activation, overdue))
        rows.append(MatrixRow(version, cells))
    return sites, rows


@dataclass
class ChartBar:
    label: str
    acknowledged: int
    pending: int
    not_effective: int


@dataclass
class SponsorDashboard:
    in_progress: list[SubmissionPage]
    awaiting_effectiveness: list[tuple[ProtocolVersionPage, list[InvestigationalSite]]]
    unacknowledged: list[tuple[SiteActivation, bool]]
    in_review: list[ProtocolVersionPage]
    chart: list[ChartBar]


def sponsor_dashboard(*, trial: TrialPage, user) -> SponsorDashboard:
    index = CorrespondenceIndexPage.objects.child_of(trial).first()
    in_progress = [s for s in submissions(index=index) if s.status == "pending"] if index else []
    sites, rows = acknowledgement_matrix(trial=trial, user=user)
    recruiting_sites = [s for s in sites if s.status == InvestigationalSite.Status.ACTIVE]
    awaiting, unacknowledged, chart = [], [], []
    newest_approved = next((row for row in rows if not approvals.effectiveness_blockers(row.version)), None)
    if newest_approved is not None:
        covered = {cell.activation.site_id for cell in newest_approved.cells if cell.activation}
        missing = [s for s in recruiting_sites if s.pk not in covered]
        if missing:
            awaiting.append((newest_approved.version, missing))
    for row in rows:
        acknowledged = pending = 0
        for cell in row.cells:
            activation = cell.activation
            if activation is None or activation.effective_from > timezone.now():
                continue
            if hasattr(activation, "acknowledgement"):
                acknowledged += 1
            else:
                pending += 1
                unacknowledged.append((activation, cell.overdue))
        chart.append(ChartBar(str(row.version), acknowledged, pending, len(sites) - acknowledged - pending))
    in_review = [v for v in protocol_versions(trial=trial, user=user) if v.workflow_in_progress]
    return SponsorDashboard(in_progress=in_progress, awaiting_effectiveness=awaiting,
                            unacknowledged=sorted(unacknowledged, key=lambda pair: pair[0].effective_from),
                            in_review=in_review, chart=chart)
