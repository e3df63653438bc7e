"""The per-request access snapshot: what one user holds, read in one SQL query (`Access`), kept for the request
(`AccessCacheMiddleware`, `request_cache`) and forgotten when who holds what changes (`forget_access`).

The other modules of `regulatory.permissions` answer from `access(user)` whatever a question needs of what the user
holds, and read the database only for the rest (a site's investigators, the delegation log, a page's ancestors).
"""

from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, cached_property

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import Permission as DjangoPermission
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from ..models import InspectorGrant, InvestigationalSite, RoleGroup
from .roles import ACCESS_SITE, ACCESS_TRIAL, SITE_ROLE_VALUES


def is_authenticated(user) -> bool:
    """A logged-in, active account (an anonymous or deactivated one holds nothing)."""
    return bool(user) and not isinstance(user, AnonymousUser) and user.is_authenticated and user.is_active


def is_administrator(user) -> bool:
    """An active superuser."""
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

    from ..models import (
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

    The object permissions of the user and of their groups on trials and on sites (read straight from guardian's
    direct-FK tables by `_access_sql`: model-level permissions on trials or sites are never read), their roles,
    their inspection windows open now and whether they hold Wagtail's `access_admin`, all read in one query on
    first use. Inside a request (`AccessCacheMiddleware`) one `Access` per user serves every question of that
    request; a save or delete of an object permission, a role group or an inspection window, and a change of a
    user's groups or of a window's sites, empties the cache (`regulatory.receivers`); a change of a model-level
    permission does not. Outside a request every question reads afresh.
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
        regulatory/tests/test_permissions.py checks it against guardian's own answers."""
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
        """A superuser, or Wagtail's `access_admin` permission held directly or through a group (whether the user
        is active is the caller's question: `can_use_admin`)."""
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
        """Trials read at all: `ACCESS_TRIAL` on the trial, `ACCESS_SITE` on one of its sites, or a window open
        on it."""
        return frozenset(self.trials_with(ACCESS_TRIAL)
                         | {self.site_trials[s] for s in self.sites_with(ACCESS_SITE)}
                         | set(self.grants))

    def reads_trial_wide(self, trial_id: int) -> bool:
        """`ACCESS_TRIAL` on the trial, or a window open on it (even one naming only some of its sites)."""
        return ACCESS_TRIAL in self.trial_perms.get(trial_id, ()) or trial_id in self.grants

    def reads_site(self, site_id: int, trial_id: int) -> bool:
        """`ACCESS_SITE` on the site, `ACCESS_TRIAL` on its trial, or a window open on the trial covering it."""
        if ACCESS_SITE in self.site_perms.get(site_id, ()) or ACCESS_TRIAL in self.trial_perms.get(trial_id, ()):
            return True
        if trial_id not in self.grants:
            return False
        chosen = self.grants[trial_id]
        return chosen is None or site_id in chosen

    def is_site_staff(self, site_id: int, perm: str) -> bool:
        """A site role (investigator, coordinator) on the site, and `perm` held on it."""
        return (any(site == site_id and role in SITE_ROLE_VALUES for role, _trial, site in self.role_groups)
                and perm in self.site_perms.get(site_id, ()))


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
