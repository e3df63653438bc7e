"""Writes of the regulatory app. Each runs in one transaction and leaves its audit entries. (The TMF's writes —
filing by hand, QC, inspection windows — are in `regulatory.tmf`.)"""

from .api_tokens import api_token_issue, api_token_revoke
from .protocol import (
    acknowledgement_create,
    activation_create,
    activation_notify,
    activations_notify_due,
    reminder_send,
)
from .records import correspondence_item_create, protocol_version_create, submission_create
from .signatures import approval_check, approval_meaning, approval_refusal_for, approval_sign, signatures_of
from .trials import (
    account_audit,
    account_state,
    ensure_review_workflow,
    page_revision_audit,
    review_workflow,
    role_grant,
    role_group_for,
    role_revoke,
    site_create,
    site_update,
    trial_create,
    trial_setup,
    trial_update,
)

__all__ = [
    "api_token_issue",
    "api_token_revoke",
    "account_audit",
    "account_state",
    "acknowledgement_create",
    "activation_create",
    "activation_notify",
    "activations_notify_due",
    "approval_check",
    "approval_meaning",
    "approval_refusal_for",
    "approval_sign",
    "correspondence_item_create",
    "ensure_review_workflow",
    "page_revision_audit",
    "protocol_version_create",
    "reminder_send",
    "review_workflow",
    "role_grant",
    "role_group_for",
    "role_revoke",
    "site_create",
    "signatures_of",
    "site_update",
    "submission_create",
    "trial_create",
    "trial_setup",
    "trial_update",
]
