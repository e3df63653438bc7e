"""What a user reads or manages, as querysets: trials, sites, role groups, inspection windows, API tokens; and who
is on a site's staff.

Administrators get everything; anonymous and deactivated accounts nothing; everyone else what their `Access`
holds. The yes-or-no answer for one object is in `regulatory.permissions.rules`.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from ..models import ApiToken, InspectorGrant, InvestigationalSite, Role, RoleGroup, TrialPage
from .access import access, is_administrator, is_authenticated
from .roles import ACCESS_SITE, ACCESS_TRIAL, MANAGE_TRIAL


def active_grants(user) -> QuerySet[InspectorGrant]:
    """The user's inspection windows open now."""
    if not is_authenticated(user):
        return InspectorGrant.objects.none()
    return InspectorGrant.objects.active().filter(inspector=user)


def _inspected_sites(user) -> Q:
    """Sites opened by the user's active windows: the chosen ones, or every site of the trial if none chosen."""
    grants = access(user).grants
    whole_trials = [trial_id for trial_id, sites in grants.items() if sites is None]
    chosen = [site_id for sites in grants.values() if sites is not None for site_id in sites]
    return Q(trial_id__in=whole_trials) | Q(pk__in=chosen)


# --- Trials -----------------------------------------------------------------------------------------------------

def trials_accessible(user) -> QuerySet[TrialPage]:
    """Trials the user may read: those they hold `access_trial` on (sponsor, QA, TMF QC), the trial of each site
    they hold `access_site` on, and those of their open inspection windows."""
    if not is_authenticated(user):
        return TrialPage.objects.none()
    if is_administrator(user):
        return TrialPage.objects.all()
    return TrialPage.objects.filter(pk__in=sorted(access(user).readable_trials))


def trials_managed(user) -> QuerySet[TrialPage]:
    """Trials the user manages: those they hold `manage_trial` on (the sponsor)."""
    if not is_authenticated(user):
        return TrialPage.objects.none()
    if is_administrator(user):
        return TrialPage.objects.all()
    return TrialPage.objects.filter(pk__in=sorted(access(user).trials_with(MANAGE_TRIAL)))


def trials_read_trial_wide(user) -> QuerySet[TrialPage]:
    """Trials whose trial-wide records (correspondence, the TMF, the audit trail, every consent-form version) the
    user reads: every trial for an administrator, else those `can_read_trial_wide` allows."""
    if not is_authenticated(user):
        return TrialPage.objects.none()
    if is_administrator(user):
        return TrialPage.objects.all()
    held = access(user)
    return TrialPage.objects.filter(pk__in=sorted(pk for pk in held.readable_trials if held.reads_trial_wide(pk)))


# --- Sites ------------------------------------------------------------------------------------------------------

def sites_accessible(user) -> QuerySet[InvestigationalSite]:
    """Sites the user may read: those they hold `access_site` on (their own sites), every site of a trial they
    hold `access_trial` on, and the sites their open inspection windows cover."""
    if not is_authenticated(user):
        return InvestigationalSite.objects.none()
    if is_administrator(user):
        return InvestigationalSite.objects.all()
    held = access(user)
    return InvestigationalSite.objects.filter(
        Q(pk__in=sorted(held.sites_with(ACCESS_SITE))) | Q(trial_id__in=sorted(held.trials_with(ACCESS_TRIAL)))
        | _inspected_sites(user))


def sites_managed(user) -> QuerySet[InvestigationalSite]:
    """Sites of the trials the user manages."""
    return InvestigationalSite.objects.filter(trial__in=trials_managed(user).values("pk"))


def sites_not_read(user, trial_ids) -> QuerySet[InvestigationalSite]:
    """The sites of these trials (ids) that are not in `sites_accessible`: for a reader of the trials, those an
    inspection window naming only some sites leaves out."""
    return InvestigationalSite.objects.filter(trial_id__in=trial_ids).exclude(
        pk__in=sites_accessible(user).values("pk"))


# --- Roles and a site's staff -----------------------------------------------------------------------------------

def roles_held(user) -> QuerySet[RoleGroup]:
    """The role groups the user is a member of (none for an anonymous or deactivated account)."""
    if not is_authenticated(user):
        return RoleGroup.objects.none()
    return RoleGroup.objects.filter(group__user=user)


def site_staff_members(site: InvestigationalSite) -> QuerySet:
    """The active members of the site's role groups (investigators and coordinators)."""
    return get_user_model().objects.filter(groups__trial_role__site=site, is_active=True).distinct()


def site_investigators(site: InvestigationalSite) -> QuerySet:
    """The active members of the site's investigator role group (who may be its principal investigator)."""
    if site is None or site.pk is None:
        return get_user_model().objects.none()
    return get_user_model().objects.filter(
        groups__trial_role__site=site, groups__trial_role__role=Role.INVESTIGATOR, is_active=True).distinct()


def inspector_candidates() -> QuerySet:
    """Accounts that may receive an inspection window: active, not administrators, holding no role but inspector
    (an inspector is never also a writer)."""
    return (get_user_model().objects.filter(is_active=True, is_superuser=False)
            .exclude(groups__trial_role__role__in=[role for role in Role if role != Role.INSPECTOR]))


def inspector_refusal(account) -> str | None:
    """Why this account may not receive an inspection window (None when it may)."""
    if account.is_superuser or not account.is_active:
        return _("Choose an active account that is not an administrator.")
    if account.groups.exclude(trial_role__role=Role.INSPECTOR).filter(trial_role__isnull=False).exists():
        return _("This account holds another role: an inspector account only inspects.")
    return None


# --- API tokens ---------------------------------------------------------------------------------------------------

def api_tokens_managed(actor) -> QuerySet[ApiToken]:
    """The tokens an actor may see and revoke: those of the trials they manage."""
    return ApiToken.objects.filter(trial__in=trials_managed(actor).values("pk"))
