"""The demonstration accounts and their published password, which production refuses."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db.models import Q

DEMO_PASSWORD = "trialdocs-demo"  # noqa: S105  # nosec B105  # published on purpose; production refuses it
DEMO_TRIAL_USERNAMES = ("sponsor", "sponsor-ra", "qa", "inspector", "admin")
DEMO_SITE_USERNAME_PREFIXES = ("coordinator-", "investigator-", "nurse-")


def demo_accounts_with_demo_password() -> list[str]:
    """User names of demo accounts that still accept the demo password."""
    pattern = Q(username__in=DEMO_TRIAL_USERNAMES)
    for prefix in DEMO_SITE_USERNAME_PREFIXES:
        pattern |= Q(username__startswith=prefix)
    return [
        user.username
        for user in get_user_model()._default_manager.filter(pattern).order_by("username")
        if check_password(DEMO_PASSWORD, user.password)  # no setter: checking never rewrites the hash
    ]
