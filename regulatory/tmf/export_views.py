"""Exports of a trial's whole TMF as an eTMF-EMS package, run in the background: /tmf/<NCT>/exports/…

Who: the list and the progress are for whoever reads the trial's TMF (`tmf.readable_trial`; anyone else gets a
404); starting an export is the sponsor's or an administrator's
(`permissions.can_file_in_tmf`; other readers get a 403, and
inspectors' posts are refused by their middleware anyway); a package holds every site's documents, so only a
reader who sees every site of the trial downloads it, and, when it holds documents QC had not approved, only the
sponsor's side (`permissions.tmf_package_holds_unapproved`).
"""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from regulatory import audit, permissions, tasks, tmf
from regulatory.models import TmfExportJob

RECENT = 20
STATE_LABELS = {
    TmfExportJob.State.QUEUED: pgettext_lazy("TMF export state", "Queued"),
    TmfExportJob.State.RUNNING: pgettext_lazy("TMF export state", "Running"),
    TmfExportJob.State.DONE: pgettext_lazy("TMF export state", "Done"),
    TmfExportJob.State.FAILED: pgettext_lazy("TMF export state", "Failed"),
}


STALLED_LABEL = pgettext_lazy("TMF export state", "Stalled")


def _trial(request, nct: str):
    return tmf.readable_trial(request.user, nct)


def sees_every_site(user, trial) -> bool:
    visible = permissions.sites_accessible(user).filter(trial=trial).count()
    return visible == trial.sites.count()


def _job(request, nct: str, pk: int) -> TmfExportJob:
    trial = _trial(request, nct)
    return get_object_or_404(TmfExportJob.objects.select_related("trial", "requested_by"), pk=pk, trial=trial)


def _status(job: TmfExportJob) -> dict:
    return {"state": "stalled" if job.stalled else job.state, "done": job.done, "total": job.total,
            "percent": job.percent,
            "label": str(STALLED_LABEL if job.stalled else STATE_LABELS.get(job.state, job.state))}


@require_http_methods(["GET", "HEAD", "POST"])
def exports(request, nct: str):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    trial = _trial(request, nct)
    can_start = permissions.can_file_in_tmf(request.user, trial)
    if request.method == "POST":
        if not can_start:
            raise PermissionDenied
        try:
            tasks.start_export(actor=request.user, trial=trial)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("The export has started; the package will be ready to download here."))
        return HttpResponseRedirect(reverse("tmf_exports", args=[trial.nct_number]))
    jobs = list(TmfExportJob.objects.filter(trial=trial).select_related("requested_by")[:RECENT])
    for job in jobs:
        job.state_label = STALLED_LABEL if job.stalled else STATE_LABELS.get(job.state, job.state)
    return TemplateResponse(request, "regulatory/tmf/exports.html", {
        "trial": trial, "jobs": jobs, "can_start": can_start,
        "can_download": sees_every_site(request.user, trial),
        "running": [job.pk for job in jobs
                    if job.state in (TmfExportJob.State.QUEUED, TmfExportJob.State.RUNNING) and not job.stalled],
    })


@require_GET
def export_status(request, nct: str, pk: int):
    if not request.user.is_authenticated:
        raise Http404
    response = JsonResponse(_status(_job(request, nct, pk)))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def export_download(request, nct: str, pk: int):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    job = _job(request, nct, pk)
    if not sees_every_site(request.user, job.trial):
        raise PermissionDenied
    if permissions.tmf_package_holds_unapproved(request.user, job):  # inspectors read QC-approved documents only
        raise PermissionDenied
    if job.state != TmfExportJob.State.DONE or not job.file:
        raise Http404
    try:
        handle = job.file.open("rb")
    except OSError as error:
        raise Http404 from error
    audit.record(actor=request.user, action="tmf.package_downloaded", obj=job,
                 changes={"sha256": [None, job.sha256], "file": [None, job.file.name.rsplit("/", 1)[-1]]})
    return FileResponse(handle, as_attachment=True, filename=job.file.name.rsplit("/", 1)[-1],
                        content_type="application/zip")


@require_http_methods(["POST"])
def export_retry(request, nct: str, pk: int):
    """Run a stalled export again (the sponsor or an administrator); one still moving is left alone."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("tmf_exports", args=[nct]))
    job = _job(request, nct, pk)
    try:
        tasks.retry_export(actor=request.user, job=job)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The export was queued again."))
    return HttpResponseRedirect(reverse("tmf_exports", args=[job.trial.nct_number]))
