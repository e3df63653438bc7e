"""The decisions: may this user do that to this object, and if not, why (`…_refusal`: the message, or None).

Trials and sites, pages and documents, the Trial Master File, the FHIR API's tokens and the approvals of the review
workflow. What site staff may do (acknowledgements, the delegation log, consents, the ISF) is in
`regulatory.permissions.delegation`; Wagtail's page actions in `regulatory.permissions.policies`.
"""

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from wagtail.models import Page

from ..models import ApiToken, InspectorGrant, InvestigationalSite, QcStatus, Role, TmfDocument, TrialPage
from .access import access, is_administrator, is_authenticated
from .queries import sites_accessible, sites_not_read, trials_managed
from .roles import ACCESS_TRIAL, MANAGE_TRIAL

# --- Trials and sites -------------------------------------------------------------------------------------------

def can_access_trial(user, trial: TrialPage) -> bool:
    """Reading the trial (its page, its protocol, the sites the user reads): `trials_accessible`, for one trial."""
    if not is_authenticated(user):
        return False
    return is_administrator(user) or trial.pk in access(user).readable_trials


def can_manage_trial(user, trial: TrialPage) -> bool:
    """Managing the trial, its sites, versions and TMF: its sponsor (`manage_trial`) and administrators."""
    return is_administrator(user) or (
        is_authenticated(user) and MANAGE_TRIAL in access(user).trial_perms.get(trial.pk, ()))


def can_access_site(user, site: InvestigationalSite) -> bool:
    """Reading the site: `sites_accessible`, for one site."""
    if is_administrator(user):
        return True
    if not is_authenticated(user):
        return False
    return access(user).reads_site(site.pk, site.trial_id)


def can_manage_site(user, site: InvestigationalSite) -> bool:
    """Whoever manages the site's trial."""
    return can_manage_trial(user, site.trial)


def can_add_site(user) -> bool:
    """Whoever manages at least one trial."""
    return trials_managed(user).exists()


def can_read_trial_wide(user, trial: TrialPage) -> bool:
    """Trial-wide records (regulatory correspondence, the TMF): sponsor, QA, TMF QC, inspectors in their window,
    administrators."""
    return is_administrator(user) or (is_authenticated(user) and access(user).reads_trial_wide(trial.pk))


def is_inspector(user) -> bool:
    """Someone whose only part in the system is inspecting (an active non-administrator holding no role but the
    inspector's, and holding that role or having ever been given an inspection window, even a closed or revoked
    one): read-only everywhere, every request audited (`regulatory.middleware.InspectorMiddleware`)."""
    if not is_authenticated(user) or is_administrator(user):
        return False
    roles = {role for role, _trial, _site in access(user).role_groups}
    if roles - {Role.INSPECTOR}:
        return False
    return bool(roles) or InspectorGrant.objects.filter(inspector=user).exists()


# --- Pages, documents, the admin ----------------------------------------------------------------------------------

def can_use_admin(user) -> bool:
    """Whether to show the way into the Wagtail admin (the admin checks `access_admin` again itself)."""
    return is_authenticated(user) and access(user).uses_admin


def can_read_page(user, page) -> bool:
    """Front-end reading of any page: a trial and its subtree need trial access; a subtree whose root page says
    `trial_wide_only` (correspondence, every consent-form version) needs `can_read_trial_wide`. A page outside every
    trial: any logged-in, active account."""
    if isinstance(page, TrialPage):  # the trial itself and its sub-routes (sites, forms, participants)
        return can_access_trial(user, page)
    ancestors = list(page.get_ancestors(inclusive=True))  # one query; the classes come from cached content types
    trial = next((a for a in ancestors if issubclass(a.specific_class or Page, TrialPage)), None)
    if trial is None:
        return is_authenticated(user)
    if not can_access_trial(user, trial):
        return False
    if any(getattr(a.specific_class, "trial_wide_only", False) for a in ancestors if a.depth >= trial.depth):
        return can_read_trial_wide(user, trial)
    return True


def can_read_document(user, document) -> bool:
    """A private document: administrators; else only through a trial collection whose audience includes the user
    (`can_access_trial` or `can_read_trial_wide`, as the collection says)."""
    from ..models import TrialCollection

    if is_administrator(user):
        return True
    scope = TrialCollection.objects.filter(collection_id=document.collection_id).select_related("trial").first()
    if scope is None:
        return False
    if scope.audience == TrialCollection.Audience.TRIAL:
        return can_access_trial(user, scope.trial)
    return can_read_trial_wide(user, scope.trial)


# --- The Trial Master File ----------------------------------------------------------------------------

def reads_every_site(user, trial: TrialPage) -> bool:
    """Whether the user may read every site of the trial: no site of the trial is outside `sites_accessible`
    (one query besides the user's `Access`; none for an administrator, who reads every site)."""
    if is_administrator(user):
        return True
    if not is_authenticated(user):
        return False
    return not sites_not_read(user, [trial.pk]).exists()


def tmf_documents_visible(user, trial: TrialPage) -> QuerySet:
    """The trial's TMF documents the user may read (those who read the trial wide: `can_read_trial_wide`):
    trial- and country-level ones, and site-level ones of the sites the user may read (an inspector's window may
    cover only some sites); only QC-approved ones unless the user `sees_tmf_qc_pending`.

    A reader of every site of the trial (sponsor, QA, administrator, an inspector whose window names no site)
    gets the trial's documents with no site condition at all: the condition would hold for every row, but
    PostgreSQL would still evaluate it row by row and could no longer count or list from the indexes alone
    (bench/RESULTS.md (b)). Every writer files a site-level document under a site of its own trial
    (`regulatory.tmf`: `uploads.file_upload`, `filing.refile`, `exchange.import_package`).
    """
    if not can_read_trial_wide(user, trial):
        return TmfDocument.objects.none()
    documents = TmfDocument.objects.filter(trial=trial).select_related("artifact__section__zone", "site")
    if not sees_tmf_qc_pending(user, trial):
        documents = documents.filter(qc_status=QcStatus.APPROVED)
    if reads_every_site(user, trial):
        return documents
    sites = sites_accessible(user).filter(trial=trial).values("pk")
    return documents.filter(Q(site__isnull=True) | Q(site__in=sites))


def sees_tmf_qc_pending(user, trial: TrialPage) -> bool:
    """The sponsor's side (sponsor, QA, TMF QC, administrators) sees documents pending QC or rejected, marked as
    such; everyone else (inspectors, site staff) sees only what QC approved."""
    return is_administrator(user) or (
        is_authenticated(user) and ACCESS_TRIAL in access(user).trial_perms.get(trial.pk, ()))


def can_qc_tmf(user, trial: TrialPage) -> bool:
    """Members of the trial's TMF QC role (never an administrator by virtue of being one) decide QC."""
    return is_authenticated(user) and any(
        role == Role.TMF_QC and trial_id == trial.pk and site_id is None
        for role, trial_id, site_id in access(user).role_groups)


def tmf_qc_refusal(user, document: TmfDocument) -> str | None:
    """Why `user` may not approve or reject `document` at QC, or None: only `can_qc_tmf`, only while the document
    is pending QC, and four eyes: whoever filed a document never checks it, whatever their roles."""
    if not can_qc_tmf(user, document.trial):
        return str(_("Only a member of the trial's TMF quality-control role checks its documents. Nothing was "
                     "changed."))
    if document.filed_by_id is not None and document.filed_by_id == user.pk:
        return str(_("You filed this document: its quality control is done by someone else (four eyes). Nothing "
                     "was changed."))
    if document.qc_status != QcStatus.PENDING:
        return str(_("This document is no longer pending QC (%(status)s). Nothing was changed.")
                   % {"status": QcStatus(document.qc_status).label})
    return None


def tmf_package_holds_unapproved(user, job) -> bool:
    """Whether an export package holds documents the user may not read because QC had not approved them: a
    package holds every document of the trial when it was made; one filed by then and still not QC-approved was in
    it unapproved (approval is final, a rejected document stays rejected). The sponsor's side reads them anyway."""
    if sees_tmf_qc_pending(user, job.trial):
        return False
    made = job.finished_at or job.requested_at
    return TmfDocument.objects.filter(trial_id=job.trial_id, filed_at__lte=made).exclude(
        qc_status=QcStatus.APPROVED).exists()


def can_file_in_tmf(user, trial: TrialPage) -> bool:
    """Filing by hand and starting exports: the trial's sponsor and administrators."""
    return can_manage_trial(user, trial)


def can_check_fixity(user, trial: TrialPage) -> bool:
    """Starting a fixity check of the trial's stored files from the web and reading its reports: the trial's sponsor
    and administrators (the command line is the server operator's)."""
    return can_manage_trial(user, trial)


# --- API tokens (the FHIR API of consent.fhir) --------------------------------------------------------------------

def can_issue_api_token(actor, trial: TrialPage) -> bool:
    """An administrator, or the trial's sponsor, issues and revokes the trial's API tokens."""
    return can_manage_trial(actor, trial)


def can_revoke_api_token(actor, token: ApiToken) -> bool:
    """Whoever manages the token's trial."""
    return can_manage_trial(actor, token.trial)


def api_token_may_read_scope(user, trial: TrialPage, site: InvestigationalSite | None) -> bool:
    """Whether a token for this user on this trial (or site) may be issued: the user reads it already. A token
    never reads more than its user."""
    if not is_authenticated(user):
        return False
    if site is not None:
        return site.trial_id == trial.pk and can_access_site(user, site)
    return can_access_trial(user, trial)


def api_token_usable(token: ApiToken | None, at=None) -> bool:
    """A token answers only while it is neither expired nor revoked, its user is active and still reads its trial
    (or site); anything else is a 401."""
    if token is None or not token.is_live(at):
        return False
    return api_token_may_read_scope(token.user, token.trial, token.site if token.site_id else None)


def api_token_sites(token: ApiToken) -> QuerySet[InvestigationalSite]:
    """The sites whose records a usable token reads: the sites of its trial its user reads, narrowed to its site
    when it has one. A site-scoped token never reads another site."""
    if not api_token_usable(token):
        return InvestigationalSite.objects.none()
    sites = sites_accessible(token.user).filter(trial_id=token.trial_id)
    if token.site_id is not None:
        sites = sites.filter(pk=token.site_id)
    return sites


# --- Approvals in the review workflow (electronic signatures, four eyes) --------------------------------------

def can_moderate_approval_task(user, task) -> bool:
    """A member of one of the step's groups (or an administrator) reviews the versions at this step."""
    if not is_authenticated(user):
        return False
    return is_administrator(user) or task.groups.filter(pk__in=user.groups.values("pk")).exists()


def version_authors(page) -> set[int]:
    """Who wrote a version: its owner, the user of each of its revisions, and whoever submitted it to review."""
    from wagtail.models import Revision

    authors = set(Revision.objects.filter(base_content_type_id=page.get_base_content_type().pk,
                                          object_id=str(page.pk)).exclude(user=None)
                  .values_list("user_id", flat=True))
    if page.owner_id:
        authors.add(page.owner_id)
    state = page.current_workflow_state
    if state is not None and state.requested_by_id:
        authors.add(state.requested_by_id)
    return authors


def approval_refusal(user, page) -> str | None:
    """Why `user` may not approve `page` at its current review step, or None. Four eyes (EU GCP, 21 CFR 11.10(g)):
    the author of a version approves none of its steps, administrators included; someone else signs."""
    if not is_authenticated(user):
        return str(_("Log in to approve."))
    if user.pk in version_authors(page):
        return str(_("You wrote this version: its approval is signed by someone else (four eyes). Nothing was "
                     "approved."))
    return None
