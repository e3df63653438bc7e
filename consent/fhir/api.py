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

Here the views, the search and the read; the bearer token and the throttle are in `auth`, the resource types the API
serves in `resources`, the parsing of search parameters in `search`, the error answers in `outcomes` and the
CapabilityStatement in `capability`.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError as FhirValidationError

from regulatory import audit, permissions
from regulatory.models import ApiToken
from regulatory.services.api_tokens import api_token_touch

from . import export, mapping
from .auth import _Unauthorized, authenticate
from .capability import capability_statement
from .outcomes import Refusal, _response, refusal_response
from .resources import FHIR_ID, ID_PATTERNS, RESOURCE_TYPES, TYPES, Context
from .search import Query, _check_format, parse_query

logger = logging.getLogger(__name__)


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


def search(ctx: Context, kind, request) -> tuple[str, int]:
    query = parse_query(ctx, kind, request)
    queryset = kind.queryset(ctx)
    for condition in query.filters:
        queryset = queryset.filter(condition)
    total = queryset.count()
    rows = list(kind.rows(queryset)[query.offset:query.offset + query.count]) if query.count else []
    return _bundle(ctx, kind, query, total, rows), len(rows)


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
