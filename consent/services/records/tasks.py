"""The participant's consent tasks: continuation, the patient's own consent, re-consent on a newer version, or
being informed of a non-substantive change; opened and closed by consents, by versions taking effect or withdrawn."""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regulatory import audit, permissions
from regulatory.models import InvestigationalSite, TrialPage

from ... import selectors
from ...models import ConsentFormVersionPage, ConsentRecord, ConsentTask, FormEffectivity, Participant
from ._common import _shown


def _close_tasks(participant: Participant, record: ConsentRecord) -> None:
    if record.outcome != ConsentRecord.Outcome.CONSENTED:
        return
    tasks = participant.tasks.filter(closed_at__isnull=True)
    if record.kind == "continuation" and record.signer_role == "representative":
        # The deadline is met by the representative; the patient's own consent stays due (next task).
        tasks.filter(kind=ConsentTask.Kind.CONTINUATION).update(
            closed_at=record.signed_at, closed_by_record=record,
            closed_reason="continuation consent by the representative")
    elif record.kind == "continuation":
        tasks.filter(kind=ConsentTask.Kind.CONTINUATION).update(
            closed_at=record.signed_at, closed_by_record=record, closed_reason="continuation consent")
        tasks.filter(kind=ConsentTask.Kind.PATIENT_CONSENT).update(
            closed_at=record.signed_at, closed_by_record=record, closed_reason="patient's own continuation consent")
    for task in tasks.filter(kind__in=(ConsentTask.Kind.RECONSENT, ConsentTask.Kind.INFORM),
                             form_kind=record.kind).select_related("target_version"):
        if task.target_version is None or record.version.version_key >= task.target_version.version_key:
            task.closed_at, task.closed_by_record, task.closed_reason = record.signed_at, record, "re-consent"
            task.save(update_fields=["closed_at", "closed_by_record", "closed_reason"])


def _open_continuation_task(participant: Participant, record: ConsentRecord, trial: TrialPage) -> None:
    if (record.kind in ("surrogate", "emergency") and record.outcome == ConsentRecord.Outcome.CONSENTED
            and participant.inclusion_path == record.kind and "continuation" in (trial.allowed_consent_kinds or [])
            and not participant.tasks.filter(kind=ConsentTask.Kind.CONTINUATION).exists()):
        ConsentTask.objects.create(
            participant=participant, kind=ConsentTask.Kind.CONTINUATION, form_kind="continuation",
            opens_at=record.signed_at, due_at=record.signed_at + timedelta(days=trial.continuation_deadline_days))


def _open_patient_consent_task(participant: Participant, record: ConsentRecord, trial: TrialPage) -> None:
    """After a representative's continuation consent, the patient is asked as soon as able: a task that only the
    patient's own continuation consent closes. Its date is a reminder to reassess whether the patient can consent
    (the trial's continuation deadline again), not a legal deadline."""
    if (record.kind == "continuation" and record.signer_role == "representative"
            and record.outcome == ConsentRecord.Outcome.CONSENTED
            and not participant.tasks.filter(kind=ConsentTask.Kind.PATIENT_CONSENT, closed_at__isnull=True).exists()):
        ConsentTask.objects.create(
            participant=participant, kind=ConsentTask.Kind.PATIENT_CONSENT, form_kind="continuation",
            opens_at=record.signed_at, due_at=record.signed_at + timedelta(days=trial.continuation_deadline_days))


def _open_reconsent_if_outdated(participant: Participant, record: ConsentRecord, trial: TrialPage) -> None:
    """A consent on a version older than the one in force now (entered late, on the version in force when it was
    signed), or older than the one scheduled to take effect at the site: a re-consent task on the newer one."""
    if record.outcome != ConsentRecord.Outcome.CONSENTED or participant.status != Participant.Status.INCLUDED:
        return
    site, language = participant.site, record.version.language
    now_current = selectors.current_version(site=site, kind=record.kind, language=language)
    if now_current is not None and now_current.version_key > record.version.version_key:
        period = now_current.effectivities.get(site=site)
    else:  # the open period of a site's form is the one in force or, once another is scheduled, that one
        period = (FormEffectivity.objects.filter(site=site, kind=record.kind, language=language,
                                                 effective_until__isnull=True, effective_from__gt=timezone.now())
                  .select_related("version").first())
        if period is None or period.version.version_key <= record.version.version_key:
            return
    # Only informed when every change since the version signed was judged not substantive.
    between = [v for v in ConsentFormVersionPage.objects.filter(trial=record.version.trial_id, kind=record.kind,
                                                                 language=language)
               if record.version.version_key < v.version_key <= period.version.version_key]
    inform = all(v.change_kind == "inform" for v in between)
    ConsentTask.objects.get_or_create(
        participant=participant, kind=ConsentTask.Kind.INFORM if inform else ConsentTask.Kind.RECONSENT,
        form_kind=record.kind, closed_at=None,
        defaults={"target_version": period.version, "opens_at": period.effective_from,
                  "due_at": period.effective_from + timedelta(days=trial.reconsent_deadline_days)})


def reconsent_tasks_open(*, version: ConsentFormVersionPage, site: InvestigationalSite, effective_from: datetime
                         ) -> int:
    """When a newer version of a form takes effect at a site, each active participant whose last consent of that
    kind was on an older version must consent again, or, when the sponsor judged the change not substantive
    (`version.change_kind == "inform"`), be informed of it (no new signature). A participant withdrawn from the
    follow-up is no longer asked (only the included are). Called by `form_make_effective`, in its transaction."""
    trial = site.trial
    due = effective_from + timedelta(days=trial.reconsent_deadline_days)
    inform = version.change_kind == "inform"
    opened = 0
    participants = Participant.objects.filter(site=site, status=Participant.Status.INCLUDED)
    for participant in participants.prefetch_related("consents__version", "tasks__target_version"):
        last = max((r for r in participant.consents.all()
                    if r.kind == version.kind and r.outcome == ConsentRecord.Outcome.CONSENTED
                    and r.version.language == version.language), key=lambda r: r.sequence, default=None)
        if last is None or last.version.version_key >= version.version_key:
            continue
        tasks = [t for t in participant.tasks.all() if t.form_kind == version.kind]
        reconsent = next((t for t in tasks if t.kind == ConsentTask.Kind.RECONSENT and t.closed_at is None), None)
        if inform and reconsent is None:
            if any(t.kind == ConsentTask.Kind.INFORM and t.closed_by_id and t.target_version
                   and t.target_version.version_key >= version.version_key for t in tasks):
                continue  # already told of it (or of a later one)
            task, created = ConsentTask.objects.get_or_create(
                participant=participant, kind=ConsentTask.Kind.INFORM, form_kind=version.kind, closed_at=None,
                defaults={"target_version": version, "opens_at": effective_from, "due_at": due})
            if not created:  # told of the latest change once: the task moves to this version
                task.target_version, task.opens_at, task.due_at = version, effective_from, due
                task.save(update_fields=["target_version", "opens_at", "due_at"])
            opened += 1
            continue
        # A substantive change (or a re-consent still due, now on this version, which carries the earlier change):
        # the consent on it also tells of anything a pending "inform" task was for.
        task, created = ConsentTask.objects.get_or_create(
            participant=participant, kind=ConsentTask.Kind.RECONSENT, form_kind=version.kind, closed_at=None,
            defaults={"target_version": version, "opens_at": effective_from, "due_at": due})
        if not created:
            if task.opens_at <= timezone.now() < effective_from:
                # A re-consent due now stays due on the version in force: scheduling a later one neither hides it
                # nor moves its deadline. Consenting on it opens the task for the later one.
                continue
            task.target_version, task.opens_at, task.due_at = version, effective_from, due
            task.save(update_fields=["target_version", "opens_at", "due_at"])
        opened += 1
    return opened


@transaction.atomic
def task_inform_close(*, actor, task: ConsentTask, note: str, at: datetime | None = None) -> ConsentTask:
    """The participant was told of a non-substantive change of the form: the "inform" task is closed with the
    note of who told what and when; no signature, no new consent record."""
    task = (ConsentTask.objects.select_for_update(of=("self",))
            .select_related("participant__site", "target_version").get(pk=task.pk))
    participant = task.participant
    if not permissions.can_record_consent(actor, participant.site):
        raise PermissionDenied
    if task.kind != ConsentTask.Kind.INFORM:
        raise ValidationError(_("Only a task to inform the participant is closed with a note; a consent closes the "
                                "others."))
    if task.closed_at is not None:
        raise ValidationError(_("This task was already closed on %(at)s.") % {"at": _shown(task.closed_at)})
    if not note.strip():
        raise ValidationError(_("Say how the participant was informed."))
    at = at or timezone.now()
    if at > timezone.now():
        raise ValidationError(_("The date of the information (%(at)s) is in the future.") % {"at": _shown(at)})
    if at < task.opens_at.replace(second=0, microsecond=0):
        raise ValidationError(_("The date of the information (%(at)s) is before %(version)s took effect at the site "
                                "(%(from)s).") % {"at": _shown(at), "version": task.target_version,
                                                  "from": _shown(task.opens_at)})
    task.closed_at, task.closed_by, task.closed_note = at, actor, note.strip()
    task.closed_reason = "participant informed"
    task.save(update_fields=["closed_at", "closed_by", "closed_note", "closed_reason"])
    audit.record(actor=actor, action="participant.informed", obj=participant, reason=task.closed_note, changes={
        "version": [None, str(task.target_version)], "informed_at": [None, at]})
    return task


def reconsent_tasks_close(*, version: ConsentFormVersionPage, at: datetime) -> int:
    """A withdrawn version can no longer be consented to: the re-consent tasks that asked for it are closed. A
    later version that takes effect opens them again (`reconsent_tasks_open`). Called by `form_withdraw`, in its
    transaction."""
    return ConsentTask.objects.filter(kind=ConsentTask.Kind.RECONSENT, target_version=version,
                                      closed_at__isnull=True).update(closed_at=at, closed_reason="version withdrawn")
