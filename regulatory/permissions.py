"""Who may do what: the one module every view, selector and Wagtail admin listing asks.

Roles:
- administrator: an active superuser; manages users, roles and sites everywhere.
- sponsor (per trial): consults every site of the trial and manages the trial, its sites and teams.
- inspector: consults one trial (or some of its sites) during an inspection window granted by the sponsor
  (`InspectorGrant`), read-only; outside the window sees nothing; never writes anything.
- investigator, coordinator (per site): consult their own site only.

Trial and site roles are memberships of a `RoleGroup`; what a role allows is the set of django-guardian
object permissions below, given to that group on the trial or on the site. Every answer reads only those object
permissions (guardian's per-object tables, read by `Access`), never model-level ones: a model-level permission
never widens a listing.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import cache, cached_property

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import Permission as DjangoPermission
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.models import Page, PagePermissionTester
from wagtail.permission_policies import ModelPermissionPolicy

from .models import (
    ApiToken,
    InspectorGrant,
    InvestigationalSite,
    QcStatus,
    Role,
    RoleGroup,
    TmfDocument,
    TrialPage,
)
from .models.roles import SITE_ROLES

ACCESS_TRIAL = "regulatory.access_trial"
MANAGE_TRIAL = "regulatory.manage_trial"
ACCESS_SITE = "regulatory.access_site"
ACKNOWLEDGE_AMENDMENT = "regulatory.acknowledge_amendment"
RECORD_CONSENT = "regulatory.record_consent"

TRIAL_ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.SPONSOR: (ACCESS_TRIAL, MANAGE_TRIAL),
    Role.SPONSOR_QA: (ACCESS_TRIAL,),
    Role.TMF_QC: (ACCESS_TRIAL,),  # reads the TMF; its QC decisions: `tmf_qc_refusal`
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
    Role.TMF_QC: [
        _("Check the quality of the documents filed in the Trial Master File: approve them, or reject them with a "
          "QC issue (never a document you filed yourself)."),
        _("Follow the QC metrics of the trial, its countries and sites, and export them."),
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


def trials_read_trial_wide(user) -> QuerySet[TrialPage]:
    """Trials whose trial-wide records (correspondence, the TMF, the audit trail, every consent-form version) the
    user reads: every trial for an administrator, else those `can_read_trial_wide` allows."""
    if not is_authenticated(user):
        return TrialPage.objects.none()
    if is_administrator(user):
        return TrialPage.objects.all()
    held = access(user)
    return TrialPage.objects.filter(pk__in=sorted(pk for pk in held.readable_trials if held.reads_trial_wide(pk)))


# --- The Trial Master File ----------------------------------------------------------------------------

def reads_every_site(user, trial: TrialPage) -> bool:
    """Whether the user may read every site of the trial: no site of the trial is outside `sites_accessible`
    (one query; none for an administrator, who reads every site)."""
    if is_administrator(user):
        return True
    if not is_authenticated(user):
        return False
    hidden = InvestigationalSite.objects.filter(trial=trial).exclude(pk__in=sites_accessible(user).values("pk"))
    return not hidden.exists()


def tmf_documents_visible(user, trial: TrialPage) -> QuerySet:
    """The trial's TMF documents the user may read (those who read the trial wide: `can_read_trial_wide`):
    trial- and country-level ones, and site-level ones of the sites the user may read (an inspector's window may
    cover only some sites).

    A reader of every site of the trial (sponsor, QA, administrator, an inspector whose window names no site)
    gets the trial's documents with no site condition at all: the condition would hold for every row, but
    PostgreSQL would still evaluate it row by row and could no longer count or list from the indexes alone
    (bench/RESULTS.md (b)). Every writer files a site-level document under a site of its own trial
    (`tmf_filing.file_upload`, `filing.refile`, `exchange.import_package`).
    """
    if not can_read_trial_wide(user, trial):
        return TmfDocument.objects.none()
    documents = TmfDocument.objects.filter(trial=trial).select_related("artifact__section__zone", "site")
    if not sees_tmf_qc_pending(user, trial):
        documents = documents.filter(qc_status=QcStatus.APPROVED)
    if reads_every_site(user, trial):
        return documents
    sites = sites_accessible(user).filter(trial=trial).values("pk")
    return documents.filter(Q(site__isnull=True) | Q(site__in=sites))


def sees_tmf_qc_pending(user, trial: TrialPage) -> bool:
    """The sponsor's side (sponsor, QA, TMF QC, administrators) sees documents pending QC or rejected, marked as
    such; everyone else (inspectors, site staff) sees only what QC approved."""
    return is_administrator(user) or (
        is_authenticated(user) and ACCESS_TRIAL in access(user).trial_perms.get(trial.pk, ()))


def can_qc_tmf(user, trial: TrialPage) -> bool:
    """Members of the trial's TMF QC role (never an administrator by virtue of being one) decide QC."""
    return is_authenticated(user) and any(
        role == Role.TMF_QC and trial_id == trial.pk and site_id is None
        for role, trial_id, site_id in access(user).role_groups)


def tmf_qc_refusal(user, document: TmfDocument) -> str | None:
    """Why `user` may not approve or reject `document` at QC, or None. Four eyes: whoever filed a document never
    checks it, whatever their roles."""
    if not can_qc_tmf(user, document.trial):
        return str(_("Only a member of the trial's TMF quality-control role checks its documents. Nothing was "
                     "changed."))
    if document.filed_by_id is not None and document.filed_by_id == user.pk:
        return str(_("You filed this document: its quality control is done by someone else (four eyes). Nothing "
                     "was changed."))
    if document.qc_status != QcStatus.PENDING:
        return str(_("This document is no longer pending QC (%(status)s). Nothing was changed.")
                   % {"status": QcStatus(document.qc_status).label})
    return None


def tmf_package_holds_unapproved(user, job) -> bool:
    """Whether an export package holds documents the user may not read because QC had not approved them: a
    package holds every document of the trial when it was made; one filed by then and still not QC-approved was in
    it unapproved (approval is final, a rejected document stays rejected). The sponsor's side reads them anyway."""
    if sees_tmf_qc_pending(user, job.trial):
        return False
    made = job.finished_at or job.requested_at
    return TmfDocument.objects.filter(trial_id=job.trial_id, filed_at__lte=made).exclude(
        qc_status=QcStatus.APPROVED).exists()


def can_file_in_tmf(user, trial: TrialPage) -> bool:
    """Filing by hand and starting exports: the trial's sponsor and administrators."""
    return can_manage_trial(user, trial)


def can_check_fixity(user, trial: TrialPage) -> bool:
    """Starting a fixity check of the trial's stored files from the web and reading its reports: the trial's sponsor
    and administrators (the command line is the server operator's)."""
    return can_manage_trial(user, trial)


def can_acknowledge(user, site: InvestigationalSite) -> bool:
    """Only the site's own staff acknowledge for it (an administrator's superuser rights do not count)."""
    return is_authenticated(user) and access(user).is_site_staff(site.pk, ACKNOWLEDGE_AMENDMENT)


def is_site_staff(user, site: InvestigationalSite) -> bool:
    """A member of the site's own staff (investigator or coordinator), who records there what the delegation log
    lets them record (never an administrator by virtue of being one, never the sponsor or an inspector)."""
    return is_authenticated(user) and access(user).is_site_staff(site.pk, RECORD_CONSENT)


# --- The delegation log (ICH E6(R3) 2.3.3) ------------------------------------------------------------------------
#
# Site staff record a consent, attest an emergency inclusion, register participants, record a withdrawal or a
# death only while the principal investigator's delegation log gives them that task: on the day it is done (the
# signing date of a consent), by an entry signed by the principal investigator and acknowledged by the staff member,
# and (where the trial's sponsor turned the rule on: `TrialPage.delegation_requires_training`) once the site has
# acknowledged the protocol version in force that day. `delegation_refusal` says why not; the `can_*` below ask it.

def site_investigators(site: InvestigationalSite) -> QuerySet:
    """The members of the site's investigator role group (who may be its principal investigator)."""
    from django.contrib.auth import get_user_model

    if site is None or site.pk is None:
        return get_user_model().objects.none()
    return get_user_model().objects.filter(
        groups__trial_role__site=site, groups__trial_role__role=Role.INVESTIGATOR, is_active=True).distinct()


def is_principal_investigator(user, site: InvestigationalSite) -> bool:
    """The site's principal investigator: the account the sponsor named on the site, still one of its
    investigators."""
    return (is_authenticated(user) and site.principal_investigator_account_id == user.pk
            and any(role == Role.INVESTIGATOR and site_id == site.pk
                    for role, _trial, site_id in access(user).role_groups))


def _local_day(at):
    from datetime import date
    from zoneinfo import ZoneInfo

    if at is None:
        return timezone.localdate(timezone.now(), ZoneInfo("Europe/Paris"))
    if isinstance(at, datetime):
        return timezone.localdate(at, ZoneInfo("Europe/Paris"))
    if isinstance(at, date):
        return at
    raise TypeError(at)


def _shown_day(day) -> str:
    return f"{day:%d/%m/%Y}"


def delegation_refusal(user, site: InvestigationalSite, task: str, at=None) -> str | None:
    """Why `user` may not do `task` (a `DelegatedTask`) at `site` on the day of `at` (a moment, or a date; today
    when not given), or None when the delegation log allows it."""
    from .models import DelegatedTask, DelegationEntry, SiteAcknowledgement

    label = dict(DelegatedTask.choices)[task]
    if not is_site_staff(user, site):
        return str(_("Only the staff of %(site)s record there.") % {"site": site.code})
    day = _local_day(at)
    entries = [entry for entry in DelegationEntry.objects.filter(site=site, staff=user).select_related(
        "site__trial").order_by("start_date", "pk") if task in entry.tasks]
    values = {"name": user.get_full_name() or user.get_username(), "site": site.code, "task": label,
              "day": _shown_day(day)}
    if not entries:
        return str(_("%(name)s is not on the delegation log of %(site)s for the task “%(task)s”: only the principal "
                     "investigator can delegate it. Nothing was recorded.") % values)
    covering = [entry for entry in entries if entry.covers(day)]
    if not covering:
        ended = [entry.end_date for entry in entries if entry.end_date is not None and entry.end_date < day]
        if ended:
            return str(_("%(name)s has not been on the delegation log of %(site)s for the task “%(task)s” since "
                         "%(since)s (the delegation ended on %(end)s), so not on %(day)s. Nothing was recorded.") % {
                **values, "since": _shown_day(max(ended) + timedelta(days=1)), "end": _shown_day(max(ended))})
        start = min(entry.start_date for entry in entries if entry.start_date > day)
        return str(_("%(name)s is on the delegation log of %(site)s for the task “%(task)s” only from %(start)s, "
                     "not on %(day)s. Nothing was recorded.") % {**values, "start": _shown_day(start)})
    if not any(entry.acknowledged_at for entry in covering):
        return str(_("The delegation of the task “%(task)s” to %(name)s awaits their acknowledgement on the "
                     "delegation log of %(site)s: it takes effect once acknowledged. Nothing was recorded.") % values)
    if entries[0].site.trial.delegation_requires_training:
        from .selectors import effective_version

        moment = at if isinstance(at, datetime) else timezone.now()
        version = effective_version(site=site, at=moment)
        if version is not None and not SiteAcknowledgement.objects.filter(
                activation__site=site, activation__version=version, acknowledged_at__lte=moment).exists():
            return str(_("The delegation of the task “%(task)s” to %(name)s takes effect once %(site)s has "
                         "acknowledged the protocol version in force, %(version)s (the sponsor requires it). Nothing "
                         "was recorded.") % {**values, "version": version.title})
    return None


def can_do_delegated(user, site: InvestigationalSite, task: str, at=None) -> bool:
    return delegation_refusal(user, site, task, at) is None


def can_record_consent(user, site: InvestigationalSite, at=None) -> bool:
    """Recording a consent (or a refusal, or a continuation consent): site staff delegated "obtain informed
    consent" on the signing date."""
    return can_do_delegated(user, site, "consent", at)


def can_register_participant(user, site: InvestigationalSite, at=None) -> bool:
    """Registering a participant, or recording one as not included: site staff delegated to."""
    return can_do_delegated(user, site, "register", at)


def can_record_withdrawal(user, site: InvestigationalSite, at=None) -> bool:
    return can_do_delegated(user, site, "withdrawal", at)


def can_record_death(user, site: InvestigationalSite, at=None) -> bool:
    return can_do_delegated(user, site, "death", at)


def emergency_refusal(user, site: InvestigationalSite, at=None) -> str | None:
    """Why `user` may not attest an emergency inclusion at `site` then: only an investigator of the site (a member
    of its investigator role group, EU CTR art. 35, CSP L1122-1-2; not a study coordinator, not an administrator
    by virtue of being one), delegated the attestation on the delegation log."""
    if not (is_authenticated(user) and any(
            role == Role.INVESTIGATOR and site_id == site.pk for role, _trial, site_id in access(user).role_groups)):
        return str(_("Only an investigator of %(site)s can attest an emergency inclusion: the investigator "
                     "certifies the emergency conditions and records the inclusion under their own account. Nothing "
                     "was recorded.") % {"site": site.code})
    return delegation_refusal(user, site, "emergency", at)


def can_attest_emergency_inclusion(user, site: InvestigationalSite, at=None) -> bool:
    return emergency_refusal(user, site, at) is None


def can_keep_delegation_log(user, site: InvestigationalSite) -> bool:
    """Writing and signing entries of the site's delegation log: its principal investigator only."""
    return is_principal_investigator(user, site)


def can_read_delegation_log(user, site: InvestigationalSite) -> bool:
    """The site's staff, and whoever reads the site (sponsor, QA, inspectors in a window covering it)."""
    return can_access_site(user, site)


def can_read_isf(user, site: InvestigationalSite) -> bool:
    """The investigator site file: the site's own staff, and inspectors in an open window covering the site.
    Not the sponsor: the ISF holds the site's signed consent records, which stay at the site."""
    if not is_authenticated(user):
        return False
    if access(user).is_site_staff(site.pk, ACCESS_SITE):
        return True
    grants = access(user).grants
    if site.trial_id not in grants:
        return False
    chosen = grants[site.trial_id]
    return chosen is None or site.pk in chosen


def prints_site_forms(user, site: InvestigationalSite) -> bool:
    """Site staff (investigator, coordinator) of this site, offered its current forms to print from their home
    page. Anyone reading the site may print them from its page (`sites_accessible`); this only decides the
    home page's shortcut."""
    return is_authenticated(user) and access(user).is_site_staff(site.pk, ACCESS_SITE)


def can_countersign_consent(user, site: InvestigationalSite) -> bool:
    """The investigator's countersignature of a consent (ICH E6(R3): the investigator, or the qualified person the
    investigator delegated, signs the form): an investigator of the site, never a coordinator, an administrator or
    the sponsor by virtue of being one."""
    return is_authenticated(user) and any(
        role == Role.INVESTIGATOR and site_id == site.pk for role, _trial, site_id in access(user).role_groups)


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


# --- API tokens (the FHIR API of consent.fhir) --------------------------------------------------------------------

def can_issue_api_token(actor, trial: TrialPage) -> bool:
    """An administrator, or the trial's sponsor, issues and revokes the trial's API tokens."""
    return can_manage_trial(actor, trial)


def can_revoke_api_token(actor, token: ApiToken) -> bool:
    return can_manage_trial(actor, token.trial)


def api_tokens_managed(actor) -> QuerySet[ApiToken]:
    """The tokens an actor may see and revoke: those of the trials they manage."""
    return ApiToken.objects.filter(trial__in=trials_managed(actor).values("pk"))


def api_token_may_read_scope(user, trial: TrialPage, site: InvestigationalSite | None) -> bool:
    """Whether a token for this user on this trial (or site) may be issued: the user reads it already. A token
    never reads more than its user."""
    if not is_authenticated(user):
        return False
    if site is not None:
        return site.trial_id == trial.pk and can_access_site(user, site)
    return can_access_trial(user, trial)


def api_token_usable(token: ApiToken | None, at=None) -> bool:
    """A token answers only while it is neither expired nor revoked, its user is active and still reads its trial
    (or site); anything else is a 401."""
    if token is None or not token.is_live(at):
        return False
    return api_token_may_read_scope(token.user, token.trial, token.site if token.site_id else None)


def api_token_sites(token: ApiToken) -> QuerySet[InvestigationalSite]:
    """The sites whose records a usable token reads: the sites of its trial its user reads, narrowed to its site
    when it has one. A site-scoped token never reads another site."""
    if not api_token_usable(token):
        return InvestigationalSite.objects.none()
    sites = sites_accessible(token.user).filter(trial_id=token.trial_id)
    if token.site_id is not None:
        sites = sites.filter(pk=token.site_id)
    return sites


# --- Approvals in the review workflow (electronic signatures, four eyes) --------------------------------------

def can_moderate_approval_task(user, task) -> bool:
    """A member of one of the step's groups (or an administrator) reviews the versions at this step."""
    if not is_authenticated(user):
        return False
    return user.is_superuser or task.groups.filter(pk__in=user.groups.values("pk")).exists()


def version_authors(page) -> set[int]:
    """Who wrote a version: its owner, the user of each of its revisions, and whoever submitted it to review."""
    from wagtail.models import Revision

    authors = set(Revision.objects.filter(base_content_type_id=page.get_base_content_type().pk,
                                          object_id=str(page.pk)).exclude(user=None)
                  .values_list("user_id", flat=True))
    if page.owner_id:
        authors.add(page.owner_id)
    state = page.current_workflow_state
    if state is not None and state.requested_by_id:
        authors.add(state.requested_by_id)
    return authors


def approval_refusal(user, page) -> str | None:
    """Why `user` may not approve `page` at its current review step, or None. Four eyes (EU GCP, 21 CFR 11.10(g)):
    the author of a version approves none of its steps, administrators included; someone else signs."""
    if not is_authenticated(user):
        return str(_("Log in to approve."))
    if user.pk in version_authors(page):
        return str(_("You wrote this version: its approval is signed by someone else (four eyes). Nothing was "
                     "approved."))
    return None


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


# --- Wagtail's page actions on a trial's pages ------------------------------------------------------------------
#
# Wagtail's own page actions obey the product's rules. `page_action_refusal` is the decision; the page tester below
# hides what it refuses wherever the admin offers it (action menu, header and listing buttons, bulk actions), and
# `regulatory.middleware.PageActionGuardMiddleware` and the hooks of `regulatory.wagtail_hooks` refuse it on a
# direct request with its message, before anything is written. Wagtail's own group page permissions (the sponsor's
# SPONSOR_PAGE_PERMISSIONS on their trial) still apply on top: this can only refuse more.
#
#   action            trial, protocol, consent forms,        draft version           approved (frozen) version
#                     correspondence pages
#   copy, alias,      refused to everyone                    refused to everyone     refused to everyone
#   translation copy
#   move, delete,     refused to everyone                    refused to everyone     refused to everyone
#   unpublish,
#   privacy
#   revert, lock,     the trial's sponsor, administrators    sponsor, administrators refused (read-only editor)
#   unlock
#   cancel workflow   —                                      sponsor, administrators —
#
# QA, site staff and inspectors never do any of these (site staff and inspectors have no way into the admin; QA
# approves or rejects a version in its review task, and nothing else).

PAGE_ACTIONS = ("copy", "alias", "translate", "move", "delete", "unpublish", "privacy", "revert", "lock", "unlock",
                "cancel_workflow")
ALWAYS_REFUSED = {
    "copy": _("Pages of a trial are not copied: a copy would make a second version with the same number outside "
              "the review workflow. Add a new version (or import a Word form) instead."),
    "alias": _("Pages of a trial have no aliases: each version is one page, reviewed and approved once."),
    "translate": _("A version in another language is a version of its own: add it, it goes through review."),
    "move": _("Pages of a trial stay where they are: a version belongs to its trial's protocol or consent forms."),
    "delete": _("Trials and their documents are never deleted: change the trial's status, or withdraw a version "
                "with its reason."),
    "unpublish": _("Nothing approved disappears: withdraw a version, with its reason, from its page; a trial "
                   "takes the status Terminated or Withdrawn."),
    "privacy": _("Who reads a trial's pages is decided by the roles, not by page privacy settings."),
}
SPONSOR_ONLY = _("Only the trial's sponsor or an administrator may do this.")
FROZEN = _("This version has been approved and is frozen: a change is a new version.")


def _trial_of_page(page):
    return TrialPage.objects.ancestor_of(page, inclusive=True).first()


def _holds_a_trial(page) -> bool:
    """The page is a trial, lies under one, or has one below it (the home page)."""
    return (TrialPage.objects.ancestor_of(page, inclusive=True).exists()
            or page.get_descendants().type(TrialPage).exists())


_UNKNOWN = object()


def page_action_refusal(user, page, action: str, *, trial=_UNKNOWN):
    """Why `user` may not do the Wagtail page `action` on `page` (a message), or None when the product's rules
    allow it (Wagtail's own page permissions then decide as usual). Pages outside every trial are left to Wagtail,
    but for what would carry a trial with them (deleting or moving the home page above the trials). `trial`: the
    page's trial (or None) when the caller knows it already."""
    if action not in PAGE_ACTIONS:
        raise ValueError(f"unknown page action {action!r}")
    if trial is _UNKNOWN:
        trial = _trial_of_page(page)
    if trial is None:
        if action in ("delete", "move", "unpublish") and _holds_a_trial(page):
            return ALWAYS_REFUSED[action]
        return None
    if action in ALWAYS_REFUSED:
        return ALWAYS_REFUSED[action]
    specific = page.specific_deferred
    if getattr(specific, "is_frozen", False) and action in ("revert", "lock", "unlock"):
        return FROZEN
    if not can_manage_trial(user, trial):
        return SPONSOR_ONLY
    return None


def page_action_allowed(user, page, action: str) -> bool:
    return page_action_refusal(user, page, action) is None


class TrialPagePermissionTester(PagePermissionTester):
    """Wagtail's page permission tester for a trial's pages (`regulatory.models.pagerules.TrialPageRules`): what
    `page_action_refusal` refuses is refused here too, so the admin never offers it."""

    @cached_property
    def _trial(self):
        return _trial_of_page(self.page)  # once per tester: a listing asks several actions of each row

    def _allowed(self, action: str) -> bool:
        return self.user.is_active and page_action_refusal(self.user, self.page, action, trial=self._trial) is None

    def can_copy(self):
        return self._allowed("copy") and super().can_copy()

    def can_copy_to(self, destination, recursive=False):
        return self._allowed("copy") and super().can_copy_to(destination, recursive=recursive)

    def can_move(self):
        return self._allowed("move") and super().can_move()

    def can_move_to(self, destination):
        return self._allowed("move") and super().can_move_to(destination)

    def can_delete(self, ignore_bulk=False):
        return self._allowed("delete") and super().can_delete(ignore_bulk=ignore_bulk)

    def can_unpublish(self):
        return self._allowed("unpublish") and super().can_unpublish()

    def can_set_view_restrictions(self):
        return self._allowed("privacy") and super().can_set_view_restrictions()

    def can_lock(self):
        return self._allowed("lock") and super().can_lock()

    def can_unlock(self):
        return self._allowed("unlock") and super().can_unlock()
