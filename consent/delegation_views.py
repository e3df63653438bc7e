"""The site's delegation log (written and signed by its principal investigator, acknowledged by each staff member)
and its investigator site file (ISF). Who may do what: `regulatory.permissions`."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from cms.feedback import error_messages
from regulatory import permissions
from regulatory.models import DelegationEntry, DelegationLogPrint
from regulatory.selectors import site_for_user
from regulatory.tmf import filing

from . import isf, services
from .forms import DelegationEntryForm, SignatureForm
from .services.delegation import staff_choices
from .site_pages import site_or_404, subpage_url


def _site(request, trial, code):
    site = site_or_404(request, trial, code)
    if not permissions.can_read_delegation_log(request.user, site):
        raise Http404
    return site


def delegation_log(request, *, trial, code: str):
    site = _site(request, trial, code)
    keeps = permissions.can_keep_delegation_log(request.user, site)
    form = None
    if keeps:
        form = DelegationEntryForm(request.POST if request.method == "POST" else None, staff=staff_choices(site))
    elif request.method == "POST":
        # Not the principal investigator: the service refuses (and audits it) with the reason; nothing is written.
        form = DelegationEntryForm(request.POST, staff=staff_choices(site))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = services.delegation_entry_create(
                    actor=request.user, site=site, staff=data["staff"], tasks=data["tasks"],
                    start_date=data["start_date"], end_date=data["end_date"], username=data["username"],
                    password=data["password"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, entry.meaning)
                return HttpResponseRedirect(subpage_url(trial, "delegation_log", site.code.lower()))
        status = 400
        if not keeps:
            for message in form.non_field_errors():
                messages.error(request, message)
            form = None
    entries = list(DelegationEntry.objects.filter(site=site).select_related("staff").order_by("signed_at", "pk"))
    return TemplateResponse(request, "consent/delegation_log.html", {
        "page": trial, "trial": trial, "site": site, "entries": entries, "form": form, "keeps": keeps,
        "latest": DelegationLogPrint.objects.filter(site=site).order_by("-number").first(),
        "ack_form": SignatureForm(), "pi": site.principal_investigator_account,
    }, status=status)


@require_POST
def delegation_acknowledge(request, *, trial, code: str, entry_id: int):
    site = _site(request, trial, code)
    entry = get_object_or_404(DelegationEntry, pk=entry_id, site=site)
    form = SignatureForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type your user name and your password to sign."))
    else:
        try:
            entry = services.delegation_acknowledge(actor=request.user, entry=entry, **form.cleaned_data)
        except ValidationError as error:
            error_messages(request, error)
        else:
            messages.success(request, entry.acknowledgement_meaning)
    return HttpResponseRedirect(subpage_url(trial, "delegation_log", site.code.lower()))


@require_safe
def delegation_pdf(request, *, trial, code: str, number: int):
    site = _site(request, trial, code)
    log = get_object_or_404(DelegationLogPrint, site=site, number=number)
    response = FileResponse(log.file.open("rb"), content_type="application/pdf", as_attachment=True,
                            filename=f"registre-delegation-{site.code}-v{log.number}.pdf")
    response["X-Content-SHA256"] = log.sha256
    return response


def _isf_site(request, trial, code):
    site = site_for_user(user=request.user, trial=trial, code=code)
    if site is None or not permissions.can_read_isf(request.user, site):
        raise Http404
    return site


@require_safe
def isf_view(request, *, trial, code: str):
    """The binder: each section's count and newest documents; `?section=<slug>&page=N`: a page of one section."""
    site = _isf_site(request, trial, code)
    context = {"page": trial, "trial": trial, "site": site,
               "isf_url": subpage_url(trial, "isf", site.code.lower())}
    slug = request.GET.get("section")
    if slug is None:
        return TemplateResponse(request, "consent/isf.html", {**context, "binder": isf.binder(site, trial)})
    asked = request.GET.get("page", "1")
    section, listing = isf.section_page(site, slug, asked, trial)
    if section is None:
        raise Http404(_("The investigator site file has no such section."))
    return TemplateResponse(request, "consent/isf_section.html", {
        **context, "section": section, "listing": listing,
        "asked": None if asked.strip() == str(listing.number) else asked})


@require_safe
def isf_document(request, *, trial, code: str, document_id: int):
    site = _isf_site(request, trial, code)
    document = get_object_or_404(isf.documents(site), pk=document_id)
    content = filing.content(document)
    response = HttpResponse(content.data, content_type=content.content_type)
    response["Content-Disposition"] = content_disposition_header(True, content.filename)
    return response


@require_safe
def isf_export(request, *, trial, code: str):
    site = _isf_site(request, trial, code)
    handle, sha256 = isf.export_to_temporary_file(site, user=request.user)
    response = FileResponse(handle, as_attachment=True, filename=isf.download_name(site),
                            content_type="application/zip")
    response["X-Content-SHA256"] = sha256
    return response

