"""What each role holds: the object permissions a role group is given on its trial or site, the Wagtail
permissions of the sponsor's group, and what the home page says each role allows (`ROLE_CAPABILITIES`).

`regulatory.services.trials` gives these to the role groups it creates; `regulatory.permissions.access` reads them
back. Nothing here asks the database.
"""

from django.utils.translation import gettext_lazy as _

from ..models import Role
from ..models.roles import SITE_ROLES

ACCESS_TRIAL = "regulatory.access_trial"
MANAGE_TRIAL = "regulatory.manage_trial"
ACCESS_SITE = "regulatory.access_site"
ACKNOWLEDGE_AMENDMENT = "regulatory.acknowledge_amendment"
RECORD_CONSENT = "regulatory.record_consent"

TRIAL_ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.SPONSOR: (ACCESS_TRIAL, MANAGE_TRIAL),
    Role.SPONSOR_QA: (ACCESS_TRIAL,),
    Role.TMF_QC: (ACCESS_TRIAL,),  # reads the TMF; its QC decisions: `tmf_qc_refusal`
    Role.INSPECTOR: (),  # access only through an open inspection window: see `active_grants`
}
SITE_ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.INVESTIGATOR: (ACCESS_SITE, ACKNOWLEDGE_AMENDMENT, RECORD_CONSENT),
    Role.COORDINATOR: (ACCESS_SITE, ACKNOWLEDGE_AMENDMENT, RECORD_CONSENT),
}
# The roles held on one site (a role group with a site): investigator, coordinator.
SITE_ROLE_VALUES = frozenset(r.value for r in SITE_ROLES)
# Wagtail page permissions of the sponsor group on its trial's subtree. Never "delete": history stays.
SPONSOR_PAGE_PERMISSIONS = ("add", "change", "publish", "lock", "unlock")
# Model-level permissions: entry to the Wagtail admin only (sponsor to edit, QA to review).
ADMIN_ACCESS_ROLES = {Role.SPONSOR: ("wagtailadmin.access_admin",), Role.SPONSOR_QA: ("wagtailadmin.access_admin",)}
# Document permissions of the sponsor group on the trial's collections.
SPONSOR_COLLECTION_PERMISSIONS = ("add_document", "change_document", "choose_document")

ROLE_CAPABILITIES = {
    "administrator": [
        _("Manage users, their roles and the investigational sites in the administration."),
        _("Consult every trial and every site."),
    ],
    Role.SPONSOR: [
        _("Edit the trial page and publish it in the administration."),
        _("Draft protocol amendments, submit them to review, and record ethics and authority correspondence."),
        _("Make approved versions effective per site and follow the sites' acknowledgements."),
        _("Add and edit the trial's investigational sites."),
        _("Consult every site of the trial and its team."),
        _("File essential documents in the Trial Master File, follow its completeness, export it, and open "
          "inspection windows."),
    ],
    Role.SPONSOR_QA: [
        _("Review protocol versions submitted for quality assurance in the administration."),
        _("Consult the trial, its correspondence and every site, read-only."),
    ],
    Role.TMF_QC: [
        _("Check the quality of the documents filed in the Trial Master File: approve them, or reject them with a "
          "QC issue (never a document you filed yourself)."),
        _("Follow the QC metrics of the trial, its countries and sites, and export them."),
    ],
    Role.INSPECTOR: [
        _("During the inspection window the sponsor opened: browse and search the Trial Master File, read and "
          "download its documents and their history, and follow the audit trail."),
        _("Consult the trial, its correspondence and the sites of the window, read-only."),
    ],
    Role.INVESTIGATOR: [
        _("Register participants, record their consents with a signed PDF, and follow the site's to-do list."),
        _("Consult your site's page and its team."),
        _("Read the trial's page, its current protocol and amendment summaries."),
        _("Acknowledge the amendments that take effect at your site."),
    ],
    Role.COORDINATOR: [
        _("Register participants, record their consents with a signed PDF, and follow the site's to-do list."),
        _("Consult your site's page and its team."),
        _("Read the trial's page, its current protocol and amendment summaries."),
        _("Acknowledge the amendments that take effect at your site."),
    ],
}
