"""Request plumbing: a request id that follows a request into logs and audit entries."""

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from django.utils.cache import patch_cache_control, patch_vary_headers


@dataclass(frozen=True)
class RequestInfo:
    request_id: str
    ip_address: str | None
    request: object = None

    @property
    def user(self):
        """The user of the request, for writes that arrive through a signal without an explicit actor."""
        user = getattr(self.request, "user", None)
        return user if user is not None and user.is_authenticated else None


current_request: ContextVar[RequestInfo | None] = ContextVar("current_request", default=None)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give every request an id (kept from a well-formed `X-Request-ID`, else new) and echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = current_request.set(RequestInfo(request.id, request.META.get("REMOTE_ADDR") or None, request))
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        response["X-Request-ID"] = request.id
        return response


class FrenchFirstLocaleMiddleware:
    """French unless the user chose another language (the language cookie set by /i18n/setlang/).

    The browser's Accept-Language is ignored on purpose: hospital workstations often run English browsers,
    and staff must see the French interface the forms and procedures are written in.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        patch_vary_headers(response, ("Cookie",))
        return response


class PrivateCacheMiddleware:
    """Pages shown to a logged-in user are never stored by shared or browser caches."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            patch_cache_control(response, private=True, no_store=True)
        return response
