"""Registering a participant, closing one not included (registered in error, screen failure), recording a death."""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regulatory import audit, permissions
from regulatory.models import InvestigationalSite

from ...models import ConsentTask, Participant, ParticipantCounter
from ._common import _check_timeline, _end, _locked
from .access import _check_delegation


@transaction.atomic
def participant_create(*, actor, site: InvestigationalSite) -> Participant:
    """Register a participant under the site's next code (DIJ-0001, DIJ-0002…): no gap, no collision."""
    _check_delegation(actor, site, "register")
    if site.status != InvestigationalSite.Status.ACTIVE:
        raise ValidationError(_("%(site)s is not active: no participant can be registered there.")
                              % {"site": site.code})
    ParticipantCounter.objects.get_or_create(site=site)
    counter = ParticipantCounter.objects.select_for_update().get(site=site)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    participant = Participant.objects.create(site=site, number=counter.last_number,
                                             code=f"{site.code}-{counter.last_number:04d}", created_by=actor)
    audit.record(actor=actor, action="participant.created", obj=participant,
                 changes={"code": [None, participant.code], "site": [None, site.code]})
    return participant


@transaction.atomic
def participant_close_screening(*, actor, participant: Participant, status: str, reason: str) -> Participant:
    """A participant registered by mistake, or found not eligible (screen failure), before any inclusion: kept,
    marked as such with the reason, audited; the code is never given again."""
    participant = _locked(participant)
    _check_delegation(actor, participant.site, "register")
    if status not in (Participant.Status.REGISTERED_IN_ERROR, Participant.Status.SCREEN_FAILURE):
        raise ValidationError(_("Choose: registered in error, or screen failure."))
    if participant.status != Participant.Status.SCREENING:
        raise ValidationError(_("Only a participant not yet included can be marked as registered in error or as a "
                                "screen failure: %(code)s is %(status)s.") % {
            "code": participant.code, "status": participant.get_status_display()})
    if status == Participant.Status.REGISTERED_IN_ERROR and participant.consents.exists():
        raise ValidationError(_("A consent decision is recorded for %(code)s: it was not registered in error.")
                              % {"code": participant.code})
    if not reason.strip():
        raise ValidationError(_("Give the reason."))
    before = participant.status
    _end(participant, status=status, reason=reason.strip(), at=timezone.now())
    participant.save()
    audit.record(actor=actor, action=f"participant.{status}", obj=participant, reason=reason.strip(),
                 changes={"status": [before, status]})
    return participant


@transaction.atomic
def participant_record_death(*, actor, participant: Participant, died_at: datetime) -> Participant:
    """Death, recorded as such (also before any continuation consent could be obtained)."""
    participant = _locked(participant)
    if not permissions.is_site_staff(actor, participant.site):
        raise PermissionDenied
    if not participant.is_active:
        raise ValidationError(_("%(code)s is no longer taking part (%(status)s).")
                              % {"code": participant.code, "status": participant.get_status_display()})
    if died_at > timezone.now():
        raise ValidationError(_("The date of death cannot be in the future."))
    _check_timeline(participant, died_at, event=_("death"))
    # The delegation on the day of death, once that day is known to fit the participant's path.
    _check_delegation(actor, participant.site, "death", died_at)
    open_kinds = set(participant.tasks.filter(closed_at__isnull=True).values_list("kind", flat=True))
    if ConsentTask.Kind.CONTINUATION in open_kinds:
        reason = _("Died before continuation consent could be obtained.")
    elif ConsentTask.Kind.PATIENT_CONSENT in open_kinds:
        reason = _("Died before being able to consent (continuation was consented by the representative).")
    else:
        reason = _("Died.")
    before = participant.status
    _end(participant, status=Participant.Status.DECEASED, reason=reason, at=died_at)
    participant.save()
    audit.record(actor=actor, action="participant.deceased", obj=participant, reason=reason,
                 changes={"status": [before, participant.status], "died_at": [None, died_at]})
    return participant
