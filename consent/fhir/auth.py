"""Who calls the API: the request's bearer token (`authenticate`), and the throttle of a token's calls and of an
address's failures (`FHIR_API_THROTTLE`), counted in the cache per window as the verification throttle does."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from cms.throttle import count_in_window
from regulatory import permissions
from regulatory.models import ApiToken
from regulatory.services.api_tokens import api_token_lookup

from .outcomes import Refusal

DEFAULT_THROTTLE = {"WINDOW_SECONDS": 60, "MAX_PER_TOKEN": 300, "MAX_FAILURES_PER_ADDRESS": 20}  # nosec B105  # counts


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


def _unauthorized(message: str, *, sent: bool = True) -> Refusal:
    """A 401; the challenge names `invalid_token` only when a token was sent (RFC 6750, 3.1)."""
    challenge = 'Bearer realm="TrialDocs FHIR"' + (', error="invalid_token"' if sent else "")
    return Refusal(401, "login", message, {"WWW-Authenticate": challenge})


def _too_many() -> Refusal:
    return Refusal(429, "throttled", _("Too many requests: try again in a minute."),
                   {"Retry-After": str(_limits()["WINDOW_SECONDS"])})


def _limits() -> dict:
    return DEFAULT_THROTTLE | getattr(settings, "FHIR_API_THROTTLE", {})


def _count_in_window(kind: str, key: str) -> int:
    return count_in_window(f"fhir:{kind}:{key}", window_seconds=_limits()["WINDOW_SECONDS"])


def _peek(kind: str, key: str) -> int:
    window_seconds = _limits()["WINDOW_SECONDS"]
    return cache.get(f"trialdocs:fhir:{kind}:{key}:{int(time.time() // window_seconds)}", 0)
