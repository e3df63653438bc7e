"""Who may do what: the one permissions authority that every view, selector, service and Wagtail admin listing asks.

Roles:
- administrator: an active superuser; manages users, roles and sites everywhere and reads every trial and site, but
  does not do, by virtue of being one, what is a site's staff's (record, acknowledge, countersign, the ISF), a
  trial's TMF QC's, or forbidden to everyone (four eyes, Wagtail page actions refused on a trial's pages).
- sponsor (per trial): consults every site of the trial and manages the trial, its sites and teams.
- sponsor QA, TMF QC (per trial): read the trial, its trial-wide records and every site; QA reviews versions in
  their workflow, TMF QC decides the quality control of the TMF's documents.
- inspector: consults one trial (or some of its sites) during an inspection window granted by the sponsor
  (`InspectorGrant`), read-only; outside the window sees nothing; never writes anything.
- investigator, coordinator (per site): consult their own site (and their trial's page) only, and record there
  what the principal investigator's delegation log lets them record.

Trial and site roles are memberships of a `RoleGroup`; what a role allows is the set of django-guardian object
permissions of `roles`, given to that group on the trial or on the site (`regulatory.services.trials`). What a user
reads or manages comes from those object permissions and from their open inspection windows (guardian's per-object
tables and the windows, read by `access.Access`), never from model-level permissions: a model-level permission
never widens a listing (the one model-level permission read is Wagtail's `access_admin`, for the way into the
admin). What only a role does (TMF QC, site staff, investigators, inspectors) also asks the role itself.

The package, by concern:
- `roles`: the permission codenames, what each role is given, what the home page says each role allows;
- `access`: the per-request snapshot of what a user holds (`Access`, one SQL query), its cache and middleware;
- `queries`: the trials, sites, role groups, windows and API tokens a user reads or manages, as querysets;
- `rules`: the decisions on trials, sites, pages, documents, the TMF, API tokens and approvals;
- `delegation`: what a site's own staff may do there (the delegation log, consents, the ISF);
- `policies`: Wagtail's permission policy of sites and the rules on Wagtail's page actions.

Everything public is imported from here (`from regulatory import permissions`). A name is looked up in the module
that uses it: a test that patches one patches it there (e.g. `regulatory.permissions.rules.can_manage_trial` for
`rules`), and here for callers outside the package.
"""

from .access import (
    Access,
    AccessCacheMiddleware,
    access,
    forget_access,
    is_administrator,
    is_authenticated,
    request_cache,
)
from .delegation import (
    can_acknowledge,
    can_attest_emergency_inclusion,
    can_countersign_consent,
    can_do_delegated,
    can_keep_delegation_log,
    can_read_delegation_log,
    can_read_isf,
    can_record_consent,
    can_record_death,
    can_record_withdrawal,
    can_register_participant,
    delegation_refusal,
    emergency_refusal,
    is_principal_investigator,
    is_site_staff,
    prints_site_forms,
)
from .policies import (
    ALWAYS_REFUSED,
    FROZEN,
    PAGE_ACTIONS,
    SPONSOR_ONLY,
    InvestigationalSitePolicy,
    TrialPagePermissionTester,
    holds_a_trial,
    page_action_allowed,
    page_action_refusal,
)
from .queries import (
    active_grants,
    api_tokens_managed,
    inspector_candidates,
    inspector_refusal,
    roles_held,
    site_investigators,
    site_staff_members,
    sites_accessible,
    sites_managed,
    sites_not_read,
    trials_accessible,
    trials_managed,
    trials_read_trial_wide,
)
from .roles import (
    ACCESS_SITE,
    ACCESS_TRIAL,
    ACKNOWLEDGE_AMENDMENT,
    ADMIN_ACCESS_ROLES,
    MANAGE_TRIAL,
    RECORD_CONSENT,
    ROLE_CAPABILITIES,
    SITE_ROLE_PERMISSIONS,
    SITE_ROLE_VALUES,
    SPONSOR_COLLECTION_PERMISSIONS,
    SPONSOR_PAGE_PERMISSIONS,
    TRIAL_ROLE_PERMISSIONS,
)
from .rules import (
    api_token_may_read_scope,
    api_token_sites,
    api_token_usable,
    approval_refusal,
    can_access_site,
    can_access_trial,
    can_add_site,
    can_check_fixity,
    can_file_in_tmf,
    can_issue_api_token,
    can_manage_site,
    can_manage_trial,
    can_moderate_approval_task,
    can_qc_tmf,
    can_read_document,
    can_read_page,
    can_read_trial_wide,
    can_revoke_api_token,
    can_use_admin,
    is_inspector,
    reads_every_site,
    sees_tmf_qc_pending,
    tmf_documents_visible,
    tmf_package_holds_unapproved,
    tmf_qc_refusal,
    version_authors,
)

__all__ = [
    "ACCESS_SITE",
    "ACCESS_TRIAL",
    "ACKNOWLEDGE_AMENDMENT",
    "ADMIN_ACCESS_ROLES",
    "ALWAYS_REFUSED",
    "Access",
    "AccessCacheMiddleware",
    "FROZEN",
    "InvestigationalSitePolicy",
    "MANAGE_TRIAL",
    "PAGE_ACTIONS",
    "RECORD_CONSENT",
    "ROLE_CAPABILITIES",
    "SITE_ROLE_PERMISSIONS",
    "SITE_ROLE_VALUES",
    "SPONSOR_COLLECTION_PERMISSIONS",
    "SPONSOR_ONLY",
    "SPONSOR_PAGE_PERMISSIONS",
    "TRIAL_ROLE_PERMISSIONS",
    "TrialPagePermissionTester",
    "access",
    "active_grants",
    "api_token_may_read_scope",
    "api_token_sites",
    "api_token_usable",
    "api_tokens_managed",
    "approval_refusal",
    "can_access_site",
    "can_access_trial",
    "can_acknowledge",
    "can_add_site",
    "can_attest_emergency_inclusion",
    "can_check_fixity",
    "can_countersign_consent",
    "can_do_delegated",
    "can_file_in_tmf",
    "can_issue_api_token",
    "can_keep_delegation_log",
    "can_manage_site",
    "can_manage_trial",
    "can_moderate_approval_task",
    "can_qc_tmf",
    "can_read_delegation_log",
    "can_read_document",
    "can_read_isf",
    "can_read_page",
    "can_read_trial_wide",
    "can_record_consent",
    "can_record_death",
    "can_record_withdrawal",
    "can_register_participant",
    "can_revoke_api_token",
    "can_use_admin",
    "delegation_refusal",
    "emergency_refusal",
    "forget_access",
    "holds_a_trial",
    "inspector_candidates",
    "inspector_refusal",
    "is_administrator",
    "is_authenticated",
    "is_inspector",
    "is_principal_investigator",
    "is_site_staff",
    "page_action_allowed",
    "page_action_refusal",
    "prints_site_forms",
    "reads_every_site",
    "request_cache",
    "roles_held",
    "sees_tmf_qc_pending",
    "site_investigators",
    "site_staff_members",
    "sites_accessible",
    "sites_managed",
    "sites_not_read",
    "tmf_documents_visible",
    "tmf_package_holds_unapproved",
    "tmf_qc_refusal",
    "trials_accessible",
    "trials_managed",
    "trials_read_trial_wide",
    "version_authors",
]
