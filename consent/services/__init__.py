"""Writes of the consent app. Each runs in one transaction and leaves its audit entries."""

from .forms import (
    consent_version_create,
    consent_version_export,
    consent_version_import,
    form_make_effective,
    form_withdraw,
    index_of,
    next_version_number,
    trial_consent_setup,
    trial_of,
)
from .records import (
    ConsentInput,
    consent_record_create,
    decode_drawn_signature,
    normalise_signature_image,
    participant_create,
    participant_record_death,
    participant_withdraw,
    reconsent_tasks_open,
)

__all__ = [
    "ConsentInput",
    "consent_record_create",
    "decode_drawn_signature",
    "normalise_signature_image",
    "participant_create",
    "participant_record_death",
    "participant_withdraw",
    "reconsent_tasks_open",
    "consent_version_create",
    "consent_version_export",
    "consent_version_import",
    "form_make_effective",
    "form_withdraw",
    "index_of",
    "next_version_number",
    "trial_consent_setup",
    "trial_of",
]
