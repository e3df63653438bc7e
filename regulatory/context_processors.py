"""Template variables every page needs, answered by the permission module (once per request)."""

from . import permissions


def navigation(request):
    user = getattr(request, "user", None)
    return {"can_use_admin": lambda: permissions.can_use_admin(user)}
