"""Quality control of TMF documents, the trial's TMF settings and its milestones (writes).

QC (TMF Reference Model, "quality review"): a pending document is approved, or rejected with a QC issue (a
category of `settings.TRIALDOCS_QC_CATEGORIES` and a comment); filing a new version of a rejected document closes
its issue (`uploads.file_upload` calls `issue_close_by_new_version`). Who decides: `permissions.tmf_qc_refusal`
(the trial's TMF QC role, never on one's own upload). Each decision is one transaction with its audit entry,
shown in the document's history.
"""

from datetime import date

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regulatory import audit, permissions
from regulatory.models import (
    InvestigationalSite,
    QcStatus,
    TmfArtifact,
    TmfDocument,
    TmfLevel,
    TmfMilestone,
    TmfQcIssue,
    TmfSettings,
    TrialMilestone,
    TrialPage,
)

MAX_COMMENT = 2000


def qc_categories() -> dict[str, str]:
    return {code: str(label) for code, label in settings.TRIALDOCS_QC_CATEGORIES}


def _locked(document: TmfDocument) -> TmfDocument:
    return TmfDocument.objects.select_for_update(of=("self",)).select_related("trial").get(pk=document.pk)


def _refuse_unless_allowed(actor, document: TmfDocument) -> None:
    refusal = permissions.tmf_qc_refusal(actor, document)
    if refusal is not None:
        if not permissions.can_qc_tmf(actor, document.trial):
            raise PermissionDenied(refusal)
        raise ValidationError(refusal)


@transaction.atomic
def qc_approve(*, actor, document: TmfDocument) -> TmfDocument:
    """Approve a document pending QC."""
    document = _locked(document)
    _refuse_unless_allowed(actor, document)
    document.qc_status, document.qc_by, document.qc_at = QcStatus.APPROVED, actor, timezone.now()
    document.save(update_fields=["qc_status", "qc_by", "qc_at", "updated_at"])
    audit.record(actor=actor, action="tmf.qc_approved", obj=document,
                 changes={"qc_status": [QcStatus.PENDING, QcStatus.APPROVED]})
    return document


@transaction.atomic
def qc_reject(*, actor, document: TmfDocument, category: str, comment: str) -> TmfQcIssue:
    """Reject a document pending QC, with its QC issue (a known category and a comment, both required)."""
    category, comment = (category or "").strip(), (comment or "").strip()
    errors = []
    if category not in qc_categories():
        errors.append(_("Choose the category of the QC issue."))
    if not comment:
        errors.append(_("Say what is wrong with the document in the comment."))
    elif len(comment) > MAX_COMMENT:
        errors.append(_("The comment is too long (%(max)s characters at most).") % {"max": MAX_COMMENT})
    document = _locked(document)
    _refuse_unless_allowed(actor, document)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    document.qc_status, document.qc_by, document.qc_at = QcStatus.REJECTED, actor, now
    document.save(update_fields=["qc_status", "qc_by", "qc_at", "updated_at"])
    issue = TmfQcIssue.objects.create(document=document, category=category, comment=comment, raised_by=actor,
                                      raised_at=now)
    audit.record(actor=actor, action="tmf.qc_rejected", obj=document, reason=comment, changes={
        "qc_status": [QcStatus.PENDING, QcStatus.REJECTED], "category": [None, category],
        "comment": [None, comment], "issue": [None, issue.pk]})
    return issue


def issue_close_by_new_version(*, actor, old: TmfDocument, new: TmfDocument) -> TmfQcIssue | None:
    """Inside the filing's transaction: the new version `new` of `old` closes `old`'s open QC issue, if any."""
    issue = TmfQcIssue.objects.select_for_update().filter(document=old, closed_at__isnull=True).first()
    if issue is None:
        return None
    issue.closed_at, issue.closed_by, issue.corrected_by = timezone.now(), actor, new
    issue.save(update_fields=["closed_at", "closed_by", "corrected_by"])
    audit.record(actor=actor, action="tmf.qc_issue_closed", obj=old, changes={
        "issue": [issue.pk, None], "category": [issue.category, None], "corrected_by": [None, new.pk]})
    return issue


def settings_of(trial: TrialPage) -> TmfSettings:
    """The trial's TMF settings (the defaults, unsaved, when the sponsor never changed them)."""
    return TmfSettings.objects.filter(trial=trial).first() or TmfSettings(trial=trial)


@transaction.atomic
def settings_save(*, actor, trial: TrialPage, qc_automatic: bool, timeliness_days: int,
                  activation_gate: bool) -> TmfSettings:
    if not permissions.can_manage_trial(actor, trial):
        raise PermissionDenied
    if not 0 <= int(timeliness_days) <= 3650:
        raise ValidationError(_("Give the timeliness as a number of days between 0 and 3650."))
    current = TmfSettings.objects.select_for_update().filter(trial=trial).first() or TmfSettings(trial=trial)
    fields = ("qc_automatic", "timeliness_days", "activation_gate")
    before = {name: getattr(current, name) for name in fields} if current.pk else {}
    current.qc_automatic, current.timeliness_days, current.activation_gate = (
        bool(qc_automatic), int(timeliness_days), bool(activation_gate))
    changes = audit.diff(before, {name: getattr(current, name) for name in fields})
    if changes:
        current.save()
        audit.record(actor=actor, action="tmf.settings_changed", obj=trial,
                     object_repr=f"{trial.nct_number} — TMF", changes=changes)
    return current


# --- Milestones ---------------------------------------------------------------------------------------------

def default_artifacts(reference: TmfMilestone, level: str) -> list[TmfArtifact]:
    """What the Reference Model expects by this milestone at this level: its Core artifacts linked to it there."""
    return list(TmfArtifact.objects.filter(milestones__milestone=reference, milestones__level=level, is_core=True)
                .order_by("number"))


@transaction.atomic
def milestone_save(*, actor, trial: TrialPage, reference: TmfMilestone, level: str, name: str = "",
                   site: InvestigationalSite | None = None, country: str = "", planned_date: date | None = None,
                   actual_date: date | None = None, artifacts=None, milestone: TrialMilestone | None = None
                   ) -> TrialMilestone:
    """Define (or change) one of the trial's milestones. `artifacts` None on a new milestone: the Reference
    Model's default for that milestone and level."""
    if not permissions.can_manage_trial(actor, trial):
        raise PermissionDenied
    if level not in TmfLevel.values:
        raise ValidationError(_("Choose the level of the milestone."))
    if level == TmfLevel.SITE:
        if site is None or site.trial_id != trial.pk:
            raise ValidationError(_("Choose a site of this trial for a site-level milestone."))
        country = site.country
    elif site is not None:
        raise ValidationError(_("Only a site-level milestone names a site."))
    country = (country or "").strip().upper() if level != TmfLevel.TRIAL else ""
    if level == TmfLevel.COUNTRY and (len(country) != 2 or not country.isalpha()):
        raise ValidationError(_("Give the two-letter country code of a country-level milestone."))
    name = (name or "").strip()[:120] or (f"{reference.name} — {site.code}" if site else
                                          f"{reference.name} — {country}" if country else reference.name)
    duplicate = (TrialMilestone.objects.filter(trial=trial, reference=reference, site=site) if site is not None else
                 TrialMilestone.objects.filter(trial=trial, reference=reference, level=level, country=country,
                                               site__isnull=True))
    if milestone is not None:
        duplicate = duplicate.exclude(pk=milestone.pk)
    if duplicate.exists():
        raise ValidationError(_("This milestone is already defined for this place."))
    fields = ("name", "level", "country", "site_id", "planned_date", "actual_date")
    if milestone is None:
        milestone, before, old_artifacts = TrialMilestone(trial=trial, reference=reference), {}, []
    else:
        milestone = TrialMilestone.objects.select_for_update().get(pk=milestone.pk, trial=trial)
        before = {name_: getattr(milestone, name_) for name_ in fields}
        old_artifacts = sorted(milestone.artifacts.values_list("number", flat=True))
        milestone.reference = reference
    milestone.name, milestone.level, milestone.site = name, level, site
    milestone.country = "" if level == TmfLevel.TRIAL else country
    milestone.planned_date, milestone.actual_date = planned_date, actual_date
    milestone.save()
    chosen = default_artifacts(reference, level) if artifacts is None else list(artifacts)
    milestone.artifacts.set(chosen)
    changes = audit.diff(before, {name_: getattr(milestone, name_) for name_ in fields})
    new_artifacts = sorted(a.number for a in chosen)
    if new_artifacts != old_artifacts:
        changes["artifacts"] = [old_artifacts, new_artifacts]
    if changes:
        audit.record(actor=actor, action="tmf.milestone_saved", obj=milestone, changes=changes)
    return milestone
