"""Writes of the regulatory backbone. Each runs in one transaction and leaves its audit entries."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, get_perms
from wagtail.models import (
    Collection,
    GroupCollectionPermission,
    GroupPagePermission,
    Page,
    Revision,
    Workflow,
    WorkflowPage,
    WorkflowTask,
)

from .. import audit, permissions
from ..models import (
    CorrespondenceIndexPage,
    InvestigationalSite,
    ProtocolPage,
    Role,
    RoleGroup,
    SignedApprovalTask,
    TrialArm,
    TrialCollection,
    TrialPage,
)
from ..models.roles import SITE_ROLES, TRIAL_ROLES
from ..permissions import (
    ADMIN_ACCESS_ROLES,
    SITE_ROLE_PERMISSIONS,
    SPONSOR_COLLECTION_PERMISSIONS,
    SPONSOR_PAGE_PERMISSIONS,
    TRIAL_ROLE_PERMISSIONS,
)

TRIAL_AUDIT_FIELDS = (
    "title", "slug", "acronym", "nct_number", "eu_ct_number", "org_study_id", "sponsor_name", "phase",
    "target_enrolment", "status", "start_date", "completion_date", "condition", "design_summary",
)
SITE_AUDIT_FIELDS = (
    "trial", "code", "name", "city", "country", "principal_investigator", "principal_investigator_account", "status",
    "activation_date", "is_demo",
)
SITE_IMMUTABLE_FIELDS = ("trial", "code")


# --- Trials -----------------------------------------------------------------------------------------

def _arm_lines(arms: Iterable[Mapping[str, Any]]) -> list[str]:
    return [f"{a['label']} ({a['arm_type']}): {a['intervention']}" for a in arms]


def _trial_values(trial: TrialPage) -> dict[str, Any]:
    values = audit.snapshot(trial, TRIAL_AUDIT_FIELDS)
    values["arms"] = _arm_lines(
        {"label": a.label, "arm_type": a.arm_type, "intervention": a.intervention} for a in trial.arms.all()
    )
    return values


@transaction.atomic
def trial_create(*, actor, parent: Page, arms: Iterable[Mapping[str, Any]] = (), **fields) -> TrialPage:
    """Create and publish a trial page under `parent`, with its sponsor and inspector role groups."""
    trial = TrialPage(**fields, live=False)
    trial.arms = [TrialArm(**arm) for arm in arms]
    parent.add_child(instance=trial)
    trial.save_revision(user=actor, log_action=False).publish(user=actor, log_action=False)
    audit.record(actor=actor, action="trial.created", obj=trial, changes=audit.diff({}, _trial_values(trial)))
    trial_setup(actor=actor, trial=trial)
    return trial


@transaction.atomic
def trial_update(*, actor, trial: TrialPage, arms: Iterable[Mapping[str, Any]] | None = None,
                 **fields) -> TrialPage:
    """Change a trial and publish the change; nothing is written when nothing differs."""
    trial = TrialPage.objects.select_for_update().get(pk=trial.pk)
    before = _trial_values(trial)
    for name, value in fields.items():
        setattr(trial, name, value)
    if arms is not None:
        trial.arms = [TrialArm(**arm) for arm in arms]
    after = {**audit.snapshot(trial, TRIAL_AUDIT_FIELDS),
             "arms": _arm_lines(arms) if arms is not None else before["arms"]}
    changes = audit.diff(before, after)
    if not changes:
        return trial
    trial.full_clean()
    trial.save_revision(user=actor, log_action=False).publish(user=actor, log_action=False)
    audit.record(actor=actor, action="trial.changed", obj=trial, changes=changes)
    return trial


# Revision keys that are Wagtail's bookkeeping rather than the record's content.
PAGE_BOOKKEEPING = {
    "pk", "id", "path", "depth", "numchild", "url_path", "draft_title", "live", "has_unpublished_changes",
    "latest_revision", "latest_revision_created_at", "first_published_at", "last_published_at", "live_revision",
    "locked", "locked_at", "locked_by", "owner", "content_type", "translation_key", "locale", "alias_of",
    "expired", "page_ptr", "wagtail_admin_comments", "comments",
}
CHILD_BOOKKEEPING = {"pk", "id", "sort_order", "trial", "item"}


def _content(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [{k: v for k, v in row.items() if k not in CHILD_BOOKKEEPING} for row in value]
    return value


def _revision_values(revision: Revision | None) -> dict[str, Any]:
    if revision is None:
        return {}
    return {key: _content(value) for key, value in revision.content.items() if key not in PAGE_BOOKKEEPING}


@transaction.atomic
def page_revision_audit(*, actor, page: Page, verb: str) -> None:
    """Record an edit made in the Wagtail page editor: the newest revision against the one before it."""
    page = page.specific
    revisions = list(page.revisions.order_by("-created_at", "-pk")[:2])
    newest = revisions[0] if revisions else None
    previous = revisions[1] if len(revisions) > 1 else None
    kind = page._meta.model_name.removesuffix("page")
    audit.record(actor=actor, action=f"{kind}.{verb}", obj=page,
                 changes=audit.diff(_revision_values(previous), _revision_values(newest)),
                 reason=f"revision {newest.pk}" if newest else "")
    if isinstance(page, TrialPage) and verb == "created":
        trial_setup(actor=actor, trial=page)


# --- Sites ------------------------------------------------------------------------------------------

@transaction.atomic
def site_create(*, actor, trial: TrialPage, **fields) -> InvestigationalSite:
    """Create an investigational site with its investigator and coordinator role groups."""
    site = InvestigationalSite(trial=trial, **fields)
    site.full_clean()
    site.save()
    audit.record(actor=actor, action="site.created", obj=site,
                 changes=audit.diff({}, audit.snapshot(site, SITE_AUDIT_FIELDS)))
    for role in SITE_ROLES:
        _ensure_role_group(actor=actor, trial=trial, site=site, role=role)
    return site


@transaction.atomic
def site_update(*, actor, site: InvestigationalSite, **fields) -> InvestigationalSite:
    """Change a site's details. Its trial and code never change: participant codes are built on them."""
    site = InvestigationalSite.objects.select_for_update().get(pk=site.pk)
    before = audit.snapshot(site, SITE_AUDIT_FIELDS)
    for name, value in fields.items():
        setattr(site, name, value)
    after = audit.snapshot(site, SITE_AUDIT_FIELDS)
    frozen = [name for name in SITE_IMMUTABLE_FIELDS if str(before[name]) != str(after[name])]
    if frozen:
        raise ValidationError({name: _("This cannot change once the site exists.") for name in frozen})
    changes = audit.diff(before, after)
    if not changes:
        return site
    if site.principal_investigator_account_id and not permissions.site_investigators(site).filter(
            pk=site.principal_investigator_account_id).exists():
        raise ValidationError({"principal_investigator_account": _(
            "The principal investigator's account must be an investigator of the site.")})
    site.full_clean()
    site.save()
    audit.record(actor=actor, action="site.changed", obj=site, changes=changes)
    return site


# --- Roles ------------------------------------------------------------------------------------------

def ensure_trial_role_groups(*, actor=None) -> int:
    """Give every trial the groups of the trial roles added since it was set up (the TMF QC role, issue 19), with
    their permissions; run after each migrate. The number of groups made."""
    made = 0
    for trial in TrialPage.objects.all():
        for role in TRIAL_ROLES:
            if not RoleGroup.objects.filter(trial=trial, site=None, role=role).exists():
                with transaction.atomic():
                    _ensure_role_group(actor=actor, trial=trial, role=role)
                made += 1
    return made


def _group_name(trial: TrialPage, role: str, site: InvestigationalSite | None) -> str:
    """A stable name, always in the site's main language, whatever language the creating request used."""
    with translation.override(settings.LANGUAGE_CODE):
        parts = [trial.nct_number] + ([site.code] if site else []) + [str(Role(role).label)]
    return " · ".join(parts)


def _grant(*, actor, group: Group, label: str, on: str = "") -> None:
    changes = {"permission": [None, label]}
    if on:
        changes["on"] = [None, on]
    audit.record(actor=actor, action="permission.granted", obj=group, changes=changes)


def _ensure_role_group(*, actor, trial: TrialPage, role: str, site: InvestigationalSite | None = None
                       ) -> RoleGroup:
    """The role's group with exactly the permissions its role gives; only what is missing is granted (and audited)."""
    role_group = RoleGroup.objects.filter(trial=trial, site=site, role=role).select_related("group").first()
    if role_group is None:
        group = Group.objects.create(name=_group_name(trial, role, site))
        role_group = RoleGroup.objects.create(group=group, role=role, trial=trial, site=site)
    group = role_group.group
    target = site or trial
    held = set(get_perms(group, target))
    for perm in SITE_ROLE_PERMISSIONS[role] if site else TRIAL_ROLE_PERMISSIONS[role]:
        if perm.split(".")[1] not in held:
            assign_perm(perm, group, target)
            _grant(actor=actor, group=group, label=perm, on=str(target))
    if role == Role.SPONSOR:
        for permission_type in SPONSOR_PAGE_PERMISSIONS:
            codename = f"{permission_type}_page"
            if not GroupPagePermission.objects.filter(group=group, page=trial, permission__codename=codename).exists():
                GroupPagePermission.objects.create(group=group, page=trial, permission_type=permission_type)
                _grant(actor=actor, group=group, label=f"wagtailcore.{codename}", on=str(trial))
    for perm in ADMIN_ACCESS_ROLES.get(role, ()):
        app_label, codename = perm.split(".")
        if not group.permissions.filter(content_type__app_label=app_label, codename=codename).exists():
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            _grant(actor=actor, group=group, label=perm)
    return role_group


def _ensure_collection(*, actor, trial: TrialPage, audience: str, sponsor_group: Group) -> TrialCollection:
    scope = TrialCollection.objects.filter(trial=trial, audience=audience).select_related("collection").first()
    if scope is None:
        with translation.override(settings.LANGUAGE_CODE):
            name = f"{trial.nct_number} · {TrialCollection.Audience(audience).label}"
        collection = Collection.get_first_root_node().add_child(name=name[:255])
        scope = TrialCollection.objects.create(collection=collection, trial=trial, audience=audience)
        audit.record(actor=actor, action="collection.created", obj=scope, object_repr=name[:255])
    for codename in SPONSOR_COLLECTION_PERMISSIONS:
        permission = Permission.objects.get(content_type__app_label="wagtaildocs", codename=codename)
        _, created = GroupCollectionPermission.objects.get_or_create(
            group=sponsor_group, collection=scope.collection, permission=permission)
        if created:
            _grant(actor=actor, group=sponsor_group, label=f"wagtaildocs.{codename}", on=scope.collection.name)
    return scope


def _ensure_child_page(*, actor, parent: Page, model, title: str, slug: str) -> Page:
    existing = model.objects.child_of(parent).first()
    if existing is not None:
        return existing
    page = model(title=title, slug=slug, live=False)
    parent.add_child(instance=page)
    page.save_revision(user=actor, log_action=False).publish(user=actor, log_action=False)
    audit.record(actor=actor, action=f"{model._meta.model_name}.created", obj=page)
    return page


def ensure_review_workflow(*, actor, trial: TrialPage, page: Page, name: str) -> Workflow:
    """The review workflow of the versions under `page`: sponsor QA review, then the sponsor's approval, each a
    signed approval (`SignedApprovalTask`: user name and password again, never by the version's author), before
    publication. `name` is the workflow's name, already in French. Idempotent: an existing link is kept."""
    link = WorkflowPage.objects.filter(page=page).select_related("workflow").first()
    if link is not None:
        return link.workflow
    qa = RoleGroup.objects.get(trial=trial, site=None, role=Role.SPONSOR_QA).group
    sponsor = RoleGroup.objects.get(trial=trial, site=None, role=Role.SPONSOR).group
    with translation.override(settings.LANGUAGE_CODE):
        workflow = Workflow.objects.create(name=name)
        steps = [(_("Sponsor QA review — %(nct)s") % {"nct": trial.nct_number}, qa),
                 (_("Sponsor approval — %(nct)s") % {"nct": trial.nct_number}, sponsor)]
    for order, (step, group) in enumerate(steps):
        task = SignedApprovalTask.objects.create(name=step)
        task.groups.set([group])
        WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=order)
    WorkflowPage.objects.create(workflow=workflow, page=page)
    audit.record(actor=actor, action="workflow.created", obj=workflow, object_repr=workflow.name,
                 changes={"tasks": [None, [str(step) for step, _group in steps]], "page": [None, page.title]})
    return workflow


def _ensure_review_workflow(*, actor, trial: TrialPage, protocol: ProtocolPage) -> Workflow:
    """Protocol versions go through their review workflow ("Revue du protocole") before publication."""
    with translation.override(settings.LANGUAGE_CODE):
        name = _("Protocol review — %(nct)s") % {"nct": trial.nct_number}
    return ensure_review_workflow(actor=actor, trial=trial, page=protocol, name=name)


# Other apps add what a trial needs from them (consent: its consent-forms page), in their AppConfig.ready().
SETUP_STEPS: list[Callable[..., None]] = []


@transaction.atomic
def trial_setup(*, actor, trial: TrialPage) -> None:
    """Everything a trial needs besides its own fields: role groups, private document collections, the
    protocol and correspondence pages, and the review workflow. Idempotent: only what is missing is made."""
    for role in TRIAL_ROLES:
        _ensure_role_group(actor=actor, trial=trial, role=role)
    sponsor_group = RoleGroup.objects.get(trial=trial, site=None, role=Role.SPONSOR).group
    for audience in TrialCollection.Audience.values:
        _ensure_collection(actor=actor, trial=trial, audience=audience, sponsor_group=sponsor_group)
    with translation.override(settings.LANGUAGE_CODE):
        protocol = _ensure_child_page(actor=actor, parent=trial, model=ProtocolPage, title=str(_("Protocol")),
                                      slug="protocol")
        _ensure_child_page(actor=actor, parent=trial, model=CorrespondenceIndexPage,
                           title=str(_("Regulatory correspondence")), slug="correspondence")
    _ensure_review_workflow(actor=actor, trial=trial, protocol=protocol)
    for site in trial.sites.all():
        for role in SITE_ROLES:
            _ensure_role_group(actor=actor, trial=trial, site=site, role=role)
    for step in SETUP_STEPS:
        step(actor=actor, trial=trial)


def review_workflow(trial: TrialPage) -> Workflow:
    """The review workflow of the trial's protocol versions (sponsor QA, then sponsor approval)."""
    protocol = ProtocolPage.objects.child_of(trial).get()
    return WorkflowPage.objects.select_related("workflow").get(page=protocol).workflow


def role_group_for(*, trial: TrialPage, role: str, site: InvestigationalSite | None = None) -> RoleGroup:
    if (role in SITE_ROLES) != (site is not None):
        raise ValidationError(_("Site roles need a site; trial roles take none."))
    return RoleGroup.objects.select_related("group").get(trial=trial, site=site, role=role)


@transaction.atomic
def role_grant(*, actor, user, role: str, trial: TrialPage, site: InvestigationalSite | None = None) -> bool:
    """Give `user` a role on a trial or site. Returns False when they already held it."""
    role_group = role_group_for(trial=trial, role=role, site=site)
    if user.groups.filter(pk=role_group.group_id).exists():
        return False
    user.groups.add(role_group.group)
    audit.record(actor=actor, action="role.granted", obj=user, object_repr=f"{user.get_username()}",
                 changes={"role": [None, role_group.group.name]}, trial=trial)
    return True


@transaction.atomic
def role_revoke(*, actor, user, role: str, trial: TrialPage, site: InvestigationalSite | None = None) -> bool:
    """Take a role away from `user`. Returns False when they did not hold it."""
    role_group = role_group_for(trial=trial, role=role, site=site)
    if not user.groups.filter(pk=role_group.group_id).exists():
        return False
    user.groups.remove(role_group.group)
    audit.record(actor=actor, action="role.revoked", obj=user, object_repr=f"{user.get_username()}",
                 changes={"role": [role_group.group.name, None]}, trial=trial)
    return True


def account_audit(*, actor, user, before: Mapping[str, Any], action: str) -> None:
    """Record an account edit made in the Wagtail user admin: groups (roles), superuser, active flag."""
    after = account_state(user)
    changes = audit.diff(before, after)
    if changes or action == "account.created":
        audit.record(actor=actor, action=action, obj=user, object_repr=user.get_username(), changes=changes)


def account_state(user) -> dict[str, Any]:
    return {
        "groups": sorted(user.groups.values_list("name", flat=True)) if user.pk else [],
        "is_superuser": user.is_superuser,
        "is_active": user.is_active,
    }
