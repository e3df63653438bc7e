from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError


@register(Tags.security)
def check_demo_passwords(app_configs, **kwargs):
    """Production refuses to run while a demo account keeps the published demo password."""
    if not settings.TRIALDOCS_REFUSE_DEMO_PASSWORDS:
        return []
    from .demo_accounts import demo_accounts_with_demo_password

    try:
        accounts = demo_accounts_with_demo_password()
    except DatabaseError:
        return []  # no user table yet, so no account can hold the password
    if not accounts:
        return []
    return [
        Error(
            f"Demo accounts still use the published demo password: {', '.join(accounts)}.",
            hint="Change their passwords or deactivate them (manage.py changepassword NAME).",
            id="trialdocs.E001",
        )
    ]
