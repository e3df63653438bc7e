"""Inspectors: read-only everywhere, and every page they open and every file they download is audited."""

from django.http import HttpResponseForbidden
from django.template.loader import render_to_string
from django.urls import reverse

from regulatory import audit, permissions

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
NOT_AUDITED_PREFIXES = ("/static/", "/jsi18n/", "/healthz", "/favicon.ico")


def _allowed_posts() -> set[str]:
    """Posts an inspector may still make: they concern only their own session, or (verification of a PDF)
    read an uploaded file and store nothing."""
    return {reverse("logout"), reverse("set_language"), reverse("verify_pdf")}


def _is_download(response) -> bool:
    content_type = response.get("Content-Type", "")
    return (response.streaming or response.has_header("Content-Disposition")
            or not content_type.startswith(("text/html", "application/json")))


class InspectorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not permissions.is_inspector(user):
            return self.get_response(request)
        if request.method not in SAFE_METHODS and request.path not in _allowed_posts():
            self._record(request, "inspection.write_refused", status=403)
            return HttpResponseForbidden(render_to_string("regulatory/read_only.html", request=request))
        response = self.get_response(request)
        if not request.path.startswith(NOT_AUDITED_PREFIXES):
            action = "inspection.download" if _is_download(response) else "inspection.view"
            self._record(request, action, status=response.status_code, response=response)
        return response

    def _record(self, request, action: str, *, status: int, response=None) -> None:
        grant = permissions.active_grants(request.user).order_by("-starts_at").first()
        changes = {"method": [None, request.method], "path": [None, request.get_full_path()[:500]],
                   "status": [None, status]}
        if response is not None and response.has_header("Content-Disposition"):
            changes["file"] = [None, response["Content-Disposition"][:255]]
        audit.record(actor=request.user, action=action, obj=grant, object_repr=request.path[:255], changes=changes)
