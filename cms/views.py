from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


def _storage_name() -> str:
    """"filesystem" for the local disk (the default), "s3" for an S3-compatible object store, else the class."""
    from django.core.files.storage import FileSystemStorage, storages
    from storages.backends.s3 import S3Storage

    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        return "filesystem"
    if isinstance(storage, S3Storage):  # cms.storage.ObjectStorage, the project's S3 store
        return "s3"
    return type(storage).__name__


def _tasks_name() -> str:
    """"database", "rq" (Redis) or "immediate": the backend background tasks are queued on."""
    from django_tasks import task_backends

    backend = task_backends["default"]
    module = type(backend).__module__
    for prefix, name in (("django_tasks_db", "database"), ("django_tasks_rq", "rq"),
                         ("django_tasks.backends.immediate", "immediate")):
        if module.startswith(prefix):
            return name
    return type(backend).__name__


def _check_storage() -> None:
    """Raises when the file store cannot be reached (a folder gone, an object store down)."""
    import os

    from django.core.files.storage import storages

    storage = storages["default"]
    storage.exists("healthz-probe")
    location = getattr(storage, "location", None)
    if _storage_name() == "filesystem" and location and not os.path.isdir(location):
        raise OSError(f"{location} is not a folder")


def _check_redis() -> dict:
    """The Redis services in use (the shared cache, the task queue), each "ok" or "unreachable"."""
    from django.conf import settings

    found = {}
    if settings.TRIALDOCS_REDIS_URL:
        from django.core.cache import cache

        try:
            cache.set("healthz-probe", 1, timeout=10)
            found["cache"] = "ok" if cache.get("healthz-probe") == 1 else "unreachable"
        except Exception:  # noqa: BLE001  # any failure of the cache client means "unreachable"
            found["cache"] = "unreachable"
    if settings.TRIALDOCS_TASKS_REDIS_URL:
        import django_rq

        try:
            found["queue"] = "ok" if django_rq.get_connection("default").ping() else "unreachable"
        except Exception:  # noqa: BLE001  # idem for the queue's connection
            found["queue"] = "unreachable"
    return found


@never_cache
@require_safe
@transaction.non_atomic_requests  # ATOMIC_REQUESTS would connect before the view can catch the error
def healthz(request):
    """200 when the database answers with every migration applied, and the file store and Redis (when used) answer;
    503 otherwise. JSON either way, saying which app server answered ("instance") and which storage and task
    backends are in use: behind a load balancer, the check of one server."""
    from django.conf import settings

    body = {"status": "ok", "instance": settings.TRIALDOCS_INSTANCE, "database": "ok", "pending_migrations": 0,
            "storage": _storage_name(), "storage_status": "ok", "tasks": _tasks_name()}
    healthy = True
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        body.update(database="unreachable", error=error.__class__.__name__)
        body.pop("pending_migrations")
        healthy = False
    else:
        if pending:
            body["pending_migrations"] = len(pending)
            healthy = False
    try:
        _check_storage()
    except Exception:  # noqa: BLE001  # whatever the store's client raises, the store is unreachable
        body["storage_status"] = "unreachable"
        healthy = False
    redis = _check_redis()
    if redis:
        body["redis"] = redis
        healthy = healthy and all(state == "ok" for state in redis.values())
    if not healthy:
        body["status"] = "unavailable"
    return JsonResponse(body, status=200 if healthy else 503)


def server_error(request):
    """The 500 handler. When the cause is the database being unreachable (restarted, failed over, connections
    dropped), answer 503 with Retry-After instead: nothing was written (the request's transaction never committed),
    and the next request opens a fresh connection, so the service recovers on its own."""
    import sys

    from django.db import InterfaceError, OperationalError
    from django.http import HttpResponse, HttpResponseServerError
    from django.template import loader

    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = "10"
        return response
    return HttpResponseServerError(loader.get_template("500.html").render())
