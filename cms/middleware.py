"""Request plumbing: a request id that follows a request into logs and audit entries, and the client's address
(taken from `X-Forwarded-For` only when the request comes from a reverse proxy the settings trust)."""

import ipaddress
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
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


# --- The client's address behind reverse proxies ------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Where the proxy's own address is kept once REMOTE_ADDR holds the client's.
PROXY_ADDR_KEY = "TRIALDOCS_PROXY_ADDR"


def _parse_ip(value: str) -> IPAddress | None:
    """An address as a proxy writes it in X-Forwarded-For (`203.0.113.9`, `2001:db8::1`, `[2001:db8::1]`, with or
    without a `:port`), IPv4-mapped IPv6 as IPv4; None when it is not an address (`unknown`, a name, garbage)."""
    text = value.strip()
    bracketed = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?", text)
    if bracketed:
        text = bracketed.group(1)
    elif re.fullmatch(r"[0-9.]+:\d{1,5}", text):
        text = text.rsplit(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


_parsed_setting: tuple[object, int | tuple[IPNetwork, ...]] | None = None


def trusted_proxies() -> int | tuple[IPNetwork, ...]:
    """`settings.TRIALDOCS_TRUSTED_PROXIES` read once per value: a number of proxies in front of the application
    (every request comes through them), or the proxies' addresses or networks; empty (the default) trusts none."""
    global _parsed_setting
    value = getattr(settings, "TRIALDOCS_TRUSTED_PROXIES", ())
    if _parsed_setting is not None and _parsed_setting[0] == value:
        return _parsed_setting[1]
    parsed = parse_trusted_proxies(value)
    _parsed_setting = (value, parsed)
    return parsed


def parse_trusted_proxies(value) -> int | tuple[IPNetwork, ...]:
    """A number (int, or a string of digits), or addresses/networks (a list, or one string separated by commas or
    spaces) → the number, or the networks. Anything else is a configuration error, never silently ignored."""
    if isinstance(value, bool):
        raise ImproperlyConfigured("TRIALDOCS_TRUSTED_PROXIES: a number of proxies or a list of addresses.")
    if isinstance(value, str):
        value = value.strip()
        value = int(value) if value.isdigit() else [part for part in re.split(r"[\s,]+", value) if part]
    if isinstance(value, int):
        if value < 0:
            raise ImproperlyConfigured("TRIALDOCS_TRUSTED_PROXIES: the number of proxies cannot be negative.")
        return value
    networks = []
    for item in value or ():
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRIALDOCS_TRUSTED_PROXIES: {item!r} is neither an IP address nor a network.") from None
    return tuple(networks)


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted=None) -> str | None:
    """The client's address of a request that arrived from `remote_addr` with this `X-Forwarded-For`.

    Nothing trusted (the default): `remote_addr`, the header is ignored whatever it says, for any client can send it.
    A number N: every request comes through N proxies, each appending the address it received the request from, so
    the client is the N-th entry from the right (fewer entries: the request did not come through them, `remote_addr`).
    Addresses or networks: only when `remote_addr` is one of them is the header read, from the right, skipping the
    trusted proxies' own entries: the first (rightmost) untrusted entry is the client. What a client wrote on the
    left of that is never used; an entry that is not an address stops the walk at the last trusted hop.
    """
    trusted = trusted_proxies() if trusted is None else trusted
    entries = [part for part in (forwarded_for or "").split(",") if part.strip()]
    if isinstance(trusted, int):  # the proxy may reach the server through a Unix socket: no REMOTE_ADDR to check
        client = _parse_ip(entries[-trusted]) if 0 < trusted <= len(entries) else None
        return str(client) if client is not None else (remote_addr or None)
    current = _parse_ip(remote_addr or "")
    if current is None:
        return remote_addr or None
    while entries and _is_trusted(current, trusted):
        hop = _parse_ip(entries.pop())
        if hop is None:
            break
        current = hop
    return str(current)


class RequestIdMiddleware:
    """Give every request an id (kept from a well-formed `X-Request-ID`, else new) and echo it back.

    With trusted proxies configured (`TRIALDOCS_TRUSTED_PROXIES`), REMOTE_ADDR is replaced by the client's address
    (`client_address`) for the rest of the request (audit entries, the login throttle), the proxy's kept under
    `TRIALDOCS_PROXY_ADDR`; without, REMOTE_ADDR is left as the server gave it."""

    def __init__(self, get_response):
        self.get_response = get_response
        trusted_proxies()  # a malformed setting fails at start, not at the first request

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        if trusted_proxies():
            remote = request.META.get("REMOTE_ADDR")
            client = client_address(remote, request.META.get("HTTP_X_FORWARDED_FOR"))
            if client and client != remote:
                request.META[PROXY_ADDR_KEY] = remote
                request.META["REMOTE_ADDR"] = client
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


class RefuseNulMiddleware:
    """A NUL character in the address (path or query string) is a 400 with a message, before any view runs.

    No page takes one, PostgreSQL refuses it in any text (an error deep in a filter, hence a 500), and SQLite's
    full-text search stops at it. Form fields already refuse it (Django's `ProhibitNullCharactersValidator`);
    this covers every query parameter of the front end, the admin and its API at once."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any("\x00" in key or any("\x00" in value for value in values)
                                         for key, values in request.GET.lists()):
            if request.path.startswith("/fhir/"):  # the FHIR API answers with an OperationOutcome, never HTML
                from django.http import JsonResponse

                return JsonResponse({"resourceType": "OperationOutcome", "issue": [{
                    "severity": "error", "code": "invalid", "diagnostics": "NUL character in the request."}]},
                    status=400, content_type="application/fhir+json; charset=utf-8")
            from django.template.response import TemplateResponse

            response = TemplateResponse(request, "400.html", status=400)
            return response.render()
        return self.get_response(request)


def _csp_middleware_base():
    from csp.middleware import CSPMiddleware

    return CSPMiddleware


class ContentSecurityPolicyMiddleware(_csp_middleware_base()):
    """django-csp's middleware, with the admin's relaxations (`ADMIN_CSP_REPLACE`) under `ADMIN_CSP_PREFIXES`: the
    Wagtail admin's own templates hold inline scripts and styles; the front end keeps the strict policy."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if not report_only and request.path_info.startswith(tuple(settings.ADMIN_CSP_PREFIXES)):
            parts.replace = {**settings.ADMIN_CSP_REPLACE, **(parts.replace or {})}
        return parts


class StoredFilesMiddleware:
    """Stored files follow the request's transaction, and an unreachable object store is a 503, not a 500.

    After the view (and its ATOMIC_REQUESTS transaction): objects written for records that were then rolled back are
    deleted (`cms.files.discard_rolled_back`). A view that meets the object store down (`StoreUnavailable`, or a
    botocore error while reading) answers 503 with a message: its transaction rolled back, so nothing was written,
    and the next request tries the store again (no restart needed)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from cms.files import discard_rolled_back

        try:
            return self.get_response(request)
        finally:
            discard_rolled_back()

    def process_exception(self, request, exception):
        import logging

        from django.template.response import TemplateResponse

        from cms.files import StorageFailed, StoreUnavailable
        from cms.storage import is_unavailable

        if isinstance(exception, StorageFailed):
            message = StorageFailed.message
        elif isinstance(exception, StoreUnavailable) or is_unavailable(exception):
            message = StoreUnavailable.message
        else:
            return None
        logging.getLogger(__name__).error("File store unavailable during %s %s: %r", request.method, request.path,
                                          exception)
        response = TemplateResponse(request, "cms/store_unavailable.html", {"message": message}, status=503)
        response["Retry-After"] = "30"
        return response.render()
