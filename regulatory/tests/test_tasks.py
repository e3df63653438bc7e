"""Background TMF exports (regulatory/tasks.py, the db_worker command, the exports page): a locked database does not
kill the worker, and an export that stopped moving shows as stalled with a button to run it again (issue 12)."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db.utils import OperationalError
from django.utils import timezone
from django_tasks.backends.dummy import DummyBackend

from regulatory import tasks, tmf
from regulatory.models import AuditEntry, TmfDocument, TmfExportJob

EXPORTS = "/tmf/NCT07063680/exports/"


def file_one_document(trial):
    """An EMS package lists at least one document: an empty TMF is not exported."""
    data = b"%PDF-1.4\n% protocol\n%%EOF\n"
    document = TmfDocument(trial=trial, artifact=tmf.artifact("02.01.02"), level="trial", title="Protocole",
                           document_date=datetime.date(2026, 1, 5), version="1.0", file_name="protocole.pdf")
    document.file.save("protocole.pdf", ContentFile(data), save=True)
    return document


@pytest.mark.django_db(transaction=True)
def test_the_worker_waits_out_a_locked_database_and_runs_the_export(world, settings, monkeypatch):
    """django-tasks-db's worker ended on "database is locked" met outside its claim (issue 12): ours waits and
    goes on, and the queued export is written."""
    from asgiref.local import Local
    from django_tasks import task_backends
    from django_tasks_db.management.commands import db_worker as base

    from regulatory.management.commands import db_worker

    def reset_backends():
        task_backends.__dict__.pop("settings", None)
        task_backends._settings = None
        task_backends._connections = Local(task_backends.thread_critical)

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    reset_backends()
    file_one_document(world.trial)
    try:
        job = tasks.start_export(actor=world.sponsor, trial=world.trial)
        assert TmfExportJob.objects.get(pk=job.pk).state == TmfExportJob.State.QUEUED
        original, locked = base.exclusive_transaction, []

        def locked_once(*args, **kwargs):
            if not locked:
                locked.append(True)
                raise OperationalError("database is locked")
            return original(*args, **kwargs)

        monkeypatch.setattr(base, "exclusive_transaction", locked_once)
        monkeypatch.setattr(db_worker.time, "sleep", lambda seconds: None)
        call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0")
        assert locked == [True]
        assert TmfExportJob.objects.get(pk=job.pk).state == TmfExportJob.State.DONE
    finally:
        settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
        reset_backends()


def stalled_job(world, minutes=30):
    job = TmfExportJob.objects.create(trial=world.trial, requested_by=world.sponsor, total=3)
    long_ago = timezone.now() - datetime.timedelta(minutes=minutes)
    TmfExportJob.objects.filter(pk=job.pk).update(requested_at=long_ago, moved_at=long_ago)
    return TmfExportJob.objects.get(pk=job.pk)


def test_an_export_that_stopped_moving_shows_as_stalled_with_a_retry_button(world, as_user):
    job = stalled_job(world)
    assert job.stalled
    body = as_user(world.sponsor).get(EXPORTS).content.decode()
    assert "Bloqué" in body and f"/exports/{job.pk}/retry/" in body
    assert as_user(world.sponsor).get(f"{EXPORTS}{job.pk}/status/").json()["state"] == "stalled"
    qa_body = as_user(world.qa).get(EXPORTS).content.decode()
    assert "Bloqué" in qa_body and "/retry/" not in qa_body  # QA reads, only the sponsor starts exports


def test_the_sponsor_runs_a_stalled_export_again(world, as_user):
    file_one_document(world.trial)
    job = stalled_job(world)
    response = as_user(world.sponsor).post(f"{EXPORTS}{job.pk}/retry/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == TmfExportJob.State.DONE and not job.stalled  # the test backend runs it at once
    assert AuditEntry.objects.filter(action="tmf.export_retried", actor=world.sponsor).count() == 1


@pytest.mark.parametrize("who,status", [("sponsor", 302), ("qa", 403), ("coordinator_a", 404)])
def test_an_export_still_moving_is_not_run_twice(world, as_user, who, status):
    job = stalled_job(world, minutes=1)
    client = as_user(getattr(world, who))
    before = AuditEntry.objects.count()
    response = client.post(f"{EXPORTS}{job.pk}/retry/", follow=False)
    assert response.status_code == status
    job.refresh_from_db()
    assert job.state == TmfExportJob.State.QUEUED and AuditEntry.objects.count() == before


class OutsideQueueBackend(DummyBackend):
    """Stands for a queue outside the database (Redis): records what it is given, or refuses it like a Redis that
    is down. Its module is not one of the backends that share the database's transaction."""

    refuse = False
    given: list = []

    def enqueue(self, task, args, kwargs):
        if type(self).refuse:
            raise ConnectionError("Error 111 connecting to redis")
        type(self).given.append(list(args))
        return super().enqueue(task, args, kwargs)


@pytest.fixture
def outside_queue(settings):
    from asgiref.local import Local
    from django_tasks import task_backends

    def reset_backends():
        task_backends.__dict__.pop("settings", None)
        task_backends._settings = None
        task_backends._connections = Local(task_backends.thread_critical)

    OutsideQueueBackend.given, OutsideQueueBackend.refuse = [], False
    settings.TASKS = {"default": {"BACKEND": "regulatory.tests.test_tasks.OutsideQueueBackend"}}
    reset_backends()
    yield OutsideQueueBackend
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    reset_backends()


def test_a_queue_outside_the_database_gets_the_export_only_once_committed(world, outside_queue,
                                                                           django_capture_on_commit_callbacks):
    """A worker on Redis must never meet a job whose row is not committed (nor one whose request rolled back)."""
    file_one_document(world.trial)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = tasks.start_export(actor=world.sponsor, trial=world.trial)
        assert outside_queue.given == []  # inside the transaction: not yet
    assert len(callbacks) == 1 and outside_queue.given == [[job.pk]]


def test_a_queue_that_refuses_the_export_leaves_it_queued_to_be_run_again(world, as_user, outside_queue,
                                                                          django_capture_on_commit_callbacks):
    """Redis down at the moment of queuing: the page still answers, the export waits as queued, shows as stalled
    once it has not moved for TRIALDOCS_EXPORT_STALLED_SECONDS, and the sponsor runs it again."""
    file_one_document(world.trial)
    outside_queue.refuse = True
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(world.sponsor).post(EXPORTS)
    assert response.status_code == 302
    job = TmfExportJob.objects.get(trial=world.trial)
    assert job.state == TmfExportJob.State.QUEUED and outside_queue.given == []
    long_ago = timezone.now() - datetime.timedelta(minutes=30)
    TmfExportJob.objects.filter(pk=job.pk).update(moved_at=long_ago)
    outside_queue.refuse = False
    with django_capture_on_commit_callbacks(execute=True):
        assert as_user(world.sponsor).post(f"{EXPORTS}{job.pk}/retry/").status_code == 302
    assert outside_queue.given == [[job.pk]]
