"""Who may do what: the one module every view, selector and Wagtail admin listing asks.

Roles:
- administrator: an active superuser; manages users, roles and sites everywhere.
- sponsor (per trial): consults every site of the trial and manages the trial, its sites and teams.
- inspector: consults one trial (or some of its sites) during an inspection window granted by the sponsor
  (`InspectorGrant`), read-only; outside the window sees nothing; never writes anything.
- investigator, coordinator (per site): consult their own site only.

Trial and site roles are memberships of a `RoleGroup`; what a role allows is the set of django-guardian
object permissions below, given to that group on the trial or on the site. Listings are always scoped with
`accept_global_perms=False`, so a model-level permission never widens them.
"""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import get_objects_for_user
from wagtail.permission_policies import ModelPermissionPolicy

from .models import InspectorGrant, InvestigationalSite, Role, RoleGroup, TrialPage
from .models.roles import SITE_ROLES

ACCESS_TRIAL = "regulatory.access_trial"
MANAGE_TRIAL = "regulatory.manage_trial"
ACCESS_SITE = "regulatory.access_site"
ACKNOWLEDGE_AMENDMENT = "regulatory.acknowledge_amendment"
RECORD_CONSENT = "regulatory.record_consent"

TRIAL_ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.SPONSOR: (ACCESS_TRIAL, MANAGE_TRIAL),
    Role.SPONSOR_QA: (ACCESS_TRIAL,),
    Role.INSPECTOR: (),  # access only through an open inspection window: see `active_grants`
}
SITE_ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.INVESTIGATOR: (ACCESS_SITE, ACKNOWLEDGE_AMENDMENT, RECORD_CONSENT),
    Role.COORDINATOR: (ACCESS_SITE, ACKNOWLEDGE_AMENDMENT, RECORD_CONSENT),
}
# Wagtail page permissions of the sponsor group on its trial's subtree. Never "delete": history stays.
SPONSOR_PAGE_PERMISSIONS = ("add", "change", "publish", "lock", "unlock")
# Model-level permissions: entry to the Wagtail admin only (sponsor to edit, QA to review).
ADMIN_ACCESS_ROLES = {Role.SPONSOR: ("wagtailadmin.access_admin",), Role.SPONSOR_QA: ("wagtailadmin.access_admin",)}
# Document permissions of the sponsor group on the trial's collections.
SPONSOR_COLLECTION_PERMISSIONS = ("add_document", "change_document", "choose_document")

ROLE_CAPABILITIES = {
    "administrator": [
        _("Manage users, their roles and the investigational sites in the administration."),
        _("Consult every trial and every site."),
    ],
    Role.SPONSOR: [
        _("Edit the trial page and publish it in the administration."),
        _("Draft protocol amendments, submit them to review, and record ethics and authority correspondence."),
        _("Make approved versions effective per site and follow the sites' acknowledgements."),
        _("Add and edit the trial's investigational sites."),
        _("Consult every site of the trial and its team."),
        _("File essential documents in the Trial Master File, follow its completeness, export it, and open "
          "inspection windows."),
    ],
    Role.SPONSOR_QA: [
        _("Review protocol versions submitted for quality assurance in the administration."),
        _("Consult the trial, its correspondence and every site, read-only."),
    ],
    Role.INSPECTOR: [
        _("During the inspection window the sponsor opened: browse and search the Trial Master File, read and "
          "download its documents and their history, and follow the audit trail."),
        _("Consult the trial, its correspondence and the sites of the window, read-only."),
    ],
    Role.INVESTIGATOR: [
        _("Register participants, record their consents with a signed PDF, and follow the site's to-do list."),
        _("Consult your site's page and its team."),
        _("Read the trial's page, its current protocol and amendment summaries."),
        _("Acknowledge the amendments that take effect at your site."),
    ],
    Role.COORDINATOR: [
        _("Register participants, record their consents with a signed PDF, and follow the site's to-do list."),
        _("Consult your site's page and its team."),
        _("Read the trial's page, its current protocol and amendment summaries."),
        _("Acknowledge the amendments that take effect at your site."),
    ],
}


def is_authenticated(user) -> bool:
    return bool(user) and not isinstance(user, AnonymousUser) and user.is_authenticated and user.is_active


def is_administrator(user) -> bool:
    return is_authenticated(user) and user.is_superuser


def _objects(user, perm: str, klass) -> QuerySet:
    return get_objects_for_user(user, perm, klass=klass, accept_global_perms=False, with_superuser=False)


def active_grants(user) -> QuerySet[InspectorGrant]:
    """The user's inspection windows open now."""
    if not is_authenticated(user):
        return InspectorGrant.objects.none()
    return InspectorGrant.objects.active().filter(inspector=user)


def is_inspector(user) -> bool:
    """Someone whose only part in the system is inspecting: read-only everywhere, every request audited."""
    if not is_authenticated(user) or user.is_superuser:
        return False
    roles = set(RoleGroup.objects.filter(group__user=user).values_list("role", flat=True))
    if roles - {Role.INSPECTOR}:
        return False
    return bool(roles) or InspectorGrant.objects.filter(inspector=user).exists()


def _inspected_sites(user) -> Q:
    """Sites opened by the user's active windows: the chosen ones, or every site of the trial if none chosen."""
    grants = active_grants(user)
    whole_trials = grants.filter(sites__isnull=True).values("trial_id")
    chosen = grants.filter(sites__isnull=False).values("sites")
    return Q(trial_id__in=whole_trials) | Q(pk__in=chosen)


def trials_accessible(user) -> QuerySet[TrialPage]:
    """Trials the user may read: trial-wide roles, the trial of each of their sites, open inspection windows."""
    if not is_authenticated(user):
        return TrialPage.objects.none()
    if is_administrator(user):
        return TrialPage.objects.all()
    trial_wide = _objects(user, ACCESS_TRIAL, TrialPage).values("pk")
    via_sites = _objects(user, ACCESS_SITE, InvestigationalSite).values("trial_id")
    inspected = active_grants(user).values("trial_id")
    return TrialPage.objects.filter(Q(pk__in=trial_wide) | Q(pk__in=via_sites) | Q(pk__in=inspected))


def trials_managed(user) -> QuerySet[TrialPage]:
    if not is_authenticated(user):
        return TrialPage.objects.none()
    if is_administrator(user):
        return TrialPage.objects.all()
    return TrialPage.objects.filter(pk__in=_objects(user, MANAGE_TRIAL, TrialPage).values("pk"))


def sites_accessible(user) -> QuerySet[InvestigationalSite]:
    """Sites the user may read: their own sites, and every site of a trial they hold a trial-wide role on."""
    if not is_authenticated(user):
        return InvestigationalSite.objects.none()
    if is_administrator(user):
        return InvestigationalSite.objects.all()
    own = _objects(user, ACCESS_SITE, InvestigationalSite).values("pk")
    trial_wide = _objects(user, ACCESS_TRIAL, TrialPage).values("pk")
    return InvestigationalSite.objects.filter(Q(pk__in=own) | Q(trial_id__in=trial_wide) | _inspected_sites(user))


def sites_managed(user) -> QuerySet[InvestigationalSite]:
    return InvestigationalSite.objects.filter(trial__in=trials_managed(user).values("pk"))


def can_access_trial(user, trial: TrialPage) -> bool:
    return trials_accessible(user).filter(pk=trial.pk).exists()


def can_manage_trial(user, trial: TrialPage) -> bool:
    return is_administrator(user) or (is_authenticated(user) and user.has_perm(MANAGE_TRIAL, trial))


def can_access_site(user, site: InvestigationalSite) -> bool:
    if is_administrator(user):
        return True
    if not is_authenticated(user):
        return False
    return (user.has_perm(ACCESS_SITE, site) or user.has_perm(ACCESS_TRIAL, site.trial)
            or InvestigationalSite.objects.filter(_inspected_sites(user), pk=site.pk).exists())


def can_manage_site(user, site: InvestigationalSite) -> bool:
    return can_manage_trial(user, site.trial)


def can_add_site(user) -> bool:
    return trials_managed(user).exists()


def can_read_trial_wide(user, trial: TrialPage) -> bool:
    """Trial-wide records (regulatory correspondence, the TMF): sponsor, QA, inspectors in their window,
    administrators."""
    return is_administrator(user) or (is_authenticated(user) and (
        user.has_perm(ACCESS_TRIAL, trial) or active_grants(user).filter(trial=trial).exists()))


def can_acknowledge(user, site: InvestigationalSite) -> bool:
    """Only the site's own staff acknowledge for it (an administrator's superuser rights do not count)."""
    return (
        is_authenticated(user)
        and RoleGroup.objects.filter(site=site, group__user=user, role__in=[r.value for r in SITE_ROLES]).exists()
        and user.has_perm(ACKNOWLEDGE_AMENDMENT, site)
    )


def can_record_consent(user, site: InvestigationalSite) -> bool:
    """Only the site's own staff register participants and record consents there (never an administrator by
    virtue of being one, never the sponsor or an inspector)."""
    return (
        is_authenticated(user)
        and RoleGroup.objects.filter(site=site, group__user=user, role__in=[r.value for r in SITE_ROLES]).exists()
        and user.has_perm(RECORD_CONSENT, site)
    )


def can_read_page(user, page) -> bool:
    """Front-end reading of any page: a trial and its subtree need trial access; a subtree whose root page says
    `trial_wide_only` (correspondence, every consent-form version) needs a trial-wide role."""
    trial = TrialPage.objects.ancestor_of(page, inclusive=True).first()
    if trial is None:
        return is_authenticated(user)
    if not can_access_trial(user, trial):
        return False
    if any(getattr(ancestor, "trial_wide_only", False)
           for ancestor in page.get_ancestors(inclusive=True).descendant_of(trial, inclusive=True).specific()):
        return can_read_trial_wide(user, trial)
    return True


def can_read_document(user, document) -> bool:
    """A private document: only through a trial collection whose audience includes the user."""
    from .models import TrialCollection

    if is_administrator(user):
        return True
    scope = TrialCollection.objects.filter(collection_id=document.collection_id).select_related("trial").first()
    if scope is None:
        return False
    if scope.audience == TrialCollection.Audience.TRIAL:
        return can_access_trial(user, scope.trial)
    return can_read_trial_wide(user, scope.trial)


class InvestigationalSitePolicy(ModelPermissionPolicy):
    """Wagtail admin permission policy for investigational sites, scoped by this module.

    Sites are never deleted (their records must stay), so "delete" is refused to everyone.
    """

    def user_has_permission(self, user, action):
        if action == "add":
            return can_add_site(user)
        if action == "change":
            return sites_managed(user).exists()
        if action == "view":
            return sites_accessible(user).exists()
        return False

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def user_has_permission_for_instance(self, user, action, instance):
        if action == "change":
            return can_manage_site(user, instance)
        if action == "view":
            return can_access_site(user, instance)
        return False

    def instances_user_has_any_permission_for(self, user, actions):
        # Whoever may change a site may also view it, so "view" is the wider of the two.
        if "view" in actions:
            return sites_accessible(user)
        if "change" in actions:
            return sites_managed(user)
        return InvestigationalSite.objects.none()
