"""Signed approvals in the review workflow of protocol and consent-form versions (21 CFR 11.50, 11.70, 11.200).

The approver types their user name and password again, as at consent signing, under the same login throttle
(`regulatory.accounts`); the author of a version approves none of its steps (`permissions.approval_refusal`). The
signature is written with the step's approval, in one transaction; a refusal writes nothing but its audit entry.
"""

from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from wagtail.models import TaskState, WorkflowState

from .. import accounts, audit, permissions
from ..models import ApprovalSignature, RoleGroup, SignedApprovalTask

PARIS = ZoneInfo("Europe/Paris")
MEANING = "Approuvé par %(name)s en tant que %(role)s, le %(date)s à %(time)s (heure de Paris)"


def approval_meaning(*, name: str, role: str, at) -> str:
    """The printed meaning of an approval (11.50): who, in which role, the date and the time in Paris."""
    local = timezone.localtime(at, PARIS)
    return MEANING % {"name": name, "role": role, "date": f"{local:%d/%m/%Y}", "time": f"{local:%H:%M}"}


def signer_role(user, task: SignedApprovalTask) -> str:
    """The role in which `user` approves at this step (the role of the step's group they belong to), in French."""
    role_group = (RoleGroup.objects.filter(group__in=task.groups.all(), group__user=user)
                  .order_by("role").first())
    with translation.override("fr"):
        if role_group is not None:
            return str(role_group.get_role_display()).lower()
        return str(_("administrator"))


def _refuse(*, actor, page, action: str, reason: str, message: str):
    audit.record(actor=actor, action=action, obj=page, reason=reason)
    raise ValidationError(message)


def approval_refusal_for(user, task_state: TaskState) -> str | None:
    """Why `user` may not approve this step now, before any password is asked, or None."""
    task_state = TaskState.objects.select_related("workflow_state").get(pk=task_state.pk)
    if task_state.status != TaskState.STATUS_IN_PROGRESS:
        return str(_("This step is no longer awaiting approval. Nothing was approved."))
    task = task_state.task.specific
    if not isinstance(task, SignedApprovalTask) or not permissions.can_moderate_approval_task(user, task):
        return str(_("You do not review this step. Nothing was approved."))
    return permissions.approval_refusal(user, task_state.workflow_state.content_object.specific)


def approval_check(*, actor, task_state: TaskState, username: str, password: str) -> None:
    """Everything an approval needs before it is written: the step awaits it, the approver reviews it and did not
    write the version (four eyes), is not throttled, and typed their own user name and password. A refusal is a
    ValidationError with its message, having written only its audit entry (and, for a wrong password, the
    failed login, which counts towards the throttle)."""
    page = TaskState.objects.get(pk=task_state.pk).workflow_state.content_object.specific
    refusal = approval_refusal_for(actor, task_state)
    if refusal is not None:
        _refuse(actor=actor, page=page, action="approval.refused", reason=refusal, message=refusal)
    # While the login throttle is in force the password is not even tried (as at login and at consent signing).
    if accounts.signing_suspended(actor):
        _refuse(actor=actor, page=page, action="approval.signing_throttled",
                reason="login throttle in force for this user",
                message=_("Too many wrong passwords: signing is suspended for a few minutes, as logging in is. "
                          "Nothing was approved."))
    # Outside the approval's transaction: a failed re-authentication stays in the audit trail.
    if not accounts.signature_components_match(actor, username, password, what="approval"):
        raise ValidationError(_("Your user name or password is not correct: nothing was approved."))


def approval_sign(*, actor, task_state: TaskState, username: str, password: str,
                  comment: str = "") -> ApprovalSignature:
    """Approve one review step of a version as an electronic signature (`approval_check`, then the step's
    approval and its `ApprovalSignature` in one transaction), or refuse with a ValidationError."""
    approval_check(actor=actor, task_state=task_state, username=username, password=password)
    task_state = TaskState.objects.select_related("workflow_state").get(pk=task_state.pk)
    return _sign(actor=actor, task_state=task_state, task=task_state.task.specific,
                 page=task_state.workflow_state.content_object.specific, comment=(comment or "").strip())


@transaction.atomic
def _sign(*, actor, task_state: TaskState, task: SignedApprovalTask, page, comment: str) -> ApprovalSignature:
    task_state = TaskState.objects.select_for_update().get(pk=task_state.pk).specific
    if task_state.status != TaskState.STATUS_IN_PROGRESS:  # approved or rejected meanwhile by someone else
        raise ValidationError(_("This step is no longer awaiting approval. Nothing was approved."))
    now = timezone.now()
    name = actor.get_full_name() or actor.get_username()
    meaning = approval_meaning(name=name, role=signer_role(actor, task), at=now)
    revision = page.get_latest_revision()
    signature = ApprovalSignature.objects.create(
        task_state=task_state, page=page, revision=revision, step=task.name, signer=actor, signer_name=name,
        role=signer_role(actor, task), signed_at=now, meaning=meaning, comment=comment)
    audit.record(actor=actor, action="approval.signed", obj=page, changes={
        "step": [None, task.name], "meaning": [None, meaning], "revision": [None, revision.pk],
        "comment": [None, comment]})
    # The meaning is the step's comment too, so Wagtail's page history and workflow history show it.
    task_state.approve(user=actor, comment=f"{meaning}\n{comment}" if comment else meaning)
    return signature


def signatures_of(page, *, approved_only: bool = True) -> list[ApprovalSignature]:
    """The approval signatures of a version, oldest first: those of the review that approved it (what its PDF
    prints), or with `approved_only=False` every one, rounds sent back for changes included (its history)."""
    signatures = ApprovalSignature.objects.filter(page_id=page.pk)
    if approved_only:
        signatures = signatures.filter(task_state__workflow_state__status=WorkflowState.STATUS_APPROVED)
    return list(signatures.order_by("signed_at", "pk"))
