"""Wagtail admin wiring: the sites viewset under the permission module, trial-page audit, page access."""

import json

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic import CreateView
from wagtail.log_actions import log
from wagtail.models import Page
from wagtail.permissions import register_permission_policy

from . import permissions, services
from .forms import AdminLoginForm, InvestigationalSiteForm  # noqa: F401  (AdminLoginForm: see settings)
from .middleware import refuse_page_action
from .models import InvestigationalSite, SignedApprovalTask, TrialPage
from .viewsets import ScopedEditView, ScopedModelViewSet

register_permission_policy(InvestigationalSite, permissions.InvestigationalSitePolicy(InvestigationalSite))

SITE_FIELDS = [name for name in InvestigationalSiteForm.Meta.fields if name not in ("trial",)]


class SiteCreateView(CreateView):
    def save_instance(self):
        data = self.form.cleaned_data
        site = services.site_create(actor=self.request.user, trial=data["trial"],
                                    **{name: data[name] for name in SITE_FIELDS})
        log(instance=site, action="wagtail.create", user=self.request.user)
        return site


class SiteEditView(ScopedEditView):
    def save_instance(self):
        data = self.form.cleaned_data
        editable = [name for name in SITE_FIELDS if name != "code"]
        site = services.site_update(actor=self.request.user, site=self.object,
                                    **{name: data[name] for name in editable})
        log(instance=site, action="wagtail.edit", user=self.request.user)
        return site


class InvestigationalSiteViewSet(ScopedModelViewSet):
    model = InvestigationalSite
    add_view_class = SiteCreateView
    edit_view_class = SiteEditView
    icon = "site"
    menu_label = _("Investigational sites")
    add_to_admin_menu = True
    menu_order = 210
    list_display = ["code", "name", "city", "trial", "status", "activation_date",
                    Column("is_demo", label=capfirst(_("demonstration site")),
                           accessor=lambda site: _("Yes") if site.is_demo else _("No"))]
    list_filter = ["status", "trial"]
    search_fields = ["code", "name", "city", "principal_investigator"]
    inspect_view_enabled = True
    name = "investigational_sites"

    def get_form_class(self, for_update=False):
        return InvestigationalSiteForm


@hooks.register("register_admin_viewset")
def register_site_viewset():
    return InvestigationalSiteViewSet()


@hooks.register("before_serve_page")
def require_login_and_trial_access(page, request, serve_args, serve_kwargs):
    """Every page needs a login; what lies in a trial needs the permission module's leave (404 otherwise)."""
    if not permissions.is_authenticated(request.user):
        return redirect_to_login(request.get_full_path())
    if not permissions.can_read_page(request.user, page):
        raise Http404
    return None


@hooks.register("construct_page_chooser_queryset")
def scope_page_chooser(pages, request):
    """Wagtail's page chooser (browse and search) lists every page of the tree: leave out the trials, and all that
    lies under them, that the user does not read trial-wide (the admin's users are sponsors, QA, administrators)."""
    user = request.user
    if permissions.is_administrator(user):
        return pages
    for trial in TrialPage.objects.exclude(pk__in=permissions.trials_read_trial_wide(user).values("pk")):
        pages = pages.not_descendant_of(trial, inclusive=True)
    return pages


@hooks.register("before_serve_document")
def require_document_access(document, request):
    """Private documents: served only to users the permission module allows; never under MEDIA_URL."""
    if not permissions.is_authenticated(request.user):
        return redirect_to_login(request.get_full_path())
    if not permissions.can_read_document(request.user, document):
        raise Http404
    return None


def _audit_page(verb):
    """Every page of a trial (the trial, its protocol versions, its correspondence) is audited on each save."""
    def hook(request, page):
        if TrialPage.objects.ancestor_of(page, inclusive=True).exists():
            services.page_revision_audit(actor=request.user, page=page, verb=verb)
    return hook


hooks.register("after_create_page", _audit_page("created"))
hooks.register("after_edit_page", _audit_page("changed"))
# Publication is audited from Wagtail's page_published signal (regulatory/receivers.py), which also covers
# workflow approvals and scheduled publishing.


def _reviewed_only(page) -> bool:
    """Versions (protocol, consent forms) go live only through the sponsor's review workflow, never by a direct
    publish: their page class says `published_by_review_only`."""
    return getattr(page.specific if page.pk else page, "published_by_review_only", False)


@hooks.register("construct_page_action_menu")
def hide_direct_publish_of_protocol_versions(menu_items, request, context):
    page, parent = context.get("page"), context.get("parent_page")
    creating_version = context.get("view") == "create" and parent is not None and any(
        getattr(model, "published_by_review_only", False) for model in parent.specific_class.allowed_subpage_models())
    if (page is not None and _reviewed_only(page)) or creating_version:
        menu_items[:] = [item for item in menu_items if item.name != "action-publish"]
    if page is not None and page.pk and not permissions.page_action_allowed(request.user, page, "cancel_workflow"):
        menu_items[:] = [item for item in menu_items if item.name != "action-cancel-workflow"]


def _refuse_publish_request(request, back_to):
    messages.error(request, _("A version is published by its review workflow: submit it for review."))
    return redirect(back_to)


@hooks.register("before_create_page")
def refuse_creating_a_published_protocol_version(request, parent_page, page_class):
    """Refused before anything is written (Wagtail would otherwise create the page already live)."""
    if request.method == "POST" and "action-publish" in request.POST and getattr(
            page_class, "published_by_review_only", False):
        return _refuse_publish_request(request, request.get_full_path())
    return None


@hooks.register("before_edit_page")
def refuse_publishing_a_protocol_version_from_the_editor(request, page):
    if request.method == "POST" and "action-publish" in request.POST and _reviewed_only(page):
        return _refuse_publish_request(request, request.get_full_path())
    return None


@hooks.register("before_edit_page")
def refuse_saving_a_frozen_version(request, page):
    """An approved version's editor is read-only (its frozen lock): a POST to it is refused with the reason, before
    Wagtail reads the form, and nothing is written."""
    if request.method == "POST" and getattr(page.specific_deferred, "is_frozen", False):
        messages.error(request, permissions.FROZEN)
        return redirect("wagtailadmin_pages:edit", page.pk)
    return None


@hooks.register("before_edit_page")
def refuse_cancelling_a_review_unless_allowed(request, page):
    """Cancelling a version's review is the sponsor's (or an administrator's), never QA's: refused with a message,
    nothing written."""
    if request.method == "POST" and "action-cancel-workflow" in request.POST:
        reason = permissions.page_action_refusal(request.user, page, "cancel_workflow")
        if reason is not None:
            return refuse_page_action(request, page, reason)
    return None


@hooks.register("before_publish_page")
def refuse_direct_publish_of_protocol_versions(request, page):
    if _reviewed_only(page):
        messages.error(request, _("A version is published by its review workflow: submit it for review."))
        return redirect("wagtailadmin_explore", page.get_parent().id)
    return None


@hooks.register("before_bulk_action")
def refuse_bulk_publish_of_protocol_versions(request, action_type, objects, action_class_instance):
    if action_type == "publish" and any(_reviewed_only(page) for page in objects):
        messages.error(request, _("A version is published by its review workflow: submit it for review."))
        return redirect("wagtailadmin_home")
    return None


BULK_PAGE_ACTIONS = {"delete": "delete", "move": "move", "unpublish": "unpublish"}


@hooks.register("before_bulk_action")
def refuse_bulk_page_actions_the_rules_refuse(request, action_type, objects, action_class_instance):
    """Bulk delete, move and unpublish: refused as a whole, with the reason, when the rules refuse any page."""
    action = BULK_PAGE_ACTIONS.get(action_type)
    if action is None or not all(isinstance(page, Page) for page in objects):
        return None
    # The pages asked for, not only those Wagtail kept (it silently drops the ones the page tester refuses).
    named = [pk for pk in request.GET.getlist("id") if pk.isdigit()]
    for page in [*objects, *Page.objects.filter(pk__in=named)]:
        reason = permissions.page_action_refusal(request.user, page, action)
        if reason is not None:
            messages.error(request, reason)
            return redirect("wagtailadmin_home")
    return None


@hooks.register("before_edit_page")
def sign_an_approval_from_the_editor(request, page):
    """The editor's "Sign the approval" posts the page's form with the signature typed in Wagtail's modal. Wagtail
    would save the form first (a new revision by the approver, who would then be one of its authors) and approve
    after: here the approval is signed instead, on the version as submitted, or refused with a message, and the
    form is not saved (the modal says so). Other workflow actions (request changes) go on as Wagtail does them."""
    if request.method != "POST" or not request.POST.get("action-workflow-action") or (
            request.POST.get("workflow-action-name") != "approve"):
        return None
    task_state = page.current_workflow_task_state
    if task_state is None or not isinstance(task_state.task.specific, SignedApprovalTask):
        return None
    try:
        extra = json.loads(request.POST.get("workflow-action-extra-data") or "{}")
    except ValueError:
        extra = {}
    extra = extra if isinstance(extra, dict) else {}
    try:
        signature = services.approval_sign(
            actor=request.user, task_state=task_state, username=str(extra.get("username", "")),
            password=str(extra.get("password", "")), comment=str(extra.get("comment", "")))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, signature.meaning)
    return redirect("wagtailadmin_pages:edit", page.pk)


@hooks.register("before_delete_page")
def refuse_trial_deletion(request, page):
    """A trial and its history are never deleted; a stopped trial takes the status Terminated or Withdrawn."""
    if permissions.holds_a_trial(page):
        messages.error(request, _("Trials and their documents are never deleted: change the trial's status."))
        return redirect("wagtailadmin_explore", page.get_parent().id)
    return None


@hooks.register("before_delete_user")
def refuse_user_deletion(request, user):
    """Accounts appear in the audit trail and are deactivated, never deleted."""
    messages.error(request, _("Accounts are never deleted, because the audit trail names them: deactivate it."))
    return redirect("wagtailusers_users:edit", user.pk)


@hooks.register("before_edit_user")
def remember_account_state(request, user):
    request._trialdocs_account_before = services.account_state(user)


@hooks.register("after_edit_user")
def audit_account_edit(request, user):
    before = getattr(request, "_trialdocs_account_before", {})
    services.account_audit(actor=request.user, user=user, before=before, action="account.changed")


@hooks.register("after_create_user")
def audit_account_creation(request, user):
    services.account_audit(actor=request.user, user=user, before={}, action="account.created")


# --- FHIR API tokens (listed and revoked by whoever manages the trial) ---------------------------------------------

@hooks.register("register_admin_urls")
def api_token_admin_urls():
    from django.urls import path

    from .api_token_views import api_tokens_view

    return [path("api-tokens/", api_tokens_view, name="api_tokens")]


class _ManagerMenuItem(MenuItem):
    def is_shown(self, request):
        return permissions.trials_managed(request.user).exists()


@hooks.register("register_admin_menu_item")
def api_tokens_menu_item():
    from django.urls import reverse

    return _ManagerMenuItem(_("Tokens of the FHIR API"), reverse("api_tokens"), icon_name="key", order=900)
