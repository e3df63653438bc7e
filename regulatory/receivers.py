"""Django's authentication signals, written to the audit trail."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import audit
from .accounts import LOGIN, LOGIN_FAILED


@receiver(user_logged_in, dispatch_uid="trialdocs_audit_login")
def audit_login(sender, request, user, **kwargs):
    audit.record(actor=user, action=LOGIN, obj=user, object_repr=user.get_username())


@receiver(user_logged_out, dispatch_uid="trialdocs_audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record(actor=user, action="auth.logout", obj=user, object_repr=user.get_username())


@receiver(user_login_failed, dispatch_uid="trialdocs_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    account = get_user_model()._default_manager.filter(username=username).first() if username else None
    audit.record(actor=None, action=LOGIN_FAILED, obj=account, object_repr=username)
