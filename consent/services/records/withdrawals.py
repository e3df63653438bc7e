"""A participant's withdrawal, scope by scope (treatment, follow-up, data collection, use of the data collected)."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regulatory import audit

from ...models import WITHDRAWAL_ENDS_PARTICIPATION, WITHDRAWAL_ORDER, Participant, Withdrawal
from ._common import _check_timeline, _end, _locked, _shown
from .access import _check_delegation


@transaction.atomic
def participant_withdraw(*, actor, participant: Participant, scope: str, reason: str = "",
                         at: datetime | None = None) -> Participant:
    """Withdrawal at any time, without having to give a reason, from a scope: the study treatment only, the
    follow-up visits, further data collection, or (an objection, where the law allows it) the use of the data
    already collected, which otherwise stay (EU CTR art. 28(3)). A scope stops the ones before it too; a later
    withdrawal can add scopes. From the follow-up on, participation ends and the tasks close; after the treatment
    only, the participant is still followed and still asked to re-consent. `at`: when it was expressed (now when
    not given). A scope already stopped, or dated so that it contradicts what is recorded, is refused."""
    participant = _locked(participant)
    _check_delegation(actor, participant.site, "withdrawal", at)
    if scope not in WITHDRAWAL_ORDER:
        raise ValidationError(_("Choose what the participant withdraws from."))
    withdrawn = participant.status == Participant.Status.WITHDRAWN
    if not (participant.is_active or (withdrawn and participant.included_at)):
        raise ValidationError(_("%(code)s is no longer taking part (%(status)s).")
                              % {"code": participant.code, "status": participant.get_status_display()})
    if participant.status == Participant.Status.SCREENING and scope == Withdrawal.Scope.TREATMENT:
        raise ValidationError(_("%(code)s is not included yet: there is no study treatment to stop. Record a "
                                "withdrawal from the follow-up, or mark the participant as not included.")
                              % {"code": participant.code})
    at = at or timezone.now()
    _check_timeline(participant, at, event=_("withdrawal"))
    recorded = {w.scope: w for w in participant.withdrawals.all()}
    if scope in recorded and recorded[scope].implied_by:
        raise ValidationError(_("%(scope)s already stopped on %(at)s, with the withdrawal from %(later)s. Nothing "
                                "was recorded.") % {"scope": Withdrawal.Scope(scope).label,
                                                    "at": _shown(recorded[scope].at),
                                                    "later": _scope_label(recorded[scope].implied_by)})
    if scope in recorded:
        raise ValidationError(_("The withdrawal from %(scope)s is already recorded, from %(at)s. Nothing was "
                                "recorded.") % {"scope": _scope_label(scope), "at": _shown(recorded[scope].at)})
    rank = WITHDRAWAL_ORDER.index(scope)
    for later in WITHDRAWAL_ORDER[rank + 1:]:
        if later in recorded:
            raise ValidationError(_("%(scope)s already stopped on %(at)s, with the withdrawal from %(later)s. "
                                    "Nothing was recorded.") % {
                "scope": Withdrawal.Scope(scope).label, "at": _shown(recorded[later].at),
                "later": _scope_label(later)})
    for earlier in WITHDRAWAL_ORDER[:rank]:
        if earlier in recorded and recorded[earlier].at > at:
            raise ValidationError(_("A withdrawal from %(scope)s on %(at)s would have stopped %(earlier)s then, but "
                                    "%(earlier)s is recorded as stopped only on %(earlier_at)s: the two "
                                    "contradict each other. Nothing was recorded.") % {
                "scope": _scope_label(scope), "at": _shown(at), "earlier": _scope_label(earlier),
                "earlier_at": _shown(recorded[earlier].at)})
    reason = reason.strip()
    rows = _write_withdrawal(participant, scope=scope, at=at, reason=reason, actor=actor)
    before = participant.status
    if rank >= WITHDRAWAL_ORDER.index(WITHDRAWAL_ENDS_PARTICIPATION) and not withdrawn:
        _end(participant, status=Participant.Status.WITHDRAWN, at=at,
             reason=reason or _("Withdrawal from %(scope)s.") % {"scope": _scope_label(scope)})
    if scope == Withdrawal.Scope.DATA_USE:
        participant.objects_to_data_use = True
    elif participant.status == Participant.Status.WITHDRAWN and participant.objects_to_data_use is None:
        participant.objects_to_data_use = False
    participant.save()
    audit.record(actor=actor, action="participant.withdrawn", obj=participant, reason=reason, changes={
        "status": [before, participant.status], "scopes": [None, [row.scope for row in rows]],
        "objects_to_data_use": [None, participant.objects_to_data_use], "withdrawn_at": [None, at]})
    return participant


def withdrawal_scopes_left(participant: Participant, withdrawals=None) -> list[str]:
    """The scopes a later withdrawal can still add: those after the last one stopped."""
    done = {w.scope for w in (participant.withdrawals.all() if withdrawals is None else withdrawals)}
    last = max((WITHDRAWAL_ORDER.index(scope) for scope in done), default=-1)
    left = list(WITHDRAWAL_ORDER[last + 1:])
    if participant.status == Participant.Status.SCREENING:
        left = [scope for scope in left if scope != Withdrawal.Scope.TREATMENT]
    return left


def _write_withdrawal(participant: Participant, *, scope: str, at: datetime, reason: str, actor) -> list[Withdrawal]:
    """The rows of a withdrawal from `scope` and of the scopes it stops too that were not stopped already."""
    done = set(participant.withdrawals.values_list("scope", flat=True))
    rows = []
    for stopped in WITHDRAWAL_ORDER[:WITHDRAWAL_ORDER.index(scope) + 1]:
        if stopped not in done:
            rows.append(Withdrawal.objects.create(participant=participant, scope=stopped, at=at, reason=reason,
                                                  implied_by="" if stopped == scope else scope, recorded_by=actor))
    return rows


def _scope_label(scope: str) -> str:
    return str(Withdrawal.Scope(scope).label).lower()
