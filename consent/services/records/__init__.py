"""Participants and their consent records: the consent pathway, withdrawal, re-consent, the signed consent PDF and
the investigator's countersignature. One module per concern; the names other modules use are imported from here."""

from .access import emergency_refusal_message, is_site_investigator, signing_suspended
from .consents import ConsentInput, consent_record_create
from .countersignature import consent_countersign
from .participants import participant_close_screening, participant_create, participant_record_death
from .pathway import kinds_not_offered
from .signatures import decode_drawn_signature, normalise_signature_image, typed_signature_image
from .tasks import reconsent_tasks_close, reconsent_tasks_open, task_inform_close
from .withdrawals import participant_withdraw, withdrawal_scopes_left

__all__ = [
    "ConsentInput",
    "consent_countersign",
    "consent_record_create",
    "decode_drawn_signature",
    "emergency_refusal_message",
    "is_site_investigator",
    "kinds_not_offered",
    "normalise_signature_image",
    "participant_close_screening",
    "participant_create",
    "participant_record_death",
    "participant_withdraw",
    "reconsent_tasks_close",
    "reconsent_tasks_open",
    "signing_suspended",
    "task_inform_close",
    "typed_signature_image",
    "withdrawal_scopes_left",
]
