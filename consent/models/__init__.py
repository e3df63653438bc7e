from .forms import ConsentFormIndexPage, ConsentFormVersionPage, FormEffectivity, Language, SignedMaster
from .participants import ConsentRecord, ConsentTask, Participant, ParticipantCounter

__all__ = [
    "ConsentFormIndexPage",
    "ConsentFormVersionPage",
    "ConsentRecord",
    "ConsentTask",
    "FormEffectivity",
    "Language",
    "Participant",
    "ParticipantCounter",
    "SignedMaster",
]
