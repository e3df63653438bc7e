"""Inspection windows: the sponsor opens one trial (or some of its sites) to one inspector for a time."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regulatory import audit, permissions
from regulatory.models import InspectorGrant, InvestigationalSite, Role, TrialPage
from regulatory.services.trials import role_grant


def _window_changes(grant: InspectorGrant) -> dict:
    return {
        "inspector": [None, grant.inspector.get_username()],
        "starts_at": [None, grant.starts_at],
        "ends_at": [None, grant.ends_at],
        "sites": [None, sorted(site.code for site in grant.sites.all()) or "*"],
        "purpose": [None, grant.purpose],
    }


@transaction.atomic
def grant_create(*, actor, trial: TrialPage, inspector, starts_at: datetime.datetime, ends_at: datetime.datetime,
                 sites=(), purpose: str = "") -> InspectorGrant:
    """Open an inspection window. The inspector receives the trial's inspector role if they lack it (a role that
    gives nothing by itself); any other role of theirs is refused, so an inspector is never also a writer."""
    if not permissions.can_manage_trial(actor, trial):
        raise PermissionDenied
    if ends_at <= starts_at:
        raise ValidationError(_("The window must end after it starts."))
    if ends_at <= timezone.now():
        raise ValidationError(_("The window must end in the future."))
    if ends_at - starts_at > datetime.timedelta(days=366):
        raise ValidationError(_("An inspection window lasts at most a year."))
    refusal = permissions.inspector_refusal(inspector)
    if refusal:
        raise ValidationError(refusal)
    sites = list(sites)
    if any(site.trial_id != trial.pk for site in sites):
        raise ValidationError(_("Choose sites of this trial only."))
    role_grant(actor=actor, user=inspector, role=Role.INSPECTOR, trial=trial)
    grant = InspectorGrant.objects.create(inspector=inspector, trial=trial, starts_at=starts_at, ends_at=ends_at,
                                          purpose=purpose, granted_by=actor)
    grant.sites.set(sites)
    audit.record(actor=actor, action="inspection.window_granted", obj=grant, changes=_window_changes(grant))
    return grant


@transaction.atomic
def grant_revoke(*, actor, grant: InspectorGrant, reason: str) -> InspectorGrant:
    """Close a window before its end. The reason is required and audited."""
    grant = InspectorGrant.objects.select_for_update().get(pk=grant.pk)
    if not permissions.can_manage_trial(actor, grant.trial):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError(_("Give the reason for closing the window."))
    if grant.revoked_at is not None:
        raise ValidationError(_("This window is already closed."))
    grant.revoked_at = timezone.now()
    grant.revoked_by = actor
    grant.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(actor=actor, action="inspection.window_revoked", obj=grant, reason=reason,
                 changes={"revoked_at": [None, grant.revoked_at]})
    return grant


def inspector_candidates(trial: TrialPage):
    """Accounts the sponsor may choose for a window on the trial (`permissions.inspector_candidates`)."""
    return permissions.inspector_candidates().order_by("username")


def sites_for(trial: TrialPage):
    return InvestigationalSite.objects.filter(trial=trial).order_by("code")
