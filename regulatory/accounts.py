"""Login throttling: failed logins are audit entries, and the audit trail is what gets counted."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from .models import AuditEntry

LOGIN = "auth.login"
LOGIN_FAILED = "auth.login_failed"
LOGIN_THROTTLED = "auth.login_throttled"


def login_throttled(*, username: str, ip_address: str | None) -> bool:
    """True when this user name, or this client address, failed too often within the window.

    Failures before the account's last successful login do not count against the user name.
    """
    limits = settings.LOGIN_THROTTLE
    since = timezone.now() - timedelta(seconds=limits["WINDOW_SECONDS"])
    failures = AuditEntry.objects.filter(action=LOGIN_FAILED, timestamp__gte=since)
    if username:
        last_success = AuditEntry.objects.filter(
            action=LOGIN, object_repr__iexact=username, timestamp__gte=since
        ).aggregate(at=Max("timestamp"))["at"]
        by_name = failures.filter(object_repr__iexact=username)
        if last_success:
            by_name = by_name.filter(timestamp__gt=last_success)
        if by_name.count() >= limits["MAX_FAILURES_PER_USERNAME"]:
            return True
    return bool(ip_address) and failures.filter(ip_address=ip_address).count() >= limits["MAX_FAILURES_PER_ADDRESS"]
