"""What the records modules share: the participant's row lock, the end of their participation, the times shown, and
the check that an event fits the participant's timeline."""

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ...models import Participant


def _locked(participant: Participant) -> Participant:
    return Participant.objects.select_for_update(of=("self",)).select_related("site__trial").get(pk=participant.pk)


def _end(participant: Participant, *, status: str, reason: str, at: datetime) -> None:
    participant.status = status
    participant.ended_at = at
    participant.end_reason = reason
    for task in participant.tasks.filter(closed_at__isnull=True):
        task.closed_at = at
        task.closed_reason = reason[:255]
        task.save(update_fields=["closed_at", "closed_reason"])


def _check_timeline(participant: Participant, at: datetime, *, event: str) -> None:
    """An event of the participant (death, withdrawal, a consent) fits their timeline: never in the future, never
    before the participant's first trace (their registration, or an earlier consent signed on paper and entered
    once registered), never before their inclusion or their last recorded consent."""
    if at > timezone.now():
        raise ValidationError(_("The date of the %(event)s (%(at)s) is in the future.") % {
            "event": event, "at": _shown(at)})
    consents = participant.consents.order_by("signed_at")
    first, last = consents.first(), consents.last()
    bounds = []
    if participant.created_at and (first is None or participant.created_at <= first.signed_at):
        bounds.append((participant.created_at, _("the registration of %(code)s") % {"code": participant.code}))
    if participant.included_at:
        bounds.append((participant.included_at, _("the inclusion of %(code)s") % {"code": participant.code}))
    if last is not None:
        bounds.append((last.signed_at, _("the last consent recorded (#%(sequence)s)") % {"sequence": last.sequence}))
    for bound, what in bounds:
        if at < bound.replace(second=0, microsecond=0):  # times are typed to the minute
            raise ValidationError(_("The date of the %(event)s (%(at)s) is before %(what)s (%(bound)s): it does not "
                                    "fit the participant's timeline. Nothing was recorded.") % {
                "event": event, "at": _shown(at), "what": what, "bound": _shown(bound)})


def _shown(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _local(moment: datetime) -> str:
    local = timezone.localtime(moment)
    offset = local.strftime("%z")
    return f"{date_format(local, 'd/m/Y H:i')} ({settings.TIME_ZONE}, UTC{offset[:3]}:{offset[3:]})"
