"""Background tasks on Redis (django-tasks-rq, when `TRIALDOCS_TASKS_REDIS_URL` is set): retries and dead workers.

django-tasks-rq enqueues each task as an RQ job without retries, and RQ notices a worker that died (kill -9, a
machine lost) only when the job's heartbeat has expired, at the next maintenance of the queue's registries:
90 seconds and 10 minutes with RQ's defaults. Here:

- `RetryingQueue` gives every job `TRIALDOCS_TASK_RETRIES` retries (RQ's `Retry`): a job that raised, or whose
  worker died, is queued again. The tasks are written to be run again (`regulatory.tasks.export_tmf` starts its
  package afresh; a finished one is left alone).
- `Worker` beats every `TRIALDOCS_TASK_HEARTBEAT_SECONDS` and looks for dead workers' jobs as often: a job left by a
  worker killed mid-way is queued again within about three beats, by this worker or any other on the queue.

Run one or more with `manage.py rqworker default --worker-class regulatory.task_queue.Worker --job-class
django_tasks_rq.Job` (README, Production): the job class runs each job's django-tasks `Task`.
"""

from django.conf import settings
from django_rq.queues import DjangoRQ
from rq import Retry
from rq import Worker as RQWorker


class RetryingQueue(DjangoRQ):
    def create_job(self, *args, **kwargs):
        if kwargs.get("retry") is None and settings.TRIALDOCS_TASK_RETRIES > 0:
            kwargs["retry"] = Retry(max=settings.TRIALDOCS_TASK_RETRIES)
        return super().create_job(*args, **kwargs)


class Worker(RQWorker):
    def __init__(self, *args, **kwargs):
        beat = settings.TRIALDOCS_TASK_HEARTBEAT_SECONDS
        kwargs["job_monitoring_interval"] = kwargs.get("job_monitoring_interval") or beat
        kwargs["maintenance_interval"] = beat
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        # An idle worker wakes up every beat (RQ: worker_ttl - 15 s) so that its maintenance runs on time.
        return max(1, self.job_monitoring_interval)

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        # RQ adds 60 s of slack to every beat; two missed beats are enough to call a worker dead here.
        beat = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            return int(min(job.timeout - working_time, beat)) + 2 * beat
        return 3 * beat
