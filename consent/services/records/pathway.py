"""The consent pathway: which kind of consent a participant may give now, and what a recorded one does to their
status."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from regulatory.models import TrialPage

from ...models import ConsentRecord, Participant
from ._common import _end


def _check_pathway(participant: Participant, kind: str, outcome: str, trial: TrialPage, signer: str) -> None:
    """Inclusion by patient, surrogate or emergency; then continuation after surrogate or emergency, by the patient
    or, while the patient cannot consent, by a representative (until the patient's own continuation consent);
    re-consent on newer versions. Anything else is refused with a message."""
    allowed = trial.allowed_consent_kinds or []
    if kind not in allowed:
        raise ValidationError(_("The protocol does not allow this kind of consent."))
    if not participant.is_active:
        raise ValidationError(_("%(code)s is no longer taking part (%(status)s): nothing new can be recorded.")
                              % {"code": participant.code, "status": participant.get_status_display()})
    pending = participant.consents.filter(outcome=ConsentRecord.Outcome.PENDING).order_by("sequence").first()
    if pending is not None:
        raise ValidationError(_("The consent #%(sequence)s of %(code)s awaits the investigator's countersignature: "
                                "an investigator countersigns it (or declines to) before another consent is "
                                "recorded.") % {"sequence": pending.sequence, "code": participant.code})
    screening = participant.status == Participant.Status.SCREENING
    path = participant.inclusion_path
    if kind == "emergency":
        if not screening:
            raise ValidationError(_("Emergency inclusion is only for a participant not yet included."))
        if outcome != ConsentRecord.Outcome.CONSENTED:
            raise ValidationError(_("An emergency inclusion is an attestation: there is nothing to refuse."))
    elif kind == "patient":
        if not screening and path != "patient":
            raise ValidationError(_("Included by a surrogate or in an emergency, the patient gives a continuation "
                                    "consent, not a new patient consent."))
    elif kind == "surrogate":
        if not screening and path == "emergency":
            raise ValidationError(_("After an emergency inclusion, a relative or the trusted person consents to "
                                    "continuation: use the continuation form, signed by the representative."))
        if not screening and path != "surrogate":
            raise ValidationError(_("A surrogate consents only to include a participant who cannot consent."))
        if not screening and _patient_consented_to_continue(participant):
            raise ValidationError(_("The patient has given a continuation consent: the surrogate no longer "
                                    "consents for them."))
    elif kind == "continuation":
        if screening or path not in ("surrogate", "emergency"):
            raise ValidationError(_("Continuation consent follows an inclusion by a surrogate or in an emergency."))
        if signer == "representative" and _patient_consented_to_continue(participant):
            raise ValidationError(_("The patient has given their own continuation consent: a representative no "
                                    "longer consents for them."))


def kinds_not_offered(*, participant: Participant, kinds: list[str]) -> dict[str, str]:
    """Of these kinds of form, those the pathway does not allow for this participant now, each with the reason
    (the same check as at signing: what is offered can be submitted). A continuation is offered when either the
    patient or a representative may sign it."""
    trial = participant.site.trial
    refused = {}
    for kind in kinds:
        signers = ["participant", "representative"] if kind == "continuation" else [
            {"surrogate": "surrogate", "emergency": "investigator"}.get(kind, "participant")]
        reasons = []
        for signer in signers:
            try:
                _check_pathway(participant, kind, ConsentRecord.Outcome.CONSENTED, trial, signer)
            except ValidationError as error:
                reasons.append(" ".join(error.messages))
            else:
                break
        else:
            refused[kind] = reasons[0]
    return refused


def _patient_consented_to_continue(participant: Participant) -> bool:
    return participant.consents.filter(kind="continuation", signer_role="participant",
                                       outcome=ConsentRecord.Outcome.CONSENTED).exists()


def _apply_pathway(participant: Participant, record: ConsentRecord, trial: TrialPage) -> None:
    if record.outcome in (ConsentRecord.Outcome.PENDING, ConsentRecord.Outcome.DECLINED):
        return  # an incomplete or declined ceremony is not a consent, nor a refusal by the participant
    kind, consented = record.kind, record.outcome == ConsentRecord.Outcome.CONSENTED
    if participant.status == Participant.Status.SCREENING:
        if consented:
            participant.status = Participant.Status.INCLUDED
            participant.inclusion_path = kind
            participant.included_at = record.signed_at
        else:
            _end(participant, status=Participant.Status.WITHDRAWN, at=record.signed_at,
                 reason=_("Consent refused before inclusion."))
    elif not consented:
        if kind == "continuation" and record.signer_role == "representative":
            reason = _("Continuation refused by the representative (relative or trusted person).")
        elif kind == "continuation":
            reason = _("Continuation consent refused.")
        else:
            reason = _("Consent refused on a new version of the form.")
        _end(participant, status=Participant.Status.WITHDRAWN, reason=reason, at=record.signed_at)
        if record.objects_to_data_use is not None:
            participant.objects_to_data_use = record.objects_to_data_use
