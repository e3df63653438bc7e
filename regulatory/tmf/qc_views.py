"""Quality control of the TMF and the trial's milestones:

- /tmf/<NCT>/qc/: the documents pending QC, the QC metrics (trial, countries, sites), a chart, CSV/XLSX export;
- /tmf/<NCT>/documents/<pk>/qc/: approve or reject (POST) — `permissions.tmf_qc_refusal` decides;
- /tmf/<NCT>/qc/settings/: the sponsor's TMF settings (QC of automatic filings, timeliness, activation gate);
- /tmf/<NCT>/milestones/: the trial's milestones with what each requires, and the sponsor's form to define them.

The QC pages are the sponsor side's (`permissions.sees_tmf_qc_pending`); milestones are read by every TMF reader
(an inspector sees QC-approved documents only, and the sites of the window); writes go through
`regulatory.tmf.qc`.
"""

import csv
import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from cms.cells import csv_cell
from cms.feedback import error_messages, form_errors
from regulatory import permissions, tmf
from regulatory.models import QcStatus, TmfArtifact, TmfLevel, TmfMilestone, TmfQcIssue, TrialMilestone
from regulatory.tmf import milestones as milestone_reads
from regulatory.tmf import qc as qc_writes
from regulatory.tmf import qc_metrics
from regulatory.tmf.completeness_views import XLSX_TYPE
from regulatory.tmf.tallies import CountedPaginator

CHART_LEFT, CHART_WIDTH = 170, 320
LIST_SIZE = 50  # documents pending QC, open QC issues: a page at a time


def _sponsor_side(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    if not permissions.sees_tmf_qc_pending(request.user, trial):
        raise Http404
    return trial


def _chart(result) -> list[dict]:
    """Rejections per category over the whole trial, one horizontal bar each (coordinates formatted here: the
    template would localise decimals, which SVG does not read)."""
    overall = result.overall
    top = max([overall.rejections.get(code, 0) for code in result.categories] + [1])
    bars = []
    for index, (code, label) in enumerate(result.categories.items()):
        count = overall.rejections.get(code, 0)
        bars.append({"label": label, "count": count, "rate": overall.rate(code), "y": index * 30,
                     "left": CHART_LEFT, "width": f"{CHART_WIDTH * count / top:.1f}",
                     "value_x": CHART_LEFT + CHART_WIDTH + 10})
    return bars


def _filename(trial, extension: str) -> str:
    return f"tmf-qc-{trial.nct_number}-{timezone.localtime():%Y%m%d-%H%M%S}.{extension}"


def _export(trial, result, fmt: str) -> HttpResponse:
    rows = qc_metrics.export_rows(result)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow([csv_cell("" if cell is None else cell) for cell in row])
        response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"),
                                content_type="text/csv; charset=utf-8")
    else:
        from openpyxl import Workbook

        from regulatory.spreadsheets import append_row

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = pgettext("qc metrics", "QC metrics")[:31]
        for row in rows:
            append_row(sheet, row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(trial, fmt)}"'
    return response


@login_required
@require_http_methods(["GET", "HEAD"])
def qc(request, nct: str):
    trial = _sponsor_side(request, nct)
    result = qc_metrics.report(request.user, trial)
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "xlsx"):
        return _export(trial, result, fmt)
    if fmt:
        raise Http404
    # Both lists a page at a time, in the order of their partial indexes (tmf_pending_qc_idx, tmf_open_qc_issue_idx),
    # counted by the metrics (issue 19: 30,000 documents pending and 10,000 open issues at 10^6 documents).
    scope = result.scope
    pending = (permissions.tmf_documents_visible(request.user, trial).filter(qc_status=QcStatus.PENDING)
               .select_related(None).select_related("artifact", "site", "filed_by")
               .defer("search_text", "artifact__definition").order_by("filed_at", "pk"))
    issues = (TmfQcIssue.objects.filter(closed_at__isnull=True, document__trial=trial)
              .select_related("document__qc_by").defer("document__search_text").order_by("-raised_at", "-pk"))
    if scope.sites is not None:
        issues = issues.filter(Q(document__site__isnull=True) | Q(document__site__in=scope.sites))
    chart = _chart(result)
    return TemplateResponse(request, "regulatory/tmf/qc.html", {
        "trial": trial, "result": result, "pending_count": result.overall.pending,
        "pending": CountedPaginator(pending, LIST_SIZE, count=result.overall.pending).get_page(
            request.GET.get("pending_page")),
        "issues": CountedPaginator(issues, LIST_SIZE, count=result.overall.open_issues).get_page(
            request.GET.get("issues_page")),
        "chart": chart, "chart_height": 30 * len(chart) + 6,
        "can_qc": permissions.can_qc_tmf(request.user, trial),
        "can_manage": permissions.can_manage_trial(request.user, trial),
        "categories": qc_writes.qc_categories(), "crumbs": [(gettext("Quality control"), "")],
    })


@login_required
@require_POST
def qc_decide(request, nct: str, pk: int):
    trial = _sponsor_side(request, nct)
    if not permissions.can_qc_tmf(request.user, trial):
        raise Http404
    document = get_object_or_404(permissions.tmf_documents_visible(request.user, trial), pk=pk)
    decision = request.POST.get("decision", "")
    try:
        if decision == "approve":
            qc_writes.qc_approve(actor=request.user, document=document)
            messages.success(request, gettext("The document is QC-approved."))
        elif decision == "reject":
            qc_writes.qc_reject(actor=request.user, document=document, category=request.POST.get("category", ""),
                             comment=request.POST.get("comment", ""))
            messages.success(request, gettext("The document is rejected at QC; its QC issue is open until a new "
                                              "version is filed."))
        else:
            messages.error(request, gettext("Choose to approve or to reject the document. Nothing was changed."))
    except (ValidationError, PermissionDenied) as error:
        error_messages(request, error)
        return HttpResponseRedirect(reverse("tmf_document", args=[trial.nct_number, document.pk]))
    next_url = reverse("tmf_qc", args=[trial.nct_number]) if request.POST.get("next") == "qc" else reverse(
        "tmf_document", args=[trial.nct_number, document.pk])
    return HttpResponseRedirect(next_url)


class SettingsForm(forms.Form):
    qc_automatic = forms.BooleanField(label=_("QC of automatically filed documents"), required=False)
    timeliness_days = forms.IntegerField(label=_("Timeliness (days)"), min_value=0, max_value=3650,
                                         help_text=_("A document is filed on time when filed within this many days "
                                                     "of its date."))
    activation_gate = forms.BooleanField(
        label=_("Refuse effectiveness at a site whose activation documents are missing"), required=False)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def qc_settings(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    if not permissions.can_manage_trial(request.user, trial):
        raise Http404
    current = qc_writes.settings_of(trial)
    form = SettingsForm(request.POST or None, initial={
        "qc_automatic": current.qc_automatic, "timeliness_days": current.timeliness_days,
        "activation_gate": current.activation_gate})
    if request.method == "POST" and form.is_valid():
        try:
            qc_writes.settings_save(actor=request.user, trial=trial, **form.cleaned_data)
        except ValidationError as error:
            form_errors(form, error)
        else:
            messages.success(request, gettext("The TMF settings are saved."))
            return HttpResponseRedirect(reverse("tmf_qc", args=[trial.nct_number]))
    return TemplateResponse(request, "regulatory/tmf/qc_settings.html", {
        "trial": trial, "form": form,
        "crumbs": [(gettext("Quality control"), reverse("tmf_qc", args=[trial.nct_number])),
                   (gettext("TMF settings"), "")],
    }, status=400 if form.errors else 200)


# --- Milestones -----------------------------------------------------------------------------------------------

class MilestoneForm(forms.Form):
    reference = forms.ModelChoiceField(label=_("Reference Model milestone"), queryset=TmfMilestone.objects.all())
    level = forms.ChoiceField(label=_("Level"), choices=TmfLevel.choices)
    site = forms.ModelChoiceField(label=_("Site"), required=False, queryset=None)
    country = forms.CharField(label=_("Country"), required=False, max_length=2,
                              help_text=_("Two-letter ISO code, for a country-level milestone."))
    name = forms.CharField(label=_("Name"), required=False, max_length=120,
                           help_text=_("Left empty: the Reference Model's name and the place."))
    planned_date = forms.DateField(label=_("Planned date"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    actual_date = forms.DateField(label=_("Actual date"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
    artifacts = forms.CharField(
        label=_("Required artifacts"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Artifact numbers (02.01.02 …), separated by spaces or commas. Left empty on a new milestone: "
                    "the Core artifacts the Reference Model expects by this milestone at this level."))

    def __init__(self, *args, trial, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = trial.sites.order_by("code")

    def clean_artifacts(self):
        numbers = [n for n in self.cleaned_data["artifacts"].replace(",", " ").split() if n]
        if not numbers:
            return None
        found = {a.number: a for a in TmfArtifact.objects.filter(number__in=numbers)}
        unknown = [n for n in numbers if n not in found]
        if unknown:
            raise ValidationError(_("Unknown TMF artifact: %(numbers)s.") % {"numbers": ", ".join(unknown)})
        return [found[n] for n in dict.fromkeys(numbers)]


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def milestones(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    can_manage = permissions.can_manage_trial(request.user, trial)
    editing = None
    if request.GET.get("edit") and can_manage:
        editing = get_object_or_404(TrialMilestone, trial=trial, pk=request.GET["edit"])
    if request.method == "POST":
        if not can_manage:
            raise Http404
        if request.POST.get("milestone"):
            editing = get_object_or_404(TrialMilestone, trial=trial, pk=request.POST["milestone"])
    initial = {}
    if editing is not None:
        initial = {"reference": editing.reference_id, "level": editing.level, "site": editing.site_id,
                   "country": editing.country, "name": editing.name, "planned_date": editing.planned_date,
                   "actual_date": editing.actual_date,
                   "artifacts": " ".join(editing.artifacts.values_list("number", flat=True))}
    form = MilestoneForm(request.POST or None, trial=trial, initial=initial) if can_manage else None
    if request.method == "POST" and form.is_valid():
        try:
            qc_writes.milestone_save(actor=request.user, trial=trial, milestone=editing, **form.cleaned_data)
        except ValidationError as error:
            form_errors(form, error)
        else:
            messages.success(request, gettext("The milestone is saved."))
            return HttpResponseRedirect(reverse("tmf_milestones", args=[trial.nct_number]))
    return TemplateResponse(request, "regulatory/tmf/milestones.html", {
        "trial": trial, "statuses": milestone_reads.milestones_for(request.user, trial), "form": form,
        "editing": editing, "can_manage": can_manage, "references": TmfMilestone.objects.all(),
        "crumbs": [(gettext("Milestones"), "")],
    }, status=400 if form is not None and form.errors else 200)
