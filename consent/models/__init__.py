from .archival import ArchivalFile, ArchivalRevision
from .forms import (
    ConsentFormIndexPage,
    ConsentFormVersionPage,
    FormAcknowledgement,
    FormEffectivity,
    FormNotice,
    Language,
    SignedMaster,
)
from .participants import (
    WITHDRAWAL_ENDS_PARTICIPATION,
    WITHDRAWAL_ORDER,
    ConsentRecord,
    ConsentRecordRevision,
    ConsentTask,
    Participant,
    ParticipantCounter,
    Withdrawal,
)
from .remote import RemoteConsentInvitation

__all__ = [
    "ArchivalFile",
    "ArchivalRevision",
    "ConsentFormIndexPage",
    "ConsentFormVersionPage",
    "ConsentRecord",
    "ConsentRecordRevision",
    "ConsentTask",
    "FormAcknowledgement",
    "FormEffectivity",
    "FormNotice",
    "Language",
    "Participant",
    "ParticipantCounter",
    "RemoteConsentInvitation",
    "SignedMaster",
    "WITHDRAWAL_ENDS_PARTICIPATION",
    "WITHDRAWAL_ORDER",
    "Withdrawal",
]
