"""Background jobs (django-tasks): the TMF export, run by `manage.py db_worker` (at once in tests).

The job's row (`TmfExportJob`) is what the web page follows: the task moves it from queued to running, counts
the documents written, and ends it done (with the package and its SHA-256) or failed (with the error).
Progress is written outside any transaction, so the page sees it while the worker runs.
"""

import logging
import tempfile
from pathlib import Path

from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from . import audit, exchange, tmf
from .models import TmfDocument, TmfExportJob

logger = logging.getLogger(__name__)
State = TmfExportJob.State


@transaction.atomic
def start_export(*, actor, trial) -> TmfExportJob:
    """Queue an export of the trial's whole TMF (the sponsor or an administrator only)."""
    from django.core.exceptions import PermissionDenied

    if not tmf.can_file(actor, trial):
        raise PermissionDenied
    job = TmfExportJob.objects.create(trial=trial, requested_by=actor,
                                      total=TmfDocument.objects.filter(trial=trial).count())
    audit.record(actor=actor, action="tmf.export_requested", obj=job, changes={"documents": [None, job.total]})
    export_tmf.enqueue(job.pk)
    return job


def _update(job: TmfExportJob, **values) -> None:
    TmfExportJob.objects.filter(pk=job.pk).update(**values)
    for name, value in values.items():
        setattr(job, name, value)


@task()
def export_tmf(job_id: int) -> str:
    """Write the package of one export job; returns the job's final state."""
    job = TmfExportJob.objects.select_related("trial", "requested_by").get(pk=job_id)
    if job.state in (State.DONE, State.FAILED):
        return job.state
    _update(job, state=State.RUNNING, done=0, error="")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    name = f"{job.trial.nct_number}-tmf-{stamp}.zip"
    try:
        with tempfile.TemporaryDirectory(prefix="trialdocs-export-") as folder:
            path = Path(folder) / name
            summary = exchange.export_package(job.trial, path, user=job.requested_by,
                                              progress=lambda done, total: _update(job, done=done, total=total))
            with path.open("rb") as handle:
                job.file.save(name, File(handle), save=False)
        _update(job, state=State.DONE, file=job.file.name, sha256=summary.sha256, done=summary.count,
                total=summary.count, finished_at=timezone.now())
        audit.record(actor=job.requested_by, action="tmf.export_done", obj=job,
                     changes={"documents": [None, summary.count], "sha256": [None, summary.sha256]})
    except Exception as error:
        logger.exception("TMF export %s failed", job.pk)
        _update(job, state=State.FAILED, error=f"{type(error).__name__}: {error}"[:2000],
                finished_at=timezone.now())
        audit.record(actor=job.requested_by, action="tmf.export_failed", obj=job,
                     changes={"error": [None, job.error]})
        raise
    return job.state
