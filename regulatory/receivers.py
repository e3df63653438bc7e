"""Signal receivers: logins, logouts and failed logins and every publication of a trial's page written to the audit
trail; filed pages refiled in the TMF when published or unpublished; the request's permission cache emptied when
who holds what changes."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from wagtail.signals import page_published, page_unpublished

from . import audit
from .accounts import LOGIN


@receiver(user_logged_in, dispatch_uid="trialdocs_audit_login")
def audit_login(sender, request, user, **kwargs):
    audit.record(actor=user, action=LOGIN, obj=user, object_repr=user.get_username())


@receiver(user_logged_out, dispatch_uid="trialdocs_audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record(actor=user, action="auth.logout", obj=user, object_repr=user.get_username())


@receiver(user_login_failed, dispatch_uid="trialdocs_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    from . import accounts

    username = str(credentials.get("username", ""))[:150]
    account = get_user_model()._default_manager.filter(username=username).first() if username else None
    accounts.record_failure(username=username, account=account)


@receiver(page_published, dispatch_uid="trialdocs_audit_page_published")
def audit_page_published(sender, instance, revision, **kwargs):
    """Every publication of a trial's page, whatever published it: the editor, a workflow approval, or
    `publish_scheduled` (then the actor is the system)."""
    from . import services
    from .models import TrialPage

    if TrialPage.objects.ancestor_of(instance, inclusive=True).exists():
        # Wagtail sends the signal also when it only schedules a future go-live.
        scheduled = instance.go_live_at is not None and instance.go_live_at > timezone.now()
        verb = "scheduled" if scheduled else "published"
        services.page_revision_audit(actor=audit.request_user(), page=instance, verb=verb)


# --- TMF filing (regulatory/tmf/filing.py): a filed page refiles itself and what it can supersede when published or
# unpublished; the saves that refile other sources are connected by `filing.register`.

@receiver(page_published, dispatch_uid="trialdocs_tmf_page_published")
@receiver(page_unpublished, dispatch_uid="trialdocs_tmf_page_unpublished")
def file_page(sender, instance, **kwargs):
    from regulatory.tmf import filing

    page = instance.specific
    source = filing.source_of(page)
    if source is not None and source.refile_on_publish:
        filing.refile_for(page)


def _forget_access(**kwargs):
    from . import permissions

    permissions.forget_access()


def _connect_access_invalidation():
    """Any change to who holds what empties the request's permission cache (`permissions.Access`)."""
    from django.db.models.signals import m2m_changed, post_delete

    from .models import (
        InspectorGrant,
        RoleGroup,
        SiteGroupObjectPermission,
        SiteUserObjectPermission,
        TrialGroupObjectPermission,
        TrialUserObjectPermission,
    )

    for model in (TrialGroupObjectPermission, TrialUserObjectPermission, SiteGroupObjectPermission,
                  SiteUserObjectPermission, RoleGroup, InspectorGrant):
        post_save.connect(_forget_access, sender=model, dispatch_uid=f"trialdocs_forget_access_save_{model.__name__}")
        post_delete.connect(_forget_access, sender=model,
                            dispatch_uid=f"trialdocs_forget_access_delete_{model.__name__}")
    for through in (get_user_model().groups.through, InspectorGrant.sites.through):
        m2m_changed.connect(_forget_access, sender=through,
                            dispatch_uid=f"trialdocs_forget_access_m2m_{through.__name__}")


_connect_access_invalidation()
