from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def refuse_to_start_on_errors() -> None:
    """In production, a WSGI/ASGI server runs the system checks at start and stops on any error.

    `runserver` and `migrate` run them already; a production server (gunicorn, uvicorn) does not.
    """
    if not settings.TRIALDOCS_REFUSE_DEMO_PASSWORDS:
        return
    errors = [m for m in checks.run_checks(include_deployment_checks=False) if m.is_serious()]
    if errors:
        raise ImproperlyConfigured("Refusing to start: " + "; ".join(f"{e.id}: {e.msg}" for e in errors))
