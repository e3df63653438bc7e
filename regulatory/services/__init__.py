"""Writes of the regulatory app. Each runs in one transaction and leaves its audit entries."""

from .inspection import grant_create, grant_revoke
from .protocol import (
    acknowledgement_create,
    activation_create,
    activation_notify,
    activations_notify_due,
    reminder_send,
)
from .records import correspondence_item_create, protocol_version_create, submission_create
from .trials import (
    account_audit,
    account_state,
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
    "account_audit",
    "account_state",
    "acknowledgement_create",
    "activation_create",
    "activation_notify",
    "activations_notify_due",
    "correspondence_item_create",
    "grant_create",
    "grant_revoke",
    "page_revision_audit",
    "protocol_version_create",
    "reminder_send",
    "review_workflow",
    "role_grant",
    "role_group_for",
    "role_revoke",
    "site_create",
    "site_update",
    "submission_create",
    "trial_create",
    "trial_setup",
    "trial_update",
]
