from .audit import AuditEntry
from .roles import Role, RoleGroup
from .sites import InvestigationalSite, SiteGroupObjectPermission, SiteUserObjectPermission
from .trials import TrialArm, TrialGroupObjectPermission, TrialPage, TrialUserObjectPermission

__all__ = [
    "AuditEntry",
    "InvestigationalSite",
    "Role",
    "RoleGroup",
    "SiteGroupObjectPermission",
    "SiteUserObjectPermission",
    "TrialArm",
    "TrialGroupObjectPermission",
    "TrialPage",
    "TrialUserObjectPermission",
]
