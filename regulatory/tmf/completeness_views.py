"""TMF completeness: /tmf/<NCT number>/completeness/ (figures, chart per site, missing artifacts, CSV/XLSX export)
and /tmf/<NCT number>/completeness/settings/ (the sponsor's expected artifacts).

Readers are those of the TMF (`tmf.readable_trial`: sponsor, QA, an inspector inside their window, only for the
sites it covers, administrators); the settings are the sponsor's and administrators'
(`permissions.can_file_in_tmf`), anyone
else gets a 404. The rules live in `regulatory.tmf.completeness`.
"""

import csv
import importlib.util
import io
from itertools import groupby

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from cms.cells import csv_cell
from cms.feedback import form_errors
from regulatory import permissions, tmf
from regulatory.tmf import completeness as rules

# openpyxl is not a declared dependency: the XLSX export is offered only where it is installed.
XLSX_AVAILABLE = importlib.util.find_spec("openpyxl") is not None
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_MARKER = "expectations-form"


# --- Figures, chart, export -----------------------------------------------------------------------------------

def _chart(places, *, left: int = 150, width: int = 340) -> list[dict]:
    """One horizontal bar per site: filed then missing, as SVG coordinates (formatted here: the template would
    localise decimals, which SVG does not read)."""
    bars = []
    for index, place in enumerate(places):
        filed = width * place.filed / place.expected if place.expected else 0
        missing = width - filed if place.expected else 0
        bars.append({"place": place, "y": index * 36, "left": left, "filed_width": f"{filed:.1f}",
                     "missing_x": f"{left + filed:.1f}", "missing_width": f"{missing:.1f}",
                     "value_x": left + width + 10})
    return bars


def _export_rows(result) -> list[list]:
    yes, no = pgettext("tmf completeness", "yes"), pgettext("tmf completeness", "no")
    rows = [[
        pgettext("tmf completeness", "Place"), pgettext("tmf completeness", "Level"),
        pgettext("tmf completeness", "Artifact number"), pgettext("tmf completeness", "Artifact"),
        pgettext("tmf completeness", "Expected"), pgettext("tmf completeness", "Filed"),
        pgettext("tmf completeness", "Documents"), pgettext("tmf completeness", "Pending QC"),
    ]]
    for place in result.places:
        for row in place.rows:
            rows.append([place.label, place.level_label, row.artifact.number, row.artifact.name,
                         yes if row.expected else no, yes if row.filed else no, row.documents, row.pending])
    return rows


def _filename(trial, extension: str) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return f"tmf-completeness-{trial.nct_number}-{stamp}.{extension}"


def _csv(trial, result) -> HttpResponse:
    """UTF-8 with a byte-order mark (for Excel); every cell formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in _export_rows(result):
        writer.writerow([csv_cell(cell) for cell in row])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(trial, "csv")}"'
    return response


def _xlsx(trial, result) -> HttpResponse:
    """Typed cells: text as text cells (never a formula, no quote), counts and percentages as numbers."""
    from openpyxl import Workbook

    from regulatory.spreadsheets import append_row

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = pgettext("tmf completeness", "Completeness")[:31]
    for row in _export_rows(result):
        append_row(sheet, row)
    summary = workbook.create_sheet(pgettext("tmf completeness", "Summary")[:31])
    append_row(summary, [pgettext("tmf completeness", "Place"), pgettext("tmf completeness", "Level"),
                         pgettext("tmf completeness", "Expected"), pgettext("tmf completeness", "Filed"), "%"])
    for place in result.places:
        append_row(summary, [place.label, place.level_label, place.expected, place.filed,
                             float(place.percent) if place.percent is not None else None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(trial, "xlsx")}"'
    return response


@login_required
@require_http_methods(["GET", "HEAD"])
def completeness(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    result = rules.completeness(trial, request.user)
    export = request.GET.get("format", "")
    if export == "csv":
        return _csv(trial, result)
    if export == "xlsx":
        if not XLSX_AVAILABLE:
            raise Http404
        return _xlsx(trial, result)
    if export:
        raise Http404
    return TemplateResponse(request, "regulatory/tmf/completeness.html", {
        "trial": trial, "result": result, "chart": _chart(result.sites), "chart_height": 36 * len(result.sites) + 8,
        "can_file": permissions.can_file_in_tmf(request.user, trial), "xlsx": XLSX_AVAILABLE,
        "crumbs": [(pgettext("tmf completeness", "Completeness"), "")],
    })


# --- The sponsor's settings -----------------------------------------------------------------------------------

class ExpectationsForm(forms.Form):
    """The ticked boxes, `<artifact number>:<level>` each; checked against the Reference Model."""

    expected = forms.Field(required=False, widget=forms.MultipleHiddenInput)

    def clean(self):
        if FORM_MARKER not in self.data:
            raise ValidationError(_("The form arrived incomplete; nothing was saved."))
        try:
            self.cleaned_data["ticked"] = rules.parse_ticked(self.data.getlist("expected"))
        except ValidationError as error:
            raise ValidationError(error.messages) from None
        return self.cleaned_data


def _zones(settings) -> list[tuple]:
    return [(zone, list(items)) for zone, items in groupby(settings, key=lambda s: s.artifact.section.zone)]


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def completeness_settings(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    if not permissions.can_file_in_tmf(request.user, trial):
        raise Http404
    form = ExpectationsForm(request.POST if request.method == "POST" else None)
    ticked = None
    if request.method == "POST":
        if form.is_valid():
            try:
                changes = rules.expectations_save(actor=request.user, trial=trial,
                                                  ticked=form.cleaned_data["ticked"])
            except PermissionDenied as error:
                raise Http404 from error
            except ValidationError as error:
                form_errors(form, error)
            else:
                if changes:
                    count = len(changes)
                    messages.success(request, ngettext("The expected artifacts are saved (%(count)d change).",
                                                       "The expected artifacts are saved (%(count)d changes).",
                                                       count) % {"count": count})
                else:
                    messages.info(request, gettext("No change."))
                return HttpResponseRedirect(reverse("tmf_completeness", args=[trial.nct_number]))
        # Re-display what was ticked, leaving out what could not be read.
        ticked = {tuple(value.split(":", 1)) for value in request.POST.getlist("expected") if ":" in value}
    return TemplateResponse(request, "regulatory/tmf/completeness_settings.html", {
        "trial": trial, "form": form, "zones": _zones(rules.settings_of(trial, ticked=ticked)),
        "levels": [(level, rules.LEVEL_LABELS[level]) for level in rules.LEVELS], "marker": FORM_MARKER,
        "crumbs": [(pgettext("tmf completeness", "Completeness"), reverse("tmf_completeness", args=[trial.nct_number])),
                   (gettext("Expected artifacts"), "")],
    }, status=400 if form.errors else 200)
