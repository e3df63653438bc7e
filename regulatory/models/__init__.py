from .audit import AuditEntry
from .correspondence import (
    CorrespondenceAttachment,
    CorrespondenceIndexPage,
    CorrespondenceItemPage,
    CorrespondenceLink,
    SubmissionPage,
)
from .documents import TrialCollection
from .protocol import (
    ActivationNotice,
    ConsentKind,
    ProtocolPage,
    ProtocolVersionPage,
    SiteAcknowledgement,
    SiteActivation,
)
from .roles import Role, RoleGroup
from .sites import InvestigationalSite, SiteGroupObjectPermission, SiteUserObjectPermission
from .tmf import TmfArtifact, TmfSection, TmfZone
from .trials import TrialArm, TrialGroupObjectPermission, TrialPage, TrialUserObjectPermission

__all__ = [
    "ActivationNotice",
    "ConsentKind",
    "CorrespondenceAttachment",
    "CorrespondenceIndexPage",
    "CorrespondenceItemPage",
    "CorrespondenceLink",
    "ProtocolPage",
    "ProtocolVersionPage",
    "SiteAcknowledgement",
    "SiteActivation",
    "SubmissionPage",
    "TrialCollection",
    "AuditEntry",
    "InvestigationalSite",
    "Role",
    "RoleGroup",
    "SiteGroupObjectPermission",
    "SiteUserObjectPermission",
    "TmfArtifact",
    "TmfSection",
    "TmfZone",
    "TrialArm",
    "TrialGroupObjectPermission",
    "TrialPage",
    "TrialUserObjectPermission",
]
