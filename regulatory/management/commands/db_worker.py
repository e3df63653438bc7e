"""`manage.py db_worker`: django-tasks-db's worker, which also outlives "database is locked".

django-tasks-db already skips a lock met while claiming a task, but one met elsewhere (opening its exclusive
transaction, recording a task's result) ended the process, and with it every export queued after (issue 12: the
demo's worker died so, and a TMF export stayed queued for good). This worker waits, longer each time up to
`TRIALDOCS_WORKER_MAX_LOCKED_WAIT_SECONDS`, and goes on; any other error still stops it. A task whose result could
not be recorded shows as stalled on the export page, which offers to run it again (`tasks.retry_export`).

It replaces django-tasks-db's command of the same name: `regulatory` comes before `django_tasks_db` in
INSTALLED_APPS, and Django takes a command from the first app that has it.
"""

import logging
import time

from django.conf import settings
from django.db import close_old_connections
from django.db.utils import OperationalError
from django_tasks_db.management.commands import db_worker
from django_tasks_db.utils import is_locked_database_exception

logger = logging.getLogger("django_tasks_db")


class Worker(db_worker.Worker):
    def run(self) -> None:
        wait = 0.5
        while True:
            try:
                return super().run()
            except OperationalError as error:
                if not (is_locked_database_exception(error) and self.running):
                    raise
                logger.warning("Database locked (%s): worker_id=%s tries again in %.1f s", error, self.worker_id, wait)
                close_old_connections()
                time.sleep(wait)
                wait = min(wait * 2, settings.TRIALDOCS_WORKER_MAX_LOCKED_WAIT_SECONDS)


class Command(db_worker.Command):
    help = db_worker.Command.help + " Waits and tries again when the database is locked."

    def handle(self, *args, **options):
        original = db_worker.Worker
        db_worker.Worker = Worker  # the base command builds its worker from this module-level name
        try:
            return super().handle(*args, **options)
        finally:
            db_worker.Worker = original
