"""The read-only FHIR API, for programs holding a bearer token (`manage.py issue_api_token`).

    GET /fhir/{R5|R4B}/metadata                          CapabilityStatement (no token needed)
    GET /fhir/{R5|R4B}/{Consent|ResearchSubject|ResearchStudy|Organization}?params   searchset Bundle, paged
    GET /fhir/{R5|R4B}/{type}/{id}                        one resource

Every answer is `application/fhir+json`; every error is an OperationOutcome (unknown type or parameter, malformed
value, `_count` above the maximum, no or bad token, another trial, not found, method not allowed, throttled, and an
unexpected failure too): never an HTML page. GET and HEAD only, no session, no CSRF (nothing is written but the audit
entry of the call and the token's last use).

What a token reads is decided by `regulatory.permissions` (`api_token_usable`, `api_token_sites`). Every call with a
token is audited with that token (`api.read`, `api.refused`); calls without a usable token are audited without one and
counted per address (`FHIR_API_THROTTLE`), as are a token's calls.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError as FhirValidationError

from regulatory import audit, permissions
from regulatory.models import ApiToken, InvestigationalSite
from regulatory.services.api_tokens import api_token_lookup, api_token_touch

from ..models import ConsentRecord
from . import export, mapping

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/fhir+json; charset=utf-8"
DEFAULT_COUNT, MAX_COUNT = 20, 100
MAX_OFFSET = 10_000_000
MAX_QUERY_LENGTH = 2000
RESOURCE_TYPES = ("Consent", "ResearchSubject", "ResearchStudy", "Organization")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
NCT = r"NCT\d{8}"
CODE = r"[A-Z]{2,6}-\d{1,6}"
ID_PATTERNS = {
    "Consent": re.compile(rf"^({NCT})-({CODE})-(\d{{1,9}})$"),
    "ResearchSubject": re.compile(rf"^({NCT})-({CODE})$"),
    "ResearchStudy": re.compile(rf"^({NCT})$"),
    "Organization": re.compile(rf"^({NCT})-([A-Z]{{2,6}})$"),
}
FORMATS = {"json", "application/json", "application/fhir+json"}
PARIS = ZoneInfo("Europe/Paris")
DEFAULT_THROTTLE = {"WINDOW_SECONDS": 60, "MAX_PER_TOKEN": 300, "MAX_FAILURES_PER_ADDRESS": 20}  # nosec B105  # counts


class Refusal(Exception):  # noqa: N818 (an answer, not a failure)
    """An error answer: HTTP status, OperationOutcome issue code, message."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


# --- Answers --------------------------------------------------------------------------------------------------------

def _response(text: str, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def operation_outcome(version: str, code: str, message: str, severity: str = "error") -> str:
    data = {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": message}]}
    return mapping.validated(version if version in mapping.VERSIONS else mapping.R5, data)


def refusal_response(version: str, refusal: Refusal) -> HttpResponse:
    return _response(operation_outcome(version, refusal.code, refusal.message), refusal.status, refusal.headers)


# --- Throttle (the cache counts, as the verification throttle does) ------------------------------------------------

def _limits() -> dict:
    return DEFAULT_THROTTLE | getattr(settings, "FHIR_API_THROTTLE", {})


def _count_in_window(kind: str, key: str) -> int:
    window_seconds = _limits()["WINDOW_SECONDS"]
    cache_key = f"trialdocs:fhir:{kind}:{key}:{int(time.time() // window_seconds)}"
    cache.add(cache_key, 0, timeout=window_seconds)
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_seconds)
        return 1


def _peek(kind: str, key: str) -> int:
    window_seconds = _limits()["WINDOW_SECONDS"]
    return cache.get(f"trialdocs:fhir:{kind}:{key}:{int(time.time() // window_seconds)}", 0)


def _too_many() -> Refusal:
    return Refusal(429, "throttled", _("Too many requests: try again in a minute."),
                   {"Retry-After": str(_limits()["WINDOW_SECONDS"])})


# --- Authentication -------------------------------------------------------------------------------------------------

def _unauthorized(message: str, *, sent: bool = True) -> Refusal:
    """A 401; the challenge names `invalid_token` only when a token was sent (RFC 6750, 3.1)."""
    challenge = 'Bearer realm="TrialDocs FHIR"' + (', error="invalid_token"' if sent else "")
    return Refusal(401, "login", message, {"WWW-Authenticate": challenge})


def authenticate(request) -> ApiToken:
    """The usable token of the request, or a Refusal (401, or 429 when this address failed too often)."""
    address = request.META.get("REMOTE_ADDR") or "-"
    if _peek("failures", address) >= _limits()["MAX_FAILURES_PER_ADDRESS"]:
        raise _too_many()
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _space, raw = header.strip().partition(" ")
    token = api_token_lookup(raw.strip()) if scheme.lower() == "bearer" else None
    if token is None or not permissions.api_token_usable(token):
        _count_in_window("failures", address)
        if not header:
            message = _("This API is for programs: send an API token as \"Authorization: Bearer <token>\".")
        elif token is None:
            message = _("This token is not valid.")
        elif token.revoked_at is not None:
            message = _("This token has been revoked.")
        elif not token.is_live():
            message = _("This token has expired.")
        else:
            message = _("This token's account no longer reads its trial or site.")
        raise _Unauthorized(_unauthorized(message, sent=bool(header)), token)
    if _count_in_window("token", str(token.pk)) > _limits()["MAX_PER_TOKEN"]:
        raise _Unauthorized(_too_many(), token)
    return token


class _Unauthorized(Exception):  # noqa: N818
    def __init__(self, refusal: Refusal, token: ApiToken | None):
        super().__init__(refusal.message)
        self.refusal, self.token = refusal, token


# --- Parameters -----------------------------------------------------------------------------------------------------

def _int_param(name: str, values: list[str], *, default: int, maximum: int) -> int:
    if not values:
        return default
    if len(values) > 1:
        raise Refusal(400, "invalid", _("%(name)s is given more than once.") % {"name": name})
    text = values[0].strip()
    if not re.fullmatch(r"\d{1,10}", text):
        raise Refusal(400, "invalid", _("%(name)s must be a whole number from 0 to %(max)s, not %(value)r.")
                      % {"name": name, "max": maximum, "value": text[:40]})
    number = int(text)
    if number > maximum:
        raise Refusal(400, "too-costly", _("%(name)s is at most %(max)s (asked: %(value)s).")
                      % {"name": name, "max": maximum, "value": text})
    return number


DATE = re.compile(r"^(eq|ne|lt|le|gt|ge|sa|eb)?(\d{4})(?:-(\d{2})(?:-(\d{2})"
                  r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def _date_range(value: str) -> tuple[str, datetime.datetime, datetime.datetime]:
    """(prefix, start, end) of a FHIR date search value: the instant range its precision covers (a date without a
    time in Europe/Paris, the trial's time zone)."""
    match = DATE.match(value)
    if not match:
        raise Refusal(400, "invalid", _("date: %(value)r is not a FHIR date (e.g. ge2026-02-01, 2026-02, "
                                        "lt2026-02-01T12:00:00Z).") % {"value": value[:40]})
    prefix, year, month, day, hour, minute, second, zone = match.groups()
    if hour is not None and zone is None:
        raise Refusal(400, "invalid", _("date: a time needs its time zone (Z or ±hh:mm)."))
    try:
        if hour is not None:
            tz = datetime.UTC if zone == "Z" else datetime.datetime.strptime(zone.replace(":", ""), "%z").tzinfo
            start = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                      tzinfo=tz)
            end = start + (datetime.timedelta(seconds=1) if second else datetime.timedelta(minutes=1))
        elif day is not None:
            start = datetime.datetime(int(year), int(month), int(day), tzinfo=PARIS)
            end = start + datetime.timedelta(days=1)
        elif month is not None:
            start = datetime.datetime(int(year), int(month), 1, tzinfo=PARIS)
            end = datetime.datetime(int(year) + int(month) // 12, int(month) % 12 + 1, 1, tzinfo=PARIS)
        else:
            start = datetime.datetime(int(year), 1, 1, tzinfo=PARIS)
            end = datetime.datetime(int(year) + 1, 1, 1, tzinfo=PARIS)
    except (ValueError, OverflowError) as error:
        raise Refusal(400, "invalid", _("date: %(value)r is not a real date.") % {"value": value[:40]}) from error
    return prefix or "eq", start, end


def _date_q(field_name: str, value: str) -> Q:
    prefix, start, end = _date_range(value)
    if prefix == "eq":
        return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
    if prefix == "ne":
        return ~Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
    if prefix in ("lt", "eb"):
        return Q(**{f"{field_name}__lt": start})
    if prefix == "le":
        return Q(**{f"{field_name}__lt": end})
    if prefix in ("gt", "sa"):
        return Q(**{f"{field_name}__gte": end})
    return Q(**{f"{field_name}__gte": start})  # ge


def _tokens(value: str) -> list[tuple[str | None, str]]:
    """A token search value, comma-separated alternatives of `[system|]code`."""
    found = []
    for part in value.split(","):
        system, bar, code = part.partition("|")
        found.append((system, code) if bar else (None, part))
    if any(not code.strip() for _system, code in found):
        raise Refusal(400, "invalid", _("An empty value in %(value)r.") % {"value": value[:40]})
    return found


@dataclass
class Query:
    """The request's parameters, checked: filters (AND of each occurrence), paging, and the canonical parameters
    repeated in the paging links."""

    filters: list[Q] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    canonical: list[tuple[str, str]] = field(default_factory=list)


# --- Resource types -------------------------------------------------------------------------------------------------

@dataclass
class Context:
    version: str
    token: ApiToken
    scope: export.Scope
    base: str  # absolute URL of /fhir/{version}

    @property
    def nct(self) -> str:
        return self.scope.nct


def _participant_codes(ctx: Context, value: str, field_name: str) -> Q:
    codes = []
    for system, code in _tokens(value):
        if system in (None, "", mapping.participant_system(ctx.nct)):
            codes.append(code.strip().upper())
    return Q(**{f"{field_name}__in": codes})


def _study(ctx: Context, value: str) -> Q:
    for part in value.split(","):
        nct = part.strip().upper().removeprefix("RESEARCHSTUDY/")
        if not re.fullmatch(NCT, nct):
            raise Refusal(400, "invalid", _("study: %(value)r is not ResearchStudy/NCT… or an NCT number.")
                          % {"value": part[:40]})
        if nct != ctx.nct:
            raise Refusal(403, "forbidden", _("This token reads %(nct)s only.") % {"nct": ctx.nct})
    return Q()


def _ids(ctx: Context, value: str, resource_type: str, lookup) -> Q:
    found = Q(pk__in=[])
    for part in value.split(","):
        match = ID_PATTERNS[resource_type].match(part.strip())
        if match and match.group(1) == ctx.nct:
            found |= lookup(match)
    return found


class ConsentType:
    name = "Consent"
    params = ("_id", "subject:identifier", "patient:identifier", "status", "date", "study")

    @staticmethod
    def queryset(ctx: Context):
        return ctx.scope.consents()

    @staticmethod
    def by_id(match) -> Q:
        return Q(participant__code=match.group(2), sequence=int(match.group(3)))

    @classmethod
    def filter(cls, ctx: Context, name: str, value: str) -> Q:
        if name == "_id":
            return _ids(ctx, value, cls.name, cls.by_id)
        if name in ("subject:identifier", "patient:identifier"):
            return _participant_codes(ctx, value, "participant__code")
        if name == "status":
            wanted = {code for _system, code in _tokens(value)}
            unknown = wanted - set(mapping.CONSENT_STATUSES)
            if unknown:
                raise Refusal(400, "code-invalid", _("status: %(value)s is not one of %(known)s.")
                              % {"value": ", ".join(sorted(unknown))[:60],
                                 "known": ", ".join(mapping.CONSENT_STATUSES)})
            q = Q(pk__in=[])
            consented = Q(outcome=ConsentRecord.Outcome.CONSENTED)
            if "active" in wanted:  # as mapping.consent_status: a refusal stays active
                q |= Q(outcome=ConsentRecord.Outcome.REFUSED) | consented & ~Q(participant__status__in=mapping.ENDED)
            if "inactive" in wanted:
                q |= consented & Q(participant__status__in=mapping.ENDED)
            if "draft" in wanted:
                q |= Q(outcome=ConsentRecord.Outcome.PENDING)
            if wanted & {"not-done", "rejected"}:
                q |= Q(outcome=ConsentRecord.Outcome.DECLINED)
            return q
        if name == "date":
            return _date_q("signed_at", value)
        return _study(ctx, value)

    @staticmethod
    def rows(queryset):
        return export.consent_rows(queryset)

    @staticmethod
    def resource(ctx: Context, record) -> tuple[str, dict]:
        return mapping.consent_id(record, ctx.nct), mapping.consent(record, nct=ctx.nct, version=ctx.version)


class ResearchSubjectType:
    name = "ResearchSubject"
    params = ("_id", "identifier", "subject:identifier", "patient:identifier", "status", "subject_state", "study")

    @staticmethod
    def queryset(ctx: Context):
        return ctx.scope.participants()

    @staticmethod
    def by_id(match) -> Q:
        return Q(code=match.group(2))

    @classmethod
    def filter(cls, ctx: Context, name: str, value: str) -> Q:
        if name == "_id":
            return _ids(ctx, value, cls.name, cls.by_id)
        if name in ("identifier", "subject:identifier", "patient:identifier"):
            return _participant_codes(ctx, value, "code")
        if name in ("status", "subject_state"):
            wanted = {code for _system, code in _tokens(value)}
            states = set(mapping.SUBJECT_STATES.values())
            known = states | ({"active"} if ctx.version == mapping.R5 and name == "status" else set())
            unknown = wanted - known
            if unknown:
                raise Refusal(400, "code-invalid", _("%(name)s: %(value)s is not one of %(known)s.")
                              % {"name": name, "value": ", ".join(sorted(unknown))[:60],
                                 "known": ", ".join(sorted(known))})
            if "active" in wanted and name == "status" and ctx.version == mapping.R5:
                return Q()
            return Q(status__in=[status for status, state in mapping.SUBJECT_STATES.items() if state in wanted])
        return _study(ctx, value)

    @staticmethod
    def rows(queryset):
        return export.subject_rows(queryset)

    @staticmethod
    def resource(ctx: Context, participant) -> tuple[str, dict]:
        return mapping.subject_id(participant, ctx.nct), mapping.research_subject(
            participant, list(participant.consents.all()), nct=ctx.nct, version=ctx.version)


class OrganizationType:
    name = "Organization"
    params = ("_id", "identifier")

    @staticmethod
    def queryset(ctx: Context):
        return InvestigationalSite.objects.filter(pk__in=ctx.scope.sites.values("pk"))

    @staticmethod
    def by_id(match) -> Q:
        return Q(code=match.group(2))

    @classmethod
    def filter(cls, ctx: Context, name: str, value: str) -> Q:
        if name == "_id":
            return _ids(ctx, value, cls.name, cls.by_id)
        codes = [code.strip().upper() for system, code in _tokens(value)
                 if system in (None, "", mapping.site_system(ctx.nct))]
        return Q(code__in=codes)

    @staticmethod
    def rows(queryset):
        return queryset.order_by("code")

    @staticmethod
    def resource(ctx: Context, site) -> tuple[str, dict]:
        return mapping.organization_id(site, ctx.nct), mapping.organization(site, nct=ctx.nct, version=ctx.version)


class ResearchStudyType:
    """One resource at most: the token's trial (with the sites the token reads)."""

    name = "ResearchStudy"
    params = ("_id", "identifier")

    @staticmethod
    def queryset(ctx: Context):
        from regulatory.models import TrialPage

        return TrialPage.objects.filter(pk=ctx.scope.trial.pk)

    @staticmethod
    def by_id(match) -> Q:
        return Q()

    @classmethod
    def filter(cls, ctx: Context, name: str, value: str) -> Q:
        if name == "_id":
            return _ids(ctx, value, cls.name, cls.by_id)
        q = Q(pk__in=[])
        for system, code in _tokens(value):
            code = code.strip()
            if system in (None, "", mapping.NCT_SYSTEM) and code.upper() == ctx.nct:
                q = Q()
            if system in (None, "", mapping.EU_CT_SYSTEM) and ctx.scope.trial.eu_ct_number \
                    and code == ctx.scope.trial.eu_ct_number:
                q = Q()
        return q

    @staticmethod
    def rows(queryset):
        return queryset

    @staticmethod
    def resource(ctx: Context, trial) -> tuple[str, dict]:
        return mapping.study_id(trial), mapping.research_study(trial, ctx.scope.site_list(), version=ctx.version)


TYPES = {t.name: t for t in (ConsentType, ResearchSubjectType, ResearchStudyType, OrganizationType)}


def parse_query(ctx: Context, kind, request) -> Query:
    query = Query()
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_LENGTH:
        raise Refusal(400, "too-long", _("The query is too long (%(max)s characters at most).")
                      % {"max": MAX_QUERY_LENGTH})
    params = dict(request.GET.lists())
    for name in sorted(params):
        values = params[name]
        if name in ("_count", "_offset", "_format"):
            continue
        if name not in kind.params:
            raise Refusal(400, "not-supported", _("%(type)s does not take the parameter %(name)r; it takes %(known)s.")
                          % {"type": kind.name, "name": name[:40], "known": ", ".join(kind.params + ("_count",
                                                                                                      "_offset"))})
        for value in values:
            if not value.strip():
                raise Refusal(400, "invalid", _("%(name)s has no value.") % {"name": name})
            query.filters.append(kind.filter(ctx, name, value))
            query.canonical.append((name, value))
    query.count = _int_param("_count", params.get("_count", []), default=DEFAULT_COUNT, maximum=MAX_COUNT)
    query.offset = _int_param("_offset", params.get("_offset", []), default=0, maximum=MAX_OFFSET)
    return query


def _check_format(request) -> None:
    for value in request.GET.getlist("_format"):
        if value.strip().lower() not in FORMATS:
            raise Refusal(406, "not-supported", _("Only JSON is served (_format=json)."))


# --- Views ----------------------------------------------------------------------------------------------------------

def _bundle(ctx: Context, kind, query: Query, total: int, rows) -> str:
    def link(offset: int) -> str:
        return f"{ctx.base}/{kind.name}?" + urlencode([*query.canonical, ("_count", query.count),
                                                       ("_offset", offset)])

    links = [{"relation": "self", "url": link(query.offset)}, {"relation": "first", "url": link(0)}]
    if query.count and query.offset + query.count < total:
        links.append({"relation": "next", "url": link(query.offset + query.count)})
    if query.offset > 0 and query.count:
        links.append({"relation": "previous", "url": link(max(0, query.offset - query.count))})
    envelope = mapping.validated(ctx.version, {"resourceType": "Bundle", "type": "searchset", "total": total,
                                               "link": links})
    entries = []
    for row in rows:
        resource_id, data = kind.resource(ctx, row)
        entries.append('{"fullUrl":' + json.dumps(f"{ctx.base}/{kind.name}/{resource_id}") + ',"resource":'
                       + mapping.validated(ctx.version, data) + ',"search":{"mode":"match"}}')
    return envelope[:-1] + ',"entry":[' + ",".join(entries) + "]}" if entries else envelope


def search(ctx: Context, kind, request) -> tuple[str, int]:
    query = parse_query(ctx, kind, request)
    queryset = kind.queryset(ctx)
    for condition in query.filters:
        queryset = queryset.filter(condition)
    total = queryset.count()
    rows = list(kind.rows(queryset)[query.offset:query.offset + query.count]) if query.count else []
    return _bundle(ctx, kind, query, total, rows), len(rows)


def read(ctx: Context, kind, resource_id: str) -> str:
    if not FHIR_ID.match(resource_id):
        raise Refusal(400, "invalid", _("%(id)r is not a FHIR id.") % {"id": resource_id[:70]})
    match = ID_PATTERNS[kind.name].match(resource_id)
    if not match or match.group(1) != ctx.nct:
        raise Refusal(404, "not-found", _("No %(type)s %(id)s that this token reads.")
                      % {"type": kind.name, "id": resource_id})
    row = kind.rows(kind.queryset(ctx).filter(kind.by_id(match))).first()
    if row is None:
        raise Refusal(404, "not-found", _("No %(type)s %(id)s that this token reads.")
                      % {"type": kind.name, "id": resource_id})
    return mapping.validated(ctx.version, kind.resource(ctx, row)[1])


def _audit(request, *, token: ApiToken | None, action: str, status: int, returned: int = 0, reason: str = "") -> None:
    changes = {"method": [None, request.method], "path": [None, request.get_full_path()[:500]],
               "status": [None, status], "returned": [None, returned]}
    if token is not None:
        changes["token"] = [None, f"{token.pk} ({token.hint}…)"]
    audit.record(actor=token.user if token is not None else None, action=action, obj=token,
                 object_repr=(str(token) if token is not None else request.path)[:255], changes=changes,
                 reason=reason[:500])


def _base(request, version: str) -> str:
    configured = getattr(settings, "TRIALDOCS_FHIR_BASE_URL", "")
    if configured:
        return f"{configured.rstrip('/')}/{version}" if not configured.rstrip("/").endswith(version) \
            else configured.rstrip("/")
    return request.build_absolute_uri(f"/fhir/{version}")


def _guarded(view):
    """GET and HEAD only, no CSRF; any refusal or failure as an OperationOutcome."""

    @csrf_exempt
    def wrapper(request, version: str = mapping.R5, *args, **kwargs):
        shown_version = version if version in mapping.VERSIONS else mapping.R5
        try:
            if request.method not in ("GET", "HEAD"):
                raise Refusal(405, "not-supported", _("This API is read-only: GET only."), {"Allow": "GET, HEAD"})
            if version not in mapping.VERSIONS:
                raise Refusal(404, "not-supported", _("FHIR versions served: %(versions)s.")
                              % {"versions": ", ".join(mapping.VERSIONS)})
            return view(request, version, *args, **kwargs)
        except Refusal as refusal:
            return refusal_response(shown_version, refusal)
        except Exception:  # never an HTML 500: the failure is logged with the request's id
            logger.exception("FHIR API failure on %s", request.path)
            return refusal_response(shown_version, Refusal(500, "exception", _(
                "The server failed to answer this request; it has been logged.")))

    return wrapper


@_guarded
def metadata(request, version: str):
    _check_format(request)
    return _response(capability_statement(version, _base(request, version)))


@_guarded
def resource(request, version: str, resource_type: str, resource_id: str | None = None):
    kind = TYPES.get(resource_type)
    if kind is None:
        raise Refusal(404, "not-supported", _("Unknown resource type %(type)r; this server has %(known)s.")
                      % {"type": resource_type[:40], "known": ", ".join(RESOURCE_TYPES)})
    try:
        token = authenticate(request)
    except _Unauthorized as refused:
        _audit(request, token=refused.token, action="api.refused", status=refused.refusal.status,
               reason=refused.refusal.message)
        raise refused.refusal from None
    api_token_touch(token)
    ctx = Context(version=version, token=token, base=_base(request, version),
                  scope=export.Scope(trial=token.trial, sites=permissions.api_token_sites(token)))
    try:
        _check_format(request)
        if resource_id is None:
            text, returned = search(ctx, kind, request)
        else:
            text, returned = read(ctx, kind, resource_id), 1
    except Refusal as refusal:
        _audit(request, token=token, action="api.refused", status=refusal.status, reason=refusal.message)
        raise
    except FhirValidationError:
        logger.exception("FHIR resource failed validation on %s", request.path)
        raise Refusal(500, "exception", _("A resource failed FHIR validation; it has been logged.")) from None
    _audit(request, token=token, action="api.read", status=200, returned=returned)
    return _response(text)


@_guarded
def unknown(request, version: str = mapping.R5, rest: str = ""):
    raise Refusal(404, "not-found", _("Nothing at this address: see %(url)s.")
                  % {"url": f"/fhir/{version if version in mapping.VERSIONS else mapping.R5}/metadata"})


# --- CapabilityStatement ------------------------------------------------------------------------------------------

SEARCH_PARAMS = {
    "Consent": [("_id", "token"), ("subject:identifier", "token"), ("patient:identifier", "token"),
                ("status", "token"), ("date", "date"), ("study", "reference")],
    "ResearchSubject": [("_id", "token"), ("identifier", "token"), ("subject:identifier", "token"),
                        ("patient:identifier", "token"), ("status", "token"), ("subject_state", "token"),
                        ("study", "reference")],
    "ResearchStudy": [("_id", "token"), ("identifier", "token")],
    "Organization": [("_id", "token"), ("identifier", "token")],
}
RELEASED = "2026-12-03"


def capability_statement(version: str, base: str) -> str:
    resources = []
    for name in RESOURCE_TYPES:
        params: dict[str, str] = {}
        for param, kind in SEARCH_PARAMS[name]:  # subject:identifier is the `subject` parameter with a modifier
            params.setdefault(param.split(":")[0], kind)
        entry = {"type": name, "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [{"name": param, "type": kind} for param, kind in sorted(params.items())]}
        resources.append(entry)
    data = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": RELEASED,
        "publisher": "TrialDocs",
        "kind": "instance",
        "software": {"name": "TrialDocs", "version": "0.1.0"},
        "implementation": {"description": "TrialDocs read-only FHIR API (consent records)", "url": base},
        "fhirVersion": mapping.FHIR_VERSION[version],
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": (f"Read-only. Authorization: Bearer <token> (manage.py issue_api_token). "
                              f"_count at most {MAX_COUNT} (default {DEFAULT_COUNT}), _offset for paging. "
                              "subject:identifier / patient:identifier take the participant's code."),
            "security": {"cors": False, "description": "Bearer API token scoped to one trial or one site, read-only, "
                                                       "expiring, revocable; every call audited."},
            "resource": resources,
        }],
    }
    return mapping.validated(version, data)
