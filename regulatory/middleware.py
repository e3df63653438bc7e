"""Inspectors: read-only everywhere, and every page they open and every file they download is audited."""

from django.contrib import messages
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from wagtail.models import Page

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


APPROVAL_VIEWS = ("wagtailadmin_pages:workflow_action", "wagtailadmin_pages:collect_workflow_action_data")


class SignedApprovalMiddleware:
    """Wagtail's workflow action views answer an approval the step does not offer this user with a bare "no
    permission": for a signed approval step, say why instead (the approver wrote the version: four eyes; the step
    was already approved), and go back to the version. The decision is `permissions.approval_refusal`, through
    `services.approval_refusal_for`; nothing is written here but the refusal's audit entry."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = getattr(request, "resolver_match", None)
        if (match is None or match.view_name not in APPROVAL_VIEWS or view_kwargs.get("action_name") != "approve"
                or not permissions.is_authenticated(request.user)):
            return None
        from django.shortcuts import redirect
        from wagtail.admin import messages
        from wagtail.admin.modal_workflow import render_modal_workflow
        from wagtail.models import TaskState

        from regulatory import services
        from regulatory.models import SignedApprovalTask

        task_state = TaskState.objects.filter(pk=view_kwargs.get("task_state_id"),
                                              workflow_state__object_id=str(view_kwargs.get("page_id"))).first()
        if task_state is None or not isinstance(task_state.task.specific, SignedApprovalTask):
            return None
        if not permissions.can_moderate_approval_task(request.user, task_state.task.specific):
            return None  # not a reviewer of this step: Wagtail's own refusal
        refusal = services.approval_refusal_for(request.user, task_state)
        if refusal is None:
            return None
        page = task_state.workflow_state.content_object
        if request.method == "POST":
            audit.record(actor=request.user, action="approval.refused", obj=page, reason=refusal)
        messages.error(request, refusal)
        back = reverse("wagtailadmin_pages:edit", args=(page.pk,))
        if request.headers.get("x-requested-with") == "XMLHttpRequest":
            return render_modal_workflow(request, "", None, {}, json_data={"step": "success", "redirect": back})
        return redirect(back)


# Wagtail admin views of a page action → (the action, the URL argument naming the page).
PAGE_ACTION_VIEWS = {
    "wagtailadmin_pages:copy": ("copy", "page_id"),
    "wagtailadmin_pages:convert_alias": ("alias", "page_id"),
    "wagtailadmin_pages:move": ("move", "page_to_move_id"),
    "wagtailadmin_pages:move_confirm": ("move", "page_to_move_id"),
    "wagtailadmin_pages:set_page_position": ("move", "page_to_move_id"),
    "wagtailadmin_pages:delete": ("delete", "page_id"),
    "wagtailadmin_pages:unpublish": ("unpublish", "page_id"),
    "wagtailadmin_pages:set_privacy": ("privacy", "page_id"),
    "wagtailadmin_pages:revisions_revert": ("revert", "page_id"),
    "wagtailadmin_pages:lock": ("lock", "page_id"),
    "wagtailadmin_pages:unlock": ("unlock", "page_id"),
    "wagtailadmin_pages:confirm_workflow_cancellation": ("cancel_workflow", "page_id"),
}


class PageActionGuardMiddleware:
    """Wagtail's own page actions obey the product's rules: a page action that `permissions.page_action_refusal`
    refuses is answered, whether asked by GET or POST, with its reason as a message and a redirect to the page's
    place in the admin, before Wagtail's view runs (so nothing is written). The admin does not offer these actions
    in the first place (`permissions.TrialPagePermissionTester`); this answers a direct request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = getattr(request, "resolver_match", None)
        found = PAGE_ACTION_VIEWS.get(match.view_name if match else "")
        if found is None or not permissions.is_authenticated(request.user) or not permissions.can_use_admin(
                request.user):
            return None  # Wagtail's own login and access checks answer
        action, argument = found
        if action == "copy" and request.method == "POST" and request.POST.get("alias"):
            action = "alias"
        page = Page.objects.filter(pk=view_kwargs.get(argument)).first()
        if page is None:
            return None
        reason = permissions.page_action_refusal(request.user, page, action)
        if reason is None:
            return None
        return refuse_page_action(request, page, reason)


def refuse_page_action(request, page, reason):
    """The answer to a refused page action: its reason as a message, back to the page's place in the admin."""
    if request.headers.get("x-requested-with") == "XMLHttpRequest" or request.headers.get(
            "accept", "").startswith("application/json"):
        return JsonResponse({"success": False, "error_code": "refused", "error_message": str(reason)}, status=403)
    messages.error(request, reason)
    parent = page.get_parent()
    target = parent if parent is not None and parent.depth > 1 else page
    return redirect("wagtailadmin_explore", target.pk)
