"""Recording a consent (or a refusal) with its signed PDF, all or nothing, signed by whoever obtained it."""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cms.files import StorageFailed, save_whole
from regulatory import audit, permissions

from ... import archival, selectors
from ...blocks import neutral
from ...models import ConsentFormVersionPage, ConsentRecord, Participant, Withdrawal
from .. import ceremony as ceremonies
from ._common import _check_timeline, _locked
from .access import _check_delegation, _role_label, _signature_components_match, signing_suspended
from .pathway import _apply_pathway, _check_pathway
from .signed_pdf import _signed_pdf
from .tasks import _close_tasks, _open_continuation_task, _open_patient_consent_task, _open_reconsent_if_outdated
from .withdrawals import _write_withdrawal


@dataclass
class ConsentInput:
    """What the site-staff form collects; checked by `consent_record_create`, never trusted as it comes."""

    version: ConsentFormVersionPage
    signed_at: datetime
    outcome: str
    answers: dict[int, str] = field(default_factory=dict)  # statement index → "accept" | "refuse"
    surrogate_relationship: str = ""
    independence_attested: bool = False
    emergency_conditions_attested: bool = False
    no_prior_objection_attested: bool = False
    # Continuation only: "participant" (the patient) or "representative" (a relative or the trusted person, the
    # patient being still unable to consent, which the person obtaining it attests). "" is the kind's own signer.
    signer_role: str = ""
    patient_unable_attested: bool = False
    objects_to_data_use: bool | None = None
    witness_name: str = ""
    signature_png: bytes | None = None
    signature_source: str = ConsentRecord.SignatureSource.NONE
    ticks: dict[int, bool] = field(default_factory=dict)  # tick box index (among the tick boxes) → ticked
    fills: dict[int, str] = field(default_factory=dict)   # blank index (among the blanks) → what was written
    # When the page showing the information note was sent (from the server's signed token; None: not shown on
    # the screen, e.g. a paper form entered afterwards) and how long it was read before the consent part.
    information_shown_at: datetime | None = None
    information_seconds: int | None = None
    # The ceremony the form version asks for (`consent/services/ceremony.py`): whether the signer cannot read (an
    # impartial witness is then required), the other signers by role, the comprehension answers by question index.
    cannot_read: bool = False
    others: dict[str, ceremonies.SignerInput] = field(default_factory=dict)
    comprehension: dict[int, ceremonies.ComprehensionInput] = field(default_factory=dict)
    # When an investigator records the consent, their countersignature's time: by default the ceremony's last
    # signature (at the bedside, their e-signature closes it); a remote consent gives the moment they countersign.
    countersigned_at: datetime | None = None
    # A remote consent's identity checks, as printed and kept on the record (`remote.remote_consent_countersign`).
    remote: dict = field(default_factory=dict)


def consent_record_create(*, actor, participant: Participant, data: ConsentInput, username: str, password: str,
                          expected_sequence: int, with_record: Callable[[ConsentRecord], None] | None = None
                          ) -> ConsentRecord:
    """Record a consent (or a refusal) and its signed PDF, all or nothing.

    The person who obtained it signs with both components of their electronic signature, typed again at every
    signing: their user name and their password (21 CFR 11.200(a)(1)). `expected_sequence` is the number of
    records the form was opened with: a second submission, or someone else's record in between, is refused
    instead of being recorded twice. `with_record(record)`: what the caller writes with the record, in its
    transaction (a remote consent links its invitation); if it raises, nothing is recorded.
    """
    site = participant.site
    if data.version.kind == "emergency":  # the investigator's attestation, delegated on the log
        if not permissions.is_site_staff(actor, site):
            raise PermissionDenied
        refusal = permissions.emergency_refusal(actor, site, data.signed_at)
        if refusal is not None:
            raise ValidationError(refusal)
    else:  # "obtain informed consent", on the delegation log on the signing date
        _check_delegation(actor, site, "consent", data.signed_at)
    # While the login throttle is in force for this user, the password is not even tried (as at login): wrong
    # passwords at signing count towards that throttle, so the signing form cannot be used to guess it.
    if signing_suspended(actor):
        audit.record(actor=actor, action="consent.signing_throttled", obj=participant,
                     reason="login throttle in force for this user")
        raise ValidationError(_("Too many wrong passwords: signing is suspended for a few minutes, as logging in "
                                "is. Nothing was recorded."))
    # Outside the record's transaction, so that a failed re-authentication stays in the audit trail (and counts
    # towards the login throttle) although nothing else is written.
    if not _signature_components_match(actor, username, password):
        raise ValidationError(_("Your user name or password is not correct: the consent was not recorded."))
    return _record(actor=actor, participant=participant, data=data, expected_sequence=expected_sequence,
                   with_record=with_record)


@transaction.atomic
def _record(*, actor, participant: Participant, data: ConsentInput, expected_sequence: int,
            with_record: Callable[[ConsentRecord], None] | None = None) -> ConsentRecord:
    site = participant.site
    participant = _locked(participant)
    if participant.consents.count() != expected_sequence:
        raise ValidationError(_("%(code)s's record changed since the form was opened (another consent was just "
                                "recorded). Nothing was saved: reopen the participant.") % {"code": participant.code})
    trial = participant.site.trial
    version = ConsentFormVersionPage.objects.get(pk=data.version.pk)
    kind = version.kind
    now = timezone.now()
    if data.signed_at > now:
        raise ValidationError(_("The signing time is in the future."))
    current = selectors.current_version(site=site, kind=kind, language=version.language, at=data.signed_at)
    if current is None or current.pk != version.pk:
        raise ValidationError(_("This version was not the one in force at %(site)s at the signing time; the "
                                "version in force then was %(current)s.") % {
            "site": site.code, "current": current or _("none")})
    signer = _signer(data, kind)
    _check_pathway(participant, kind, data.outcome, trial, signer)
    if participant.consents.exists():  # the first consent may precede the registration (signed on paper)
        _check_timeline(participant, data.signed_at, event=_("consent"))
    answered = _check_input(data, kind, neutral(version.consent), signer, version.language)
    shown_at, seconds = _information_display(data, now)
    actor_name = actor.get_full_name() or actor.get_username()
    ceremony = ceremonies.Ceremony(signers=[], comprehension=[], outcome=data.outcome)
    if kind != "emergency":
        ceremony = ceremonies.check(
            version=version, main_role="participant" if signer == "participant" else "representative",
            main_name=_main_name(signer, participant.code, data.surrogate_relationship.strip()),
            outcome=data.outcome, signed_at=data.signed_at, actor=actor, actor_name=actor_name, site=site,
            cannot_read=data.cannot_read, others=data.others, answers=data.comprehension,
            signature_source=data.signature_source, now=now, countersigned_at=data.countersigned_at)

    record = ConsentRecord(
        participant=participant, sequence=expected_sequence + 1, version=version, kind=kind, outcome=ceremony.outcome,
        signed_at=data.signed_at, obtained_by=actor, obtained_by_name=actor_name,
        obtained_by_role=_role_label(actor, site), signer_role=signer,
        surrogate_relationship=data.surrogate_relationship.strip() if signer in ("surrogate", "representative")
        else "",
        independence_attested=data.independence_attested and signer in ("surrogate", "representative"),
        emergency_conditions_attested=data.emergency_conditions_attested and kind == "emergency",
        no_prior_objection_attested=data.no_prior_objection_attested and kind == "emergency",
        patient_unable_attested=signer == "representative",
        witness_name=data.witness_name.strip(),
        statements=answered, objects_to_data_use=data.objects_to_data_use, signature_source=data.signature_source,
        content_sha256=version.content_hash, verification_token=secrets.token_urlsafe(12),
        information_shown_at=shown_at, information_seconds=seconds,
        signer_cannot_read=data.cannot_read and kind != "emergency",
        ceremony=ceremony.signers, comprehension=ceremony.comprehension, declined_by=ceremony.declined_by,
        remote=data.remote,
        declined_at=ceremony.declined_at if ceremony.outcome == ConsentRecord.Outcome.DECLINED else None,
        countersignature_due_by=ceremony.countersignature_due_by,
        countersigned_by=actor if ceremony.countersigned_now else None,
        countersigned_at=ceremony.countersigned_at,
    )
    before = participant.status
    _apply_pathway(participant, record, trial)
    with translation.override(version.language):  # the record reads in the form's language, whatever the UI's
        signed, signer = _signed_pdf(record, data.signature_png, trial, pictures=ceremony.pictures)
    record.pdf_sha256 = hashlib.sha256(signed).hexdigest()
    record.pdf_signer = signer
    try:
        save_whole(record.pdf, f"{secrets.token_hex(16)}.pdf", ContentFile(signed))
    except StorageFailed as error:
        raise ValidationError(StorageFailed.message) from error
    try:
        with transaction.atomic():
            record.save()
            archival.register(data=signed, record=record)
            participant.save()
            if before != Participant.Status.SCREENING and record.outcome == ConsentRecord.Outcome.REFUSED:
                # Refusing to go on stops everything from then; the data collected stay unless objected to.
                _write_withdrawal(participant, at=record.signed_at, reason=participant.end_reason, actor=actor,
                                  scope=Withdrawal.Scope.DATA_USE if record.objects_to_data_use
                                  else Withdrawal.Scope.DATA_COLLECTION)
            _close_tasks(participant, record)
            _open_continuation_task(participant, record, trial)
            _open_patient_consent_task(participant, record, trial)
            _open_reconsent_if_outdated(participant, record, trial)
            if with_record is not None:
                with_record(record)
            audit.record(actor=actor, action="consent.recorded", obj=record, changes={
                "participant": [None, participant.code], "version": [None, str(version)],
                "outcome": [None, record.outcome], "signer": [None, record.signer_role],
                "ceremony": [None, [f"{s['role']}: {s['decision']}" for s in record.ceremony]],
                "comprehension": [None, [len(q["attempts"]) for q in record.comprehension]],
                "signed_at": [None, record.signed_at],
                "information_shown_at": [None, record.information_shown_at],
                "information_seconds": [None, record.information_seconds],
                "status": [before, participant.status], "pdf_sha256": [None, record.pdf_sha256]})
    except IntegrityError as error:
        record.pdf.delete(save=False)  # no file without its record
        raise ValidationError(_("This consent was recorded at the same moment by someone else; nothing was "
                                "saved twice. Reopen the participant.")) from error
    except Exception:
        record.pdf.delete(save=False)
        raise
    return record


def _signer(data: ConsentInput, kind: str) -> str:
    """Who signs: the kind's own signer, except a continuation, signed by the patient or by a representative."""
    own = {"surrogate": "surrogate", "emergency": "investigator"}.get(kind, "participant")
    if not data.signer_role or data.signer_role == own:
        return own
    if kind == "continuation" and data.signer_role == "representative":
        return "representative"
    if kind == "continuation":
        raise ValidationError(_("Say who signs the continuation consent: the patient, or a representative."))
    raise ValidationError(_("Only a continuation consent can be signed by a representative of the patient."))


def _check_input(data: ConsentInput, kind: str, blocks: list[dict], signer: str, language: str) -> list[dict]:
    if data.outcome not in (ConsentRecord.Outcome.CONSENTED, ConsentRecord.Outcome.REFUSED):
        raise ValidationError(_("Choose whether consent was given or refused."))
    answered = _answered(data, blocks, language)
    if kind == "surrogate":
        if not data.surrogate_relationship.strip():
            raise ValidationError(_("Give the surrogate's relationship to the participant."))
        if not data.independence_attested:
            raise ValidationError(_("The surrogate must be independent of the investigator and the sponsor."))
    if signer == "representative":
        if not data.patient_unable_attested:
            raise ValidationError(_("A representative signs only while the patient is still unable to consent: "
                                    "attest it, or have the patient sign."))
        if not data.surrogate_relationship.strip():
            raise ValidationError(_("Give the representative's relationship to the participant."))
        if not data.independence_attested:
            raise ValidationError(_("The representative must be independent of the investigator and the "
                                    "sponsor."))
    if kind == "emergency" and not (data.emergency_conditions_attested and data.no_prior_objection_attested):
        raise ValidationError(_("Attest the emergency conditions and that no prior objection of the patient is "
                                "known."))
    if kind != "emergency" and data.signature_png is None:
        raise ValidationError(_("The signer's hand signature is missing: draw it, type the signer's full name or "
                                "upload the signed paper form."))
    if kind == "continuation" and data.outcome == ConsentRecord.Outcome.REFUSED and data.objects_to_data_use is None:
        if signer == "representative":
            raise ValidationError(_("Record whether the representative objects, for the patient, to the use of "
                                    "data already collected."))
        raise ValidationError(_("Record whether the patient objects to the use of data already collected."))
    return answered


def _answered(data: ConsentInput, blocks: list[dict], language: str) -> list[dict]:
    """Every statement, tick box and blank of the consent part, in the form's order, with what was answered: all
    of it is recorded and printed. A statement must be answered; a tick box left empty is recorded as such."""
    answered = []
    counters = {"consent_statement": 0, "checkbox": 0, "fill_in": 0}
    for position, block in enumerate(blocks):
        kind, value = block["type"], block["value"]
        if kind not in counters:
            continue
        index = counters[kind]
        counters[kind] += 1
        if kind == "consent_statement":
            answer = data.answers.get(index)
            if answer not in ("accept", "refuse"):
                raise ValidationError(_("Answer every statement of the form (statement %(n)s).") % {"n": index + 1})
            if data.outcome == ConsentRecord.Outcome.CONSENTED and value.get("mandatory") and answer != "accept":
                raise ValidationError(_("A mandatory statement was refused: record the outcome as a refusal."))
            answered.append({"type": "statement", "block": position, "text": value["text"],
                             "mandatory": bool(value.get("mandatory")), "answer": answer,
                             "label": value["accept_label"] if answer == "accept" else value["refuse_label"]})
        elif kind == "checkbox":
            ticked = bool(data.ticks.get(index))
            with translation.override(language):  # recorded in the form's language, whatever the screen's
                label = _("Ticked") if ticked else _("Not ticked")
            answered.append({"type": "checkbox", "block": position, "text": value["text"], "mandatory": False,
                             "answer": "accept" if ticked else "refuse", "label": label})
        else:
            written = (data.fills.get(index) or "").strip()
            if len(written) > 500:
                raise ValidationError(_("A blank of the form holds 500 characters at most."))
            answered.append({"type": "fill_in", "block": position, "text": value["label"], "mandatory": False,
                             "answer": written, "label": written or "—"})
    return answered


def _information_display(data: ConsentInput, now: datetime) -> tuple[datetime | None, int | None]:
    """When the information note was shown (never in the future) and how long it was read: never longer than
    the time between showing it and recording (the page measures it, the server bounds it)."""
    shown_at = data.information_shown_at
    if shown_at is None or shown_at > now:
        return None, None
    seconds = data.information_seconds
    if seconds is not None:
        seconds = max(0, min(int(seconds), int((now - shown_at).total_seconds())))
    return shown_at, seconds


def _main_name(signer: str, code: str, relationship: str) -> str:
    if signer == "participant":
        return f"Participant {code}"
    return f"Proche de {code} ({relationship})"
