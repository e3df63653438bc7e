from .api_tokens import ApiToken
from .approvals import ApprovalSignature, SignedApprovalTask
from .audit import AuditEntry
from .correspondence import (
    CorrespondenceAttachment,
    CorrespondenceIndexPage,
    CorrespondenceItemPage,
    CorrespondenceLink,
    SubmissionPage,
)
from .delegation import DelegatedTask, DelegationEntry, DelegationLogPrint
from .documents import TrialCollection
from .in_trial import InTrial
from .inspection import InspectorGrant
from .protocol import (
    ActivationNotice,
    ConsentKind,
    ProtocolPage,
    ProtocolVersionPage,
    SiteAcknowledgement,
    SiteActivation,
)
from .qc import QcStatus, TmfArtifactMilestone, TmfMilestone, TmfQcIssue, TmfSettings, TrialMilestone
from .roles import Role, RoleGroup
from .sites import InvestigationalSite, SiteGroupObjectPermission, SiteUserObjectPermission
from .tallies import TmfDocumentCount, TmfQcIssueCount, TmfQcTally
from .tmf import FixityRun, TmfArtifact, TmfDocument, TmfExpectation, TmfExportJob, TmfLevel, TmfSection, TmfZone
from .trials import TrialArm, TrialGroupObjectPermission, TrialPage, TrialUserObjectPermission

__all__ = [
    "ApiToken",
    "ActivationNotice",
    "ApprovalSignature",
    "SignedApprovalTask",
    "ConsentKind",
    "CorrespondenceAttachment",
    "DelegatedTask",
    "DelegationEntry",
    "DelegationLogPrint",
    "CorrespondenceIndexPage",
    "CorrespondenceItemPage",
    "CorrespondenceLink",
    "InTrial",
    "ProtocolPage",
    "ProtocolVersionPage",
    "SiteAcknowledgement",
    "SiteActivation",
    "SubmissionPage",
    "TrialCollection",
    "AuditEntry",
    "InspectorGrant",
    "InvestigationalSite",
    "QcStatus",
    "Role",
    "RoleGroup",
    "SiteGroupObjectPermission",
    "SiteUserObjectPermission",
    "TmfArtifact",
    "TmfDocument",
    "TmfDocumentCount",
    "TmfQcIssueCount",
    "TmfQcTally",
    "TmfExpectation",
    "TmfExportJob",
    "FixityRun",
    "TmfArtifactMilestone",
    "TmfMilestone",
    "TmfQcIssue",
    "TmfSettings",
    "TrialMilestone",
    "TmfLevel",
    "TmfSection",
    "TmfZone",
    "TrialArm",
    "TrialGroupObjectPermission",
    "TrialPage",
    "TrialUserObjectPermission",
]
