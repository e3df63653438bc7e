from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe
@transaction.non_atomic_requests  # ATOMIC_REQUESTS would connect before the view can catch the error
def healthz(request):
    """200 when the database answers and every migration is applied, 503 otherwise (JSON either way)."""
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return JsonResponse({"status": "unavailable", "database": "unreachable",
                             "error": error.__class__.__name__}, status=503)
    if pending:
        return JsonResponse({"status": "unavailable", "database": "ok",
                             "pending_migrations": len(pending)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "pending_migrations": 0})


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
