"""Background fixity checks (django-tasks, run by `manage.py db_worker`, at once in tests): the web's way to run
`manage.py verify_archive` for one trial. The run's row (`regulatory.FixityRun`) is what the TMF home shows."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from consent import fixity
from regulatory import audit, permissions
from regulatory.models import FixityRun

from .signing import ArchivalIncomplete

logger = logging.getLogger(__name__)
State = FixityRun.State


@transaction.atomic
def start_fixity_check(*, actor, trial) -> FixityRun:
    """Queue a fixity check of the trial's stored files (its sponsor or an administrator only). One at a time per
    trial: while one is queued or running, another is refused with a message."""
    if not permissions.can_check_fixity(actor, trial):
        raise PermissionDenied
    if FixityRun.objects.select_for_update().filter(trial=trial, state__in=[State.QUEUED, State.RUNNING]).exists():
        raise ValidationError(_("A fixity check of this trial is already under way."))
    run = FixityRun.objects.create(trial=trial, requested_by=actor)
    audit.record(actor=actor, action="archive.fixity_requested", obj=run, trial=trial)
    check_fixity.enqueue(run.pk)  # with the database backend, the task's row commits with the run's
    return run


def _update(run: FixityRun, **values) -> None:
    FixityRun.objects.filter(pk=run.pk).update(**values)
    for name, value in values.items():
        setattr(run, name, value)


@task()
def check_fixity(run_id: int) -> str:
    """Run one fixity check; returns the run's final state."""
    run = FixityRun.objects.select_related("trial", "requested_by").get(pk=run_id)
    if run.state in (State.DONE, State.FAILED):
        return run.state
    _update(run, state=State.RUNNING, done=0, error="")

    def progress(done, total):
        if done == total or done % 25 == 0:
            _update(run, done=done, total=total)

    try:
        result = fixity.verify_archive(trial=run.trial, progress=progress)
        name = f"{run.trial.nct_number}-fixity-{timezone.now():%Y%m%d-%H%M%S}.csv"
        run.report.save(name, ContentFile(result.csv_text().encode("utf-8")), save=False)
        files = sum(result.checked.values())
        _update(run, state=State.DONE, report=run.report.name, done=files, total=files,
                signatures=result.signatures, problems=len(result.problems), summary=result.summary(),
                finished_at=timezone.now())
        audit.record(actor=run.requested_by, action="archive.fixity_done", obj=run, trial=run.trial,
                     changes={"files": [None, files], "signatures": [None, result.signatures],
                              "problems": [None, len(result.problems)]})
    except Exception as error:
        logger.exception("Fixity check %s failed", run.pk)
        _update(run, state=State.FAILED, error=f"{type(error).__name__}: {error}"[:2000], finished_at=timezone.now())
        audit.record(actor=run.requested_by, action="archive.fixity_failed", obj=run, trial=run.trial,
                     changes={"error": [None, run.error]})
        raise
    return run.state
"""Background jobs of the consent app (django-tasks, run by `manage.py db_worker`; at once in tests)."""

# Waits between attempts while the revocation service or the TSA is down (then every hour, until it works).
RETRY_DELAYS = (60, 300, 900, 3600)


@task()
def complete_archival_task(archival_id: int) -> str:
    """Complete one signed file to PAdES B-LTA; on failure it stays pending and is queued again later."""
    from . import archival

    try:
        result = archival.complete(archival_id)
    except ArchivalIncomplete as error:
        from .models import ArchivalFile

        attempts = ArchivalFile.objects.get(pk=archival_id).attempts
        delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1] if attempts else RETRY_DELAYS[0]
        logger.warning("Archival completion of %s failed (attempt %s): %s", archival_id, attempts, error)
        archival.enqueue_completion(archival_id, delay_seconds=delay) if _can_defer() else None
        return "pending"
    return result.state


def _can_defer() -> bool:
    return complete_archival_task.get_backend().supports_defer
