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

from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, cached_property

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import Permission as DjangoPermission
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import get_objects_for_user
from wagtail.models import Page
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


# The query behind `Access._rows`. Only table and column names are filled in (from the models' metadata, by
# `_access_sql`); every value is a parameter: the user six times, now twice (the inspection window), the user twice.
_ACCESS_SQL = """
SELECT 't' AS kind, p.{obj} AS a, p.{obj} AS b, perm.{codename} AS text
  FROM {trial_user_perm} p JOIN {perm} perm ON perm.{id} = p.{perm_id} WHERE p.{user_id} = %s
UNION ALL SELECT 't', p.{obj}, p.{obj}, perm.{codename}
  FROM {trial_group_perm} p JOIN {perm} perm ON perm.{id} = p.{perm_id}
  JOIN {member} m ON m.{member_group} = p.{group_id} WHERE m.{member_user} = %s
UNION ALL SELECT 's', p.{obj}, s.{site_trial}, perm.{codename}
  FROM {site_user_perm} p JOIN {perm} perm ON perm.{id} = p.{perm_id}
  JOIN {site} s ON s.{id} = p.{obj} WHERE p.{user_id} = %s
UNION ALL SELECT 's', p.{obj}, s.{site_trial}, perm.{codename}
  FROM {site_group_perm} p JOIN {perm} perm ON perm.{id} = p.{perm_id} JOIN {site} s ON s.{id} = p.{obj}
  JOIN {member} m ON m.{member_group} = p.{group_id} WHERE m.{member_user} = %s
UNION ALL SELECT 'r', r.{role_trial}, r.{role_site}, r.{role}
  FROM {role_group} r JOIN {member} m ON m.{member_group} = r.{role_group_id} WHERE m.{member_user} = %s
UNION ALL SELECT 'g', g.{grant_trial}, gs.{grant_site_site}, ''
  FROM {grant} g LEFT JOIN {grant_site} gs ON gs.{grant_site_grant} = g.{id}
  WHERE g.{grant_inspector} = %s AND g.{starts_at} <= %s AND g.{ends_at} > %s AND g.{revoked_at} IS NULL
UNION ALL SELECT 'a', perm.{id}, perm.{id}, perm.{codename}
  FROM {perm} perm JOIN {content_type} ct ON ct.{id} = perm.{perm_type}
  JOIN {user_perm} up ON up.{user_perm_perm} = perm.{id}
  WHERE up.{user_perm_user} = %s AND perm.{codename} = 'access_admin' AND ct.{app_label} = 'wagtailadmin'
UNION ALL SELECT 'a', perm.{id}, perm.{id}, perm.{codename}
  FROM {perm} perm JOIN {content_type} ct ON ct.{id} = perm.{perm_type}
  JOIN {group_perm} gp ON gp.{group_perm_perm} = perm.{id} JOIN {member} m ON m.{member_group} = gp.{group_perm_group}
  WHERE m.{member_user} = %s AND perm.{codename} = 'access_admin' AND ct.{app_label} = 'wagtailadmin'
"""


@cache
def _access_sql() -> str:
    """`_ACCESS_SQL` with the quoted table and column names of the models."""
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    from .models import (
        SiteGroupObjectPermission,
        SiteUserObjectPermission,
        TrialGroupObjectPermission,
        TrialUserObjectPermission,
    )

    q = connection.ops.quote_name
    user_model = get_user_model()
    member = user_model.groups.through
    user_perm = user_model.user_permissions.through
    group_perm = DjangoPermission.group_set.through
    grant_site = InspectorGrant.sites.through

    def column(model, field: str) -> str:
        return q(model._meta.get_field(field).column)

    def same_column(field: str, *models) -> str:
        names = {column(model, field) for model in models}
        if len(names) != 1:
            raise ImproperlyConfigured(f"{field} is not one column in {models}")
        return names.pop()

    guardian = (TrialUserObjectPermission, TrialGroupObjectPermission, SiteUserObjectPermission,
                SiteGroupObjectPermission)
    names = {
        "id": q("id"), "codename": column(DjangoPermission, "codename"), "app_label": column(ContentType, "app_label"),
        "perm": q(DjangoPermission._meta.db_table), "perm_type": column(DjangoPermission, "content_type"),
        "content_type": q(ContentType._meta.db_table),
        "trial_user_perm": q(TrialUserObjectPermission._meta.db_table),
        "trial_group_perm": q(TrialGroupObjectPermission._meta.db_table),
        "site_user_perm": q(SiteUserObjectPermission._meta.db_table),
        "site_group_perm": q(SiteGroupObjectPermission._meta.db_table),
        "obj": same_column("content_object", *guardian), "perm_id": same_column("permission", *guardian),
        "user_id": same_column("user", TrialUserObjectPermission, SiteUserObjectPermission),
        "group_id": same_column("group", TrialGroupObjectPermission, SiteGroupObjectPermission),
        "member": q(member._meta.db_table), "member_user": column(member, user_model._meta.model_name),
        "member_group": column(member, "group"),
        "site": q(InvestigationalSite._meta.db_table), "site_trial": column(InvestigationalSite, "trial"),
        "role_group": q(RoleGroup._meta.db_table), "role_trial": column(RoleGroup, "trial"),
        "role_site": column(RoleGroup, "site"), "role": column(RoleGroup, "role"),
        "role_group_id": column(RoleGroup, "group"),
        "grant": q(InspectorGrant._meta.db_table), "grant_trial": column(InspectorGrant, "trial"),
        "grant_inspector": column(InspectorGrant, "inspector"), "starts_at": column(InspectorGrant, "starts_at"),
        "ends_at": column(InspectorGrant, "ends_at"), "revoked_at": column(InspectorGrant, "revoked_at"),
        "grant_site": q(grant_site._meta.db_table), "grant_site_grant": column(grant_site, "inspectorgrant"),
        "grant_site_site": column(grant_site, "investigationalsite"),
        "user_perm": q(user_perm._meta.db_table), "user_perm_perm": column(user_perm, "permission"),
        "user_perm_user": column(user_perm, user_model._meta.model_name),
        "group_perm": q(group_perm._meta.db_table), "group_perm_perm": column(group_perm, "permission"),
        "group_perm_group": column(group_perm, "group"),
    }
    return _ACCESS_SQL.format(**names)  # noqa: S608  # nosec B608  # names from model metadata; values are parameters


class Access:
    """What one user holds, read in one query and kept for the rest of the request.

    The object permissions of the user and of their groups on trials and on sites (guardian's direct-FK tables,
    object permissions only, as `accept_global_perms=False`), their roles, their inspection windows open now and
    whether they may enter the Wagtail admin, all read in one query on first use. Inside a request
    (`AccessCacheMiddleware`) one `Access` per user serves every question of that request; any write to a
    permission, a role group, a group membership or an inspection window empties the cache
    (`regulatory.receivers`). Outside a request every question reads afresh.
    """

    def __init__(self, user):
        self.user = user

    @cached_property
    def _rows(self) -> list[tuple[str, int, int | None, str]]:
        """Everything in one query, each row (kind, a, b, text): "t" trial permission (trial, trial, codename),
        "s" site permission (site, its trial, codename), "r" role (trial, site or None, role), "g" open inspection
        window (trial, chosen site or None, ""), "a" Wagtail's access_admin permission (id, id, codename).

        Plain SQL: it runs on every request, and the same UNION of eight querysets cost ~8 ms of ORM compilation
        for a sub-millisecond query (bench/RESULTS.md (c)). `_access_sql` builds it from the models' tables;
        tests/…/test_permissions.py checks it against guardian's own answers."""
        user_id = self.user.pk
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(_access_sql(), [user_id] * 6 + [now, now] + [user_id] * 2)
            return [tuple(row) for row in cursor.fetchall()]

    @cached_property
    def _held(self) -> tuple[dict, dict, dict]:
        perms: dict[str, dict[int, set[str]]] = {"t": {}, "s": {}}
        site_trials: dict[int, int] = {}
        for kind, object_id, trial_id, codename in self._rows:
            if kind in perms:
                perms[kind].setdefault(object_id, set()).add(f"regulatory.{codename}")
            if kind == "s":
                site_trials[object_id] = trial_id
        frozen = {kind: {pk: frozenset(p) for pk, p in found.items()} for kind, found in perms.items()}
        return frozen["t"], frozen["s"], site_trials

    @property
    def trial_perms(self) -> dict[int, frozenset[str]]:
        """Trial id → the object permissions held on it (as "regulatory.codename")."""
        return self._held[0]

    @property
    def site_perms(self) -> dict[int, frozenset[str]]:
        """Site id → the object permissions held on it."""
        return self._held[1]

    @property
    def site_trials(self) -> dict[int, int]:
        """The trial of each site the user holds a permission on."""
        return self._held[2]

    @cached_property
    def uses_admin(self) -> bool:
        """Wagtail's `access_admin` permission, held directly or through a group."""
        return self.user.is_superuser or any(kind == "a" for kind, *_ in self._rows)

    @cached_property
    def role_groups(self) -> list[tuple[str, int, int | None]]:
        """(role, trial id, site id or None) of each role the user holds."""
        return [(role, trial_id, site_id) for kind, trial_id, site_id, role in self._rows if kind == "r"]

    @cached_property
    def grants(self) -> dict[int, frozenset[int] | None]:
        """Open inspection windows: trial id → the chosen sites, or None when a window opens every site."""
        found: dict[int, set[int] | None] = {}
        for kind, trial_id, site_id, _text in self._rows:
            if kind != "g" or (trial_id in found and found[trial_id] is None):
                continue
            found[trial_id] = None if site_id is None else found.get(trial_id, set()) | {site_id}
        return {trial_id: None if sites is None else frozenset(sites) for trial_id, sites in found.items()}

    def trials_with(self, perm: str) -> set[int]:
        return {trial_id for trial_id, perms in self.trial_perms.items() if perm in perms}

    def sites_with(self, perm: str) -> set[int]:
        return {site_id for site_id, perms in self.site_perms.items() if perm in perms}

    @cached_property
    def readable_trials(self) -> frozenset[int]:
        return frozenset(self.trials_with(ACCESS_TRIAL)
                         | {self.site_trials[s] for s in self.sites_with(ACCESS_SITE)}
                         | set(self.grants))

    def reads_trial_wide(self, trial_id: int) -> bool:
        return ACCESS_TRIAL in self.trial_perms.get(trial_id, ()) or trial_id in self.grants

    def reads_site(self, site_id: int, trial_id: int) -> bool:
        if ACCESS_SITE in self.site_perms.get(site_id, ()) or ACCESS_TRIAL in self.trial_perms.get(trial_id, ()):
            return True
        if trial_id not in self.grants:
            return False
        chosen = self.grants[trial_id]
        return chosen is None or site_id in chosen

    def is_site_staff(self, site_id: int, perm: str) -> bool:
        return (any(site == site_id and role in SITE_ROLE_VALUES for role, _trial, site in self.role_groups)
                and perm in self.site_perms.get(site_id, ()))


SITE_ROLE_VALUES = frozenset(r.value for r in SITE_ROLES)
_request_cache: ContextVar[dict | None] = ContextVar("trialdocs_access_cache", default=None)


def access(user) -> Access:
    """The user's `Access`: the request's one when inside a request, else a fresh one."""
    cache = _request_cache.get()
    if cache is None:
        return Access(user)
    key = user.pk
    if key not in cache:
        cache[key] = Access(user)
    return cache[key]


@contextmanager
def request_cache():
    """Keep each user's `Access` for the duration of the block (one request)."""
    token = _request_cache.set({})
    try:
        yield
    finally:
        _request_cache.reset(token)


def forget_access() -> None:
    """Permissions, roles or windows changed: later questions in this request read afresh."""
    cache = _request_cache.get()
    if cache is not None:
        cache.clear()


class AccessCacheMiddleware:
    """One `Access` per user and request (after the authentication middleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_cache():
            return self.get_response(request)


def active_grants(user) -> QuerySet[InspectorGrant]:
    """The user's inspection windows open now."""
    if not is_authenticated(user):
        return InspectorGrant.objects.none()
    return InspectorGrant.objects.active().filter(inspector=user)


def is_inspector(user) -> bool:
    """Someone whose only part in the system is inspecting: read-only everywhere, every request audited."""
    if not is_authenticated(user) or user.is_superuser:
        return False
    roles = {role for role, _trial, _site in access(user).role_groups}
    if roles - {Role.INSPECTOR}:
        return False
    return bool(roles) or InspectorGrant.objects.filter(inspector=user).exists()


def _inspected_sites(user) -> Q:
    """Sites opened by the user's active windows: the chosen ones, or every site of the trial if none chosen."""
    grants = access(user).grants
    whole_trials = [trial_id for trial_id, sites in grants.items() if sites is None]
    chosen = [site_id for sites in grants.values() if sites is not None for site_id in sites]
    return Q(trial_id__in=whole_trials) | Q(pk__in=chosen)


def trials_accessible(user) -> QuerySet[TrialPage]:
    """Trials the user may read: trial-wide roles, the trial of each of their sites, open inspection windows."""
    if not is_authenticated(user):
        return TrialPage.objects.none()
    if is_administrator(user):
        return TrialPage.objects.all()
    return TrialPage.objects.filter(pk__in=sorted(access(user).readable_trials))


def trials_managed(user) -> QuerySet[TrialPage]:
    if not is_authenticated(user):
        return TrialPage.objects.none()
    if is_administrator(user):
        return TrialPage.objects.all()
    return TrialPage.objects.filter(pk__in=sorted(access(user).trials_with(MANAGE_TRIAL)))


def sites_accessible(user) -> QuerySet[InvestigationalSite]:
    """Sites the user may read: their own sites, and every site of a trial they hold a trial-wide role on."""
    if not is_authenticated(user):
        return InvestigationalSite.objects.none()
    if is_administrator(user):
        return InvestigationalSite.objects.all()
    held = access(user)
    return InvestigationalSite.objects.filter(
        Q(pk__in=sorted(held.sites_with(ACCESS_SITE))) | Q(trial_id__in=sorted(held.trials_with(ACCESS_TRIAL)))
        | _inspected_sites(user))


def sites_managed(user) -> QuerySet[InvestigationalSite]:
    return InvestigationalSite.objects.filter(trial__in=trials_managed(user).values("pk"))


def can_access_trial(user, trial: TrialPage) -> bool:
    if not is_authenticated(user):
        return False
    return is_administrator(user) or trial.pk in access(user).readable_trials


def can_manage_trial(user, trial: TrialPage) -> bool:
    return is_administrator(user) or (
        is_authenticated(user) and MANAGE_TRIAL in access(user).trial_perms.get(trial.pk, ()))


def can_access_site(user, site: InvestigationalSite) -> bool:
    if is_administrator(user):
        return True
    if not is_authenticated(user):
        return False
    return access(user).reads_site(site.pk, site.trial_id)


def can_manage_site(user, site: InvestigationalSite) -> bool:
    return can_manage_trial(user, site.trial)


def can_add_site(user) -> bool:
    return trials_managed(user).exists()


def can_read_trial_wide(user, trial: TrialPage) -> bool:
    """Trial-wide records (regulatory correspondence, the TMF): sponsor, QA, inspectors in their window,
    administrators."""
    return is_administrator(user) or (is_authenticated(user) and access(user).reads_trial_wide(trial.pk))


def can_acknowledge(user, site: InvestigationalSite) -> bool:
    """Only the site's own staff acknowledge for it (an administrator's superuser rights do not count)."""
    return is_authenticated(user) and access(user).is_site_staff(site.pk, ACKNOWLEDGE_AMENDMENT)


def can_record_consent(user, site: InvestigationalSite) -> bool:
    """Only the site's own staff register participants and record consents there (never an administrator by
    virtue of being one, never the sponsor or an inspector)."""
    return is_authenticated(user) and access(user).is_site_staff(site.pk, RECORD_CONSENT)


def can_use_admin(user) -> bool:
    """Whether to show the way into the Wagtail admin (the admin checks `access_admin` again itself)."""
    return is_authenticated(user) and access(user).uses_admin


def can_read_page(user, page) -> bool:
    """Front-end reading of any page: a trial and its subtree need trial access; a subtree whose root page says
    `trial_wide_only` (correspondence, every consent-form version) needs a trial-wide role."""
    if isinstance(page, TrialPage):  # the trial itself and its sub-routes (sites, forms, participants)
        return can_access_trial(user, page)
    ancestors = list(page.get_ancestors(inclusive=True))  # one query; the classes come from cached content types
    trial = next((a for a in ancestors if issubclass(a.specific_class or Page, TrialPage)), None)
    if trial is None:
        return is_authenticated(user)
    if not can_access_trial(user, trial):
        return False
    if any(getattr(a.specific_class, "trial_wide_only", False) for a in ancestors if a.depth >= trial.depth):
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
