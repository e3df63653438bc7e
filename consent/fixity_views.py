"""The fixity check from the web (/tmf/<NCT>/fixity/…): start one, download a run's CSV report. The last run shows
on the TMF home (regulatory/tmf/views.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent import tasks
from regulatory import audit, permissions, tmf
from regulatory.models import FixityRun


@login_required
@require_POST
def start(request, nct: str):
    trial = tmf.readable_trial(request.user, nct)
    try:
        tasks.start_fixity_check(actor=request.user, trial=trial)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The fixity check is under way; its result will show here."))
    return HttpResponseRedirect(reverse("tmf_home", args=[trial.nct_number]))


@login_required
def report(request, nct: str, pk: int):
    trial = tmf.readable_trial(request.user, nct)
    if not permissions.can_check_fixity(request.user, trial):
        raise PermissionDenied
    run = get_object_or_404(FixityRun, pk=pk, trial=trial)
    if not run.report:
        raise Http404
    try:
        handle = run.report.open("rb")
    except OSError as error:
        raise Http404 from error
    audit.record(actor=request.user, action="archive.fixity_report_downloaded", obj=run, trial=trial)
    return FileResponse(handle, as_attachment=True, filename=run.report.name.rsplit("/", 1)[-1],
                        content_type="text/csv; charset=utf-8")
