"""Approvals in the review workflow are electronic signatures (21 CFR 11.50, 11.70, 11.200).

`SignedApprovalTask` is the workflow step of protocol and consent-form versions: its members approve by typing
their user name and password again (as at consent signing, with the same throttle), and the author of a version
approves none of its steps (four eyes; decided in `regulatory.permissions`). Each approval leaves an
`ApprovalSignature`: who, in which role, when, what it means, bound to the revision approved; the version's page,
its history and its PDF show it.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.forms import TaskStateCommentForm
from wagtail.models import AbstractGroupApprovalTask


class SignedApprovalForm(TaskStateCommentForm):
    """The approval modal: both components of the approver's electronic signature, and an optional comment."""

    username = forms.CharField(label=_("Your user name"), max_length=150, required=False,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(label=_("Your password"), max_length=4096, required=False, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    field_order = ["username", "password", "comment"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["comment"].label = _("Comment (optional)")
        self.fields["username"].help_text = _(
            "Approving is an electronic signature (21 CFR 11.200): type your user name and password again. You sign "
            "the version as it was submitted: changes typed in the editor are not saved.")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("username") or not cleaned.get("password"):
            raise ValidationError(_("Type your user name and your password to sign the approval."))
        return cleaned


class SignedApprovalTask(AbstractGroupApprovalTask):
    """A group approval whose approval is an electronic signature, refused to the version's authors."""

    def _may_moderate(self, user) -> bool:
        from regulatory import permissions

        return permissions.can_moderate_approval_task(user, self)

    def user_can_access_editor(self, obj, user):
        return self._may_moderate(user)

    def locked_for_user(self, obj, user):
        return not self._may_moderate(user)

    def get_actions(self, obj, user):
        from regulatory import permissions

        if not self._may_moderate(user):
            return []
        actions = [("reject", _("Request changes"), True)]
        if permissions.approval_refusal(user, obj) is None:
            actions.append(("approve", _("Sign the approval"), True))
        return actions

    def get_task_states_user_can_moderate(self, user, **kwargs):
        from wagtail.models import TaskState

        if self._may_moderate(user):
            return self.task_states.filter(status=TaskState.STATUS_IN_PROGRESS)
        return TaskState.objects.none()

    def get_form_for_action(self, action):
        return SignedApprovalForm if action == "approve" else TaskStateCommentForm

    def on_action(self, task_state, user, action_name, **kwargs):
        """Approve: check and sign (`regulatory.services.approval_sign`), or refuse with a message and change
        nothing. Not in one transaction as Wagtail's is: a wrong password must stay in the audit trail (and count
        towards the login throttle) although nothing else is written."""
        if action_name != "approve":
            return super().on_action(task_state, user, action_name, **kwargs)
        from wagtail.admin import messages

        from cms.middleware import current_request
        from regulatory import services

        info = current_request.get()
        request = info.request if info else None
        try:
            signature = services.approval_sign(
                actor=user, task_state=task_state, username=kwargs.get("username", ""),
                password=kwargs.get("password", ""), comment=kwargs.get("comment", ""))
        except ValidationError as error:
            if request is not None:
                messages.error(request, " ".join(error.messages))
            return None
        if request is not None:
            messages.success(request, signature.meaning)
        return None

    @classmethod
    def get_description(cls):
        return _("Members of the chosen groups approve with their user name and password (an electronic "
                 "signature); the author of a version cannot approve it.")

    class Meta:
        verbose_name = _("signed group approval task")
        verbose_name_plural = _("signed group approval tasks")


class ApprovalSignature(models.Model):
    """One signed approval of one step of a version's review (21 CFR 11.50): written once, never changed."""

    task_state = models.OneToOneField("wagtailcore.TaskState", on_delete=models.PROTECT,
                                      related_name="approval_signature", verbose_name=_("workflow step"))
    page = models.ForeignKey("wagtailcore.Page", on_delete=models.PROTECT, related_name="approval_signatures",
                             verbose_name=_("version"))
    revision = models.ForeignKey("wagtailcore.Revision", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("revision approved"))
    step = models.CharField(_("step"), max_length=255)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("signed by"))
    signer_name = models.CharField(_("signer's name"), max_length=300)
    role = models.CharField(_("role"), max_length=100)
    signed_at = models.DateTimeField(_("signed at"))
    meaning = models.CharField(_("meaning"), max_length=600)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("approval signature")
        verbose_name_plural = _("approval signatures")
        ordering = ["signed_at", "pk"]

    def __str__(self):
        return self.meaning

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError(_("An approval signature is never changed."))
        super().save(*args, **kwargs)
