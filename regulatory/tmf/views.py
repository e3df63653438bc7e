"""Browsing a trial's TMF: zone → section → artifact → documents, search, a document and its versions, its file;
filing by hand; the sponsor's inspection windows.

Readers: sponsor, QA, an inspector inside their window (only the sites it covers), administrators
(`tmf.readable_trial`). Site staff and anyone else get a 404. Writes (filing, windows) are the sponsor's.
"""

import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Q, Window
from django.db.models.functions import Lag
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from cms.feedback import error_messages, form_errors
from regulatory import permissions, tmf
from regulatory.audit_labels import action_label
from regulatory.forms import ModelMultipleChoiceField
from regulatory.models import (
    AuditEntry,
    FixityRun,
    InspectorGrant,
    TmfArtifact,
    TmfDocument,
    TmfLevel,
    TmfSection,
    TmfZone,
)
from regulatory.models.tmf import LISTING_ORDER
from regulatory.tmf import filing, inspection, qc, tallies, uploads
from regulatory.tmf import search as full_text
from regulatory.tmf.filing import content

PAGE_SIZE = 50
SEARCH_CAP = 250  # matches of a word search counted and ranked (5 pages); beyond, "more than", latest filed first
FILTERED_CAP = 10_000  # documents of a listing filtered by dates counted; beyond, "more than"


class FilterForm(forms.Form):
    q = forms.CharField(label=_("Words"), required=False, max_length=200)
    site = forms.ChoiceField(label=_("Site"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("Any status")), *TmfDocument.Status.choices])
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", _("Every level")), ("trial", _("Trial and country level")),
                                       *[(site.code, f"{site.code} — {site.name}") for site in sites]]

    def apply(self, documents):
        if not self.is_valid():
            return documents.none()
        data = self.cleaned_data
        if data["site"] == "trial":
            documents = documents.filter(site__isnull=True)
        elif data["site"]:
            documents = documents.filter(site__code=data["site"])
        if data["status"]:
            documents = documents.filter(status=data["status"])
        if data["date_from"]:
            documents = documents.filter(document_date__gte=data["date_from"])
        if data["date_to"]:
            documents = documents.filter(document_date__lte=data["date_to"])
        if data["q"].strip():
            documents = full_text.search(documents, data["q"])
        return documents


def _visible_sites(user, trial):
    return permissions.sites_accessible(user).filter(trial=trial).order_by("code")


def _context(request, trial, **extra):
    return {"trial": trial, "can_file": permissions.can_file_in_tmf(request.user, trial),
            "sees_qc": permissions.sees_tmf_qc_pending(request.user, trial), **extra}


def _listing(request, trial, documents, template: str, *, counted: dict, **extra):
    """A page of documents with the filter form. `counted`: the lookups `documents` has beyond what the user reads
    (the artifact), for its count from the running counts (`tallies.document_total`)."""
    form = FilterForm(request.GET or None, sites=_visible_sites(request.user, trial))
    # The rows show the artifact's number and the site's code: no section, zone nor long texts read for 50 rows.
    documents = documents.select_related(None).select_related("artifact", "site").defer(
        "search_text", "artifact__definition")
    if request.GET:
        documents = form.apply(documents)
    page, capped = _page(request.user, trial, form, documents, counted, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return TemplateResponse(request, template, _context(request, trial, form=form, page=page, capped=capped,
                                                          query=query.urlencode(), **extra))


def _page(user, trial, form, documents, counted: dict, number):
    """One page of a listing, and the cap of its count (None when exact).

    The count (issue 19, 10^6 documents): read from the running counts when the listing is filtered by site and
    status at most; counted up to `FILTERED_CAP` documents when filtered by dates, up to `SEARCH_CAP` with words
    (the page then says "more than"). A ranked search (`search.search` on PostgreSQL) must rank every match before
    it knows the page: it does so up to `SEARCH_CAP` matches, paging over the matches' ids alone (narrow rows, no
    joins but the artifact it sorts on), then reads the page's documents with their artifact and site in a
    second query; beyond, the matches are listed most recently filed first (not ranked), and the page says so."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    words = (data.get("q") or "").strip()
    if form.is_bound and not form.is_valid():
        return Paginator(documents, PAGE_SIZE).get_page(number), None
    if not words and not data.get("date_from") and not data.get("date_to"):
        filters = dict(counted)
        if data.get("site") == "trial":
            filters["site__isnull"] = True
        elif data.get("site"):
            filters["site__code"] = data["site"]
        if data.get("status"):
            filters["status"] = data["status"]
        count = tallies.document_total(user, trial, **filters)
        return tallies.CountedPaginator(documents, PAGE_SIZE, count=count).get_page(number), None
    cap = SEARCH_CAP if words else FILTERED_CAP
    found = documents.order_by().values("pk")[:cap + 1].count()
    capped = cap if found > cap else None
    if capped:
        documents = documents.order_by("-pk")  # most recently filed first: read backwards in the primary key
    if "search_rank" not in documents.query.annotations:
        return tallies.CountedPaginator(documents, PAGE_SIZE, count=capped or found).get_page(number), capped
    page = tallies.CountedPaginator(documents.values_list("pk", flat=True), PAGE_SIZE,
                                    count=capped or found).get_page(number)
    ids = list(page.object_list)
    in_page = documents.order_by().in_bulk(ids)
    page.object_list = [in_page[pk] for pk in ids]
    return page, capped


@login_required
def home(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    # Counted per artifact and summed per zone here: from the running counts (a few hundred rows whatever the number
    # of documents, issue 19), or on SQLite from the documents.
    per_artifact = dict(tallies.document_counts(request.user, trial, ("artifact_id",)))
    zone_of = dict(TmfArtifact.objects.values_list("pk", "section__zone__number"))
    counts: dict[str, int] = {}
    for artifact_id, n in per_artifact.items():
        counts[zone_of[artifact_id]] = counts.get(zone_of[artifact_id], 0) + n
    zones = [(zone, counts.get(zone.number, 0)) for zone in TmfZone.objects.all()]
    can_check_fixity = permissions.can_check_fixity(request.user, trial)
    return TemplateResponse(request, "regulatory/tmf/home.html", _context(
        request, trial, zones=zones, form=FilterForm(sites=_visible_sites(request.user, trial)),
        total=sum(counts.values()), can_check_fixity=can_check_fixity,
        last_fixity=FixityRun.objects.filter(trial=trial).first() if can_check_fixity else None))


@login_required
def zone(request, nct: str, zone: str):
    trial = tmf.readable_trial(request.user, nct)
    zone = get_object_or_404(TmfZone, number=zone)
    counts = dict(tallies.document_counts(request.user, trial, ("artifact_id",), artifact__section__zone=zone))
    sections = [(section, [(artifact, counts.get(artifact.pk, 0)) for artifact in section.artifacts.all()])
                for section in TmfSection.objects.filter(zone=zone).prefetch_related("artifacts")]
    return TemplateResponse(request, "regulatory/tmf/zone.html", _context(request, trial, zone=zone,
                                                                         sections=sections))


@login_required
def artifact(request, nct: str, number: str):
    trial = tmf.readable_trial(request.user, nct)
    artifact = get_object_or_404(TmfArtifact.objects.select_related("section__zone"), number=number)
    # In the order of the index tmf_listing_order_idx: a page is read from it, never sorted (bench/tmf_scale.py).
    documents = (permissions.tmf_documents_visible(request.user, trial).filter(artifact=artifact)
                 .order_by(*LISTING_ORDER))
    return _listing(request, trial, documents, "regulatory/tmf/artifact.html", counted={"artifact": artifact},
                    artifact=artifact)


@login_required
def search(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    documents = permissions.tmf_documents_visible(request.user, trial).order_by(*_reference_order())
    return _listing(request, trial, documents, "regulatory/tmf/search.html", counted={})


def _reference_order() -> tuple[str, ...]:
    """The search page's order without words: the Reference Model's (artifact number), then the artifact page's
    (LISTING_ORDER). Migration 0005 loads the artifacts in number order, so their ids follow their numbers: ordered
    by the artifact's id, a page is read from tmf_listing_order_idx (50 rows), where ordering by the number through
    the join sorts the whole first artifact's documents (8.9 ms at 10^6 documents, bench/RESULTS.md (h)). Checked
    on each request (one query over the 250 artifacts): a model loaded otherwise costs time, never the order."""
    previous = Window(Lag("number"), order_by=F("pk").asc())
    out_of_order = TmfArtifact.objects.annotate(previous=previous).filter(previous__gt=F("number")).exists()
    return ("artifact__number" if out_of_order else "artifact_id", *LISTING_ORDER)


def _document(request, nct: str, pk: int) -> TmfDocument:
    trial = tmf.readable_trial(request.user, nct)
    return get_object_or_404(permissions.tmf_documents_visible(request.user, trial), pk=pk)


@login_required
def document(request, nct: str, pk: int):
    document = _document(request, nct, pk)
    trial = document.trial
    versions = (permissions.tmf_documents_visible(request.user, trial)
                .filter(series=document.series, site=document.site)
                if document.series else TmfDocument.objects.filter(pk=document.pk))
    history = AuditEntry.objects.filter(
        Q(object_type="regulatory.tmfdocument", object_id=str(document.pk))
        | (Q(object_type=document.source_type, object_id=document.source_id) if document.source_type else Q(pk=None))
    ).order_by("sequence")
    history = list(history)
    for entry in history:
        entry.label = action_label(entry.action)
    can_qc = permissions.can_qc_tmf(request.user, trial)
    return TemplateResponse(request, "regulatory/tmf/document.html", _context(
        request, trial, document=document, versions=versions.order_by("-document_date", "-pk"), history=history,
        is_pdf=filing.shows_as_pdf(document), qc_issues=document.qc_issues.select_related("raised_by", "closed_by"),
        can_qc=can_qc, qc_refusal=permissions.tmf_qc_refusal(request.user, document) if can_qc else None,
        categories=qc.qc_categories()))


@login_required
def document_file(request, nct: str, pk: int, inline: bool):
    document = _document(request, nct, pk)
    try:
        data = content(document)
    except (OSError, LookupError) as error:
        raise Http404 from error
    response = FileResponse(io.BytesIO(data.data), content_type=data.content_type, filename=data.filename,
                            as_attachment=not inline)
    if inline:
        response["X-Frame-Options"] = "SAMEORIGIN"  # shown in the document page's frame
    return response


# --- Filing by hand -------------------------------------------------------------------------------------------

class UploadForm(forms.Form):
    artifact = forms.ModelChoiceField(label=_("Artifact"), queryset=TmfArtifact.objects.select_related("section"))
    level = forms.ChoiceField(label=_("Level"), choices=TmfLevel.choices)
    site = forms.ModelChoiceField(label=_("Site"), required=False, queryset=None)
    country = forms.CharField(label=_("Country"), required=False, max_length=2, initial="FR",
                              help_text=_("Two-letter ISO code, for country-level documents."))
    title = forms.CharField(label=_("Title"), max_length=255)
    document_date = forms.DateField(label=_("Document date"), widget=forms.DateInput(attrs={"type": "date"}))
    version = forms.CharField(label=_("Version"), max_length=20, required=False)
    status = forms.ChoiceField(label=_("Status"), choices=TmfDocument.Status.choices,
                               initial=TmfDocument.Status.CURRENT)
    replaces = forms.ModelChoiceField(label=_("New version of"), required=False, queryset=None,
                                      help_text=_("The filed document this one supersedes, if any."))
    file = forms.FileField(label=_("File"))

    def __init__(self, *args, trial, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = trial.sites.order_by("code")
        self.fields["replaces"].queryset = TmfDocument.objects.filter(trial=trial, source_type="").exclude(
            status=TmfDocument.Status.SUPERSEDED).order_by("artifact__number", "title")

    def clean_document_date(self):
        value = self.cleaned_data["document_date"]
        if value.year < 1900:  # a typing slip (0001 for 2001), never an essential document's date
            raise ValidationError(forms.DateField.default_error_messages["invalid"], code="invalid")
        return value


@login_required
def upload(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    if not permissions.can_file_in_tmf(request.user, trial):
        raise Http404
    form = UploadForm(request.POST or None, request.FILES or None, trial=trial)
    if request.method == "POST" and form.is_valid():
        try:
            document = uploads.file_upload(actor=request.user, trial=trial, **form.cleaned_data)
        except ValidationError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("The document is filed."))
            return HttpResponseRedirect(reverse("tmf_document", args=[trial.nct_number, document.pk]))
    return TemplateResponse(request, "regulatory/tmf/upload.html", _context(request, trial, form=form),
                            status=400 if form.errors else 200)


# --- Inspection windows -------------------------------------------------------------------------------------

class GrantForm(forms.Form):
    inspector = forms.ModelChoiceField(label=_("Inspector account"), queryset=None)
    sites = ModelMultipleChoiceField(label=_("Sites"), required=False, queryset=None,
                                     widget=forms.CheckboxSelectMultiple,
                                     help_text=_("None ticked: every site of the trial."))
    starts_at = forms.DateTimeField(label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    purpose = forms.CharField(label=_("Purpose"), max_length=200, required=False)

    def __init__(self, *args, trial, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inspector"].queryset = inspection.inspector_candidates(trial)
        self.fields["sites"].queryset = inspection.sites_for(trial)


def _manager_trial(request, nct):
    trial = tmf.readable_trial(request.user, nct)
    if not permissions.can_manage_trial(request.user, trial):
        raise Http404
    return trial


@login_required
def inspections(request, nct: str):
    trial = _manager_trial(request, nct)
    form = GrantForm(request.POST or None, trial=trial)
    if request.method == "POST" and form.is_valid():
        try:
            inspection.grant_create(actor=request.user, trial=trial, **form.cleaned_data)
        except ValidationError as error:
            form_errors(form, error)
        except PermissionDenied as error:
            raise Http404 from error
        else:
            messages.success(request, _("The inspection window is open to the inspector."))
            return HttpResponseRedirect(reverse("tmf_inspections", args=[trial.nct_number]))
    grants = InspectorGrant.objects.filter(trial=trial).select_related("inspector", "granted_by", "revoked_by")
    return TemplateResponse(request, "regulatory/tmf/inspections.html", _context(
        request, trial, form=form, grants=grants.prefetch_related("sites"), now=timezone.now()),
        status=400 if form.errors else 200)


@login_required
@require_POST
def inspection_close(request, nct: str, pk: int):
    trial = _manager_trial(request, nct)
    grant = get_object_or_404(InspectorGrant, trial=trial, pk=pk)
    try:
        inspection.grant_revoke(actor=request.user, grant=grant, reason=request.POST.get("reason", ""))
    except ValidationError as error:
        error_messages(request, error)
    else:
        messages.success(request, _("The inspection window is closed."))
    return HttpResponseRedirect(reverse("tmf_inspections", args=[trial.nct_number]))
