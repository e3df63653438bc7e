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

from cms.files import delete_quietly

from . import audit, permissions
from .models import TmfDocument, TmfExportJob
from .tmf import exchange

logger = logging.getLogger(__name__)
State = TmfExportJob.State


@transaction.atomic
def start_export(*, actor, trial) -> TmfExportJob:
    """Queue an export of the trial's whole TMF (the sponsor or an administrator only); ValidationError when the
    TMF holds no document (an EMS package lists at least one)."""
    from django.core.exceptions import PermissionDenied

    if not permissions.can_file_in_tmf(actor, trial):
        raise PermissionDenied
    total = TmfDocument.objects.filter(trial=trial).count()
    if not total:
        from django.core.exceptions import ValidationError

        raise ValidationError(exchange.empty_tmf_message(trial))
    job = TmfExportJob.objects.create(trial=trial, requested_by=actor, moved_at=timezone.now(), total=total)
    audit.record(actor=actor, action="tmf.export_requested", obj=job, changes={"documents": [None, job.total]})
    _enqueue(export_tmf, job.pk)
    return job


@transaction.atomic
def retry_export(*, actor, job: TmfExportJob) -> TmfExportJob:
    """Queue a stalled export again (its worker died, or the database was locked when it wanted to start it).
    Only a stalled one: an export that still moves is left alone."""
    from django.core.exceptions import PermissionDenied, ValidationError
    from django.utils.translation import gettext as _

    if not permissions.can_file_in_tmf(actor, job.trial):
        raise PermissionDenied
    job = TmfExportJob.objects.select_for_update().get(pk=job.pk)
    if not job.stalled:
        raise ValidationError(_("This export is not stalled: it is left to finish."))
    _update(job, state=State.QUEUED, done=0, error="")
    audit.record(actor=actor, action="tmf.export_retried", obj=job)
    _enqueue(export_tmf, job.pk)
    return job


# Backends that keep their jobs in the project's own database (or run them at once): the job is queued inside the
# transaction that writes its row, so both land or neither does.
_SAME_DATABASE_BACKENDS = ("django_tasks_db.", "django_tasks.backends.immediate.", "django_tasks.backends.dummy.")


def _enqueue(task_function, *args) -> None:
    """Queue `task_function(*args)`. On a queue outside the database (Redis), only once the transaction has
    committed: a worker must never meet a job whose row is not there yet, nor run one whose request rolled back.
    Should Redis refuse it then, the row stays queued, is shown stalled and can be run again (`retry_export`)."""
    backend = type(task_function.get_backend())
    if f"{backend.__module__}.".startswith(_SAME_DATABASE_BACKENDS):
        task_function.enqueue(*args)
    else:
        def enqueue_committed():
            try:
                task_function.enqueue(*args)
            except Exception:  # the write is committed: the page answers; the job shows stalled, to be retried
                logger.exception("Queueing %s%r failed after commit", task_function.name, args)

        transaction.on_commit(enqueue_committed)


def _update(job: TmfExportJob, **values) -> None:
    values.setdefault("moved_at", timezone.now())
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
        if job.file.name and job.state != State.DONE:  # stored, but not recorded: no object without its record
            delete_quietly(job.file.storage, job.file.name)
            job.file.name = None
        _update(job, state=State.FAILED, error=f"{type(error).__name__}: {error}"[:2000],
                finished_at=timezone.now())
        audit.record(actor=job.requested_by, action="tmf.export_failed", obj=job,
                     changes={"error": [None, job.error]})
        raise
    return job.state
