from .audit import AuditEntry
from .correspondence import (
    CorrespondenceAttachment,
    CorrespondenceIndexPage,
    CorrespondenceItemPage,
    CorrespondenceLink,
    SubmissionPage,
)
from .documents import TrialCollection
from .inspection import InspectorGrant
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
from .tmf import TmfArtifact, TmfDocument, TmfExpectation, TmfExportJob, TmfLevel, TmfSection, TmfZone
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
    "InspectorGrant",
    "InvestigationalSite",
    "Role",
    "RoleGroup",
    "SiteGroupObjectPermission",
    "SiteUserObjectPermission",
    "TmfArtifact",
    "TmfDocument",
    "TmfExpectation",
    "TmfExportJob",
    "TmfLevel",
    "TmfSection",
    "TmfZone",
    "TrialArm",
    "TrialGroupObjectPermission",
    "TrialPage",
    "TrialUserObjectPermission",
]
