"""Participants and their consent records: the consent pathway, re-consent, and the signed consent PDF."""

import base64
import binascii
import hashlib
import io
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cms.files import StorageFailed, save_whole
from cms.public import public_url
from regulatory import accounts, audit, permissions
from regulatory.models import InvestigationalSite, Role, RoleGroup, TrialPage

from .. import archival, selectors
from ..blocks import neutral
from ..models import (
    WITHDRAWAL_ENDS_PARTICIPATION,
    WITHDRAWAL_ORDER,
    ConsentFormVersionPage,
    ConsentRecord,
    ConsentTask,
    FormEffectivity,
    Participant,
    ParticipantCounter,
    Withdrawal,
)
from ..pdf import RecordToPrint, SignerToPrint, render_consent_record
from ..pki import load_identity
from ..signing import SignatureRequest, sign_for_archive, sign_pdf
from . import ceremony as ceremonies

logger = logging.getLogger(__name__)

MAX_SIGNATURE_IMAGE_BYTES = 2 * 1024 * 1024
INCLUSION_KINDS = ("patient", "surrogate", "emergency")
SIGNER_MEANINGS = {
    "participant": "Signé par le participant",
    "surrogate": "Signé par le proche",
    "representative": "Signé par le proche",
}
# What the signed PDF says of the signer's capacity ("Qualité du signataire"), per record kind and signer.
SIGNER_CAPACITIES = {
    ("patient", "participant"): "Le participant lui-même",
    ("surrogate", "surrogate"): "Un proche ou la personne de confiance, pour le participant hors d'état de "
                                "consentir",
    ("emergency", "investigator"): "L'investigateur, qui atteste l'inclusion en urgence (pas de signature du "
                                   "participant ni d'un proche)",
    ("continuation", "participant"): "Le patient lui-même, en état de consentir (consentement de poursuite)",
    ("continuation", "representative"): "Un proche ou la personne de confiance, représentant le patient encore "
                                        "hors d'état de consentir (consentement de poursuite) ; le consentement "
                                        "du patient lui-même lui sera demandé dès qu'il le pourra",
}


# --- Participants -----------------------------------------------------------------------------------------

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


def _check_delegation(actor, site: InvestigationalSite, task: str, at=None) -> None:
    """Site staff only (else PermissionDenied: the page is not theirs), and only what the delegation log gives them
    on that day (else a ValidationError saying why: `permissions.delegation_refusal`)."""
    if not permissions.is_site_staff(actor, site):
        raise PermissionDenied
    refusal = permissions.delegation_refusal(actor, site, task, at)
    if refusal is not None:
        raise ValidationError(refusal)


def is_site_investigator(user, site: InvestigationalSite, at=None) -> bool:
    """Whether the user may attest an emergency inclusion at this site: an investigator of the site delegated the
    attestation, as the permissions authority decides (`permissions.can_attest_emergency_inclusion`)."""
    return permissions.can_attest_emergency_inclusion(user, site, at)


def emergency_refusal_message(site: InvestigationalSite, user=None, at=None) -> str:
    return permissions.emergency_refusal(user, site, at) or ""


def signing_suspended(user) -> bool:
    """See `regulatory.accounts.signing_suspended` (shared with the approval of versions)."""
    return accounts.signing_suspended(user)


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


def _shown(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


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


def _scope_label(scope: str) -> str:
    return str(Withdrawal.Scope(scope).label).lower()


def _write_withdrawal(participant: Participant, *, scope: str, at: datetime, reason: str, actor) -> list[Withdrawal]:
    """The rows of a withdrawal from `scope` and of the scopes it stops too that were not stopped already."""
    done = set(participant.withdrawals.values_list("scope", flat=True))
    rows = []
    for stopped in WITHDRAWAL_ORDER[:WITHDRAWAL_ORDER.index(scope) + 1]:
        if stopped not in done:
            rows.append(Withdrawal.objects.create(participant=participant, scope=stopped, at=at, reason=reason,
                                                  implied_by="" if stopped == scope else scope, recorded_by=actor))
    return rows


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


# --- Recording a consent ------------------------------------------------------------------------------------

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


def decode_drawn_signature(data_url: str) -> bytes:
    """The signature pad's PNG (a data: URL), checked to be a real, reasonably small image."""
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        raise ValidationError(_("The drawn signature is not a PNG image."))
    try:
        raw = base64.b64decode(data_url[len(prefix):], validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValidationError(_("The drawn signature could not be read.")) from error
    return normalise_signature_image(raw)


MAX_TYPED_SIGNATURE = 120


def typed_signature_image(name: str) -> bytes:
    """The signer's full name, typed on the keyboard (the way to sign without drawing), as the PNG the signed PDF
    shows where a drawn signature would be; the record says it was typed (`SignatureSource.TYPED`)."""
    import unicodedata

    from PIL import Image, ImageDraw, ImageFont

    from cms.pdf_fonts import FONT_DIR

    name = " ".join(str(name).split())
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ValidationError(_("The typed name holds characters that cannot be printed."))
    if not name or len(name) > MAX_TYPED_SIGNATURE:
        raise ValidationError(_("Type the signer's full name (%(max)s characters at most).")
                              % {"max": MAX_TYPED_SIGNATURE})
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 40)
    left, top, right, bottom = font.getbbox(name)
    image = Image.new("RGB", (max(right - left, 1) + 40, max(bottom - top, 1) + 30), "white")
    ImageDraw.Draw(image).text((20 - left, 15 - top), name, font=font, fill=(16, 36, 62))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def normalise_signature_image(raw: bytes) -> bytes:
    """Any PNG or JPEG (a drawing or a scan) re-encoded as a flat PNG; anything else is refused."""
    from PIL import Image, UnidentifiedImageError

    if len(raw) > MAX_SIGNATURE_IMAGE_BYTES:
        raise ValidationError(_("The signature image is too large (2 MB at most)."))
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format not in ("PNG", "JPEG") or image.width * image.height > 25_000_000:
                raise ValidationError(_("The signature must be a PNG or JPEG image."))
            image.load()
            flat = Image.new("RGB", image.size, "white")
            rgba = image.convert("RGBA")
            flat.paste(rgba, mask=rgba.split()[3])
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValidationError(_("The signature image could not be read.")) from error
    if flat.getextrema() == ((255, 255), (255, 255), (255, 255)):
        raise ValidationError(_("The signature is empty."))
    out = io.BytesIO()
    flat.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _role_label(user, site) -> str:
    """The role printed on the record, in the site's main language whatever the language of the screen."""
    roles = RoleGroup.objects.filter(site=site, group__user=user).values_list("role", flat=True)
    with translation.override(settings.LANGUAGE_CODE):
        return str(Role.INVESTIGATOR.label) if Role.INVESTIGATOR in roles else str(Role.COORDINATOR.label)


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


def consent_record_create(*, actor, participant: Participant, data: ConsentInput, username: str, password: str,
                          expected_sequence: int) -> ConsentRecord:
    """Record a consent (or a refusal) and its signed PDF, all or nothing.

    The person who obtained it signs with both components of their electronic signature, typed again at every
    signing: their user name and their password (21 CFR 11.200(a)(1)). `expected_sequence` is the number of
    records the form was opened with: a second submission, or someone else's record in between, is refused
    instead of being recorded twice.
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
    return _record(actor=actor, participant=participant, data=data, expected_sequence=expected_sequence)


def _signature_components_match(actor, username: str, password: str) -> bool:
    """Both components belong to the logged-in account (`regulatory.accounts.signature_components_match`)."""
    return accounts.signature_components_match(actor, username, password, what="signing")


@transaction.atomic
def _record(*, actor, participant: Participant, data: ConsentInput, expected_sequence: int) -> ConsentRecord:
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
            signature_source=data.signature_source, now=now)

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


def _main_name(signer: str, code: str, relationship: str) -> str:
    if signer == "participant":
        return f"Participant {code}"
    return f"Proche de {code} ({relationship})"


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


def _local(moment: datetime) -> str:
    local = timezone.localtime(moment)
    offset = local.strftime("%z")
    return f"{date_format(local, 'd/m/Y H:i')} ({settings.TIME_ZONE}, UTC{offset[:3]}:{offset[3:]})"


def _has_signature_block(version: ConsentFormVersionPage, role: str) -> bool:
    return any(b["type"] == "signature" and b["value"].get("role") == role for b in neutral(version.consent))


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _information_fact(record: ConsentRecord) -> str:
    if record.information_shown_at is None:
        return "non affichée sur l'écran de recueil (remise sur papier ou formulaire papier saisi ensuite)"
    shown = f"affichée le {_local(record.information_shown_at)}"
    if record.information_seconds is None:
        return f"{shown} ; durée de lecture non mesurée"
    return f"{shown}, parcourue jusqu'au bout en {_duration(record.information_seconds)} avant le consentement"


def _ceremony_signers(record: ConsentRecord, pictures: dict) -> list[SignerToPrint]:
    """The other signers of the ceremony, each with the role in words, the time with its zone and the meaning."""
    printed = []
    for entry in record.ceremony:
        role = entry["role"]
        if role == "investigator" or entry.get("main"):
            continue
        if entry["decision"] == "declined":
            printed.append(SignerToPrint(entry["name"], entry["shown_at"],
                                         f"A refusé de signer, en qualité de {entry['words']}"))
            continue
        printed.append(SignerToPrint(entry["name"], entry["shown_at"], entry["meaning"], pictures.get(role),
                                     roles=("witness",) if role == "impartial_witness" else ()))
    return printed


def _comprehension_to_print(record: ConsentRecord) -> list[tuple[str, str]]:
    rows = []
    for number, question in enumerate(record.comprehension, start=1):
        attempts = " ; puis ".join(f"« {answer} »" for answer in question["attempts"])
        verdict = ("réponse juste du premier coup" if not question["wrong_attempts"]
                   else f"{question['wrong_attempts']} réponse(s) erronée(s) ; explication donnée : "
                        f"« {question['explanation']} » ; discutée avec le signataire (coché par "
                        f"{question['discussed_by']})")
        rows.append((f"{number}. {question['question']}",
                     f"Réponses données : {attempts}. Bonne réponse : « {question['right_label']} ». {verdict}."))
    return rows


def _signed_pdf(record: ConsentRecord, signature_png: bytes | None, trial: TrialPage,
                pictures: dict | None = None) -> tuple[bytes, str]:
    from ..masters import form_to_print, trial_header

    version, participant = record.version, record.participant
    meaning = SIGNER_MEANINGS.get(record.signer_role, "")
    signers = []
    if record.signer_role == "participant":
        signers.append(SignerToPrint(f"Participant {participant.code}", _local(record.signed_at), meaning,
                                     signature_png, roles=("participant",)))
    elif record.signer_role == "surrogate":
        signers.append(SignerToPrint(f"Proche de {participant.code} ({record.surrogate_relationship})",
                                     _local(record.signed_at), f"{meaning} ({record.surrogate_relationship})",
                                     signature_png, roles=("surrogate",)))
    elif record.signer_role == "representative":  # the form's relative's block, else the patient's
        signers.append(SignerToPrint(f"Proche de {participant.code} ({record.surrogate_relationship})",
                                     _local(record.signed_at),
                                     f"{meaning} ({record.surrogate_relationship}), en qualité de représentant du "
                                     f"patient hors d'état de consentir", signature_png,
                                     roles=("surrogate",) if _has_signature_block(version, "surrogate")
                                     else ("participant",)))
    signers += _ceremony_signers(record, pictures or {})
    obtained = "Inclusion en urgence attestée par" if record.kind == "emergency" else "Consentement recueilli par"
    if record.countersigned_at:
        obtained = "Consentement recueilli par — contresignature de l'investigateur"
    signers.append(SignerToPrint(f"{record.obtained_by_name}, {record.obtained_by_role.lower()}",
                                 _local(record.countersigned_at or record.signed_at), obtained,
                                 signature_png if record.kind == "emergency" else None, roles=("investigator",)))
    if record.outcome == ConsentRecord.Outcome.PENDING:
        signers.append(SignerToPrint(
            "En attente : elle sera ajoutée à ce document comme nouvelle révision signée (page suivante)",
            f"à donner au plus tard le {_local(record.countersignature_due_by)}",
            "Contresignature de l'investigateur (a recueilli le consentement)"))
    if record.witness_name:
        signers.append(SignerToPrint(record.witness_name, _local(record.signed_at), "Témoin", roles=("witness",)))
    facts = [("Formulaire", f"{version.get_kind_display()} — version {version.version_number} du "
                            f"{version.version_date:%d/%m/%Y}"),
             ("Empreinte du texte signé", version.content_hash),
             ("Signé le", _local(record.signed_at))]
    capacity = SIGNER_CAPACITIES.get((record.kind, record.signer_role))
    if capacity:
        facts.append(("Qualité du signataire", capacity))
    if record.patient_unable_attested:
        facts.append(("Patient hors d'état de consentir", f"attesté par {record.obtained_by_name}"))
    if record.surrogate_relationship:
        facts.append(("Lien avec le participant", record.surrogate_relationship))
        facts.append(("Indépendance du proche", "attestée (ni lien avec l'investigateur ni avec le promoteur)"))
    if record.kind == "emergency":
        facts.append(("Situation d'urgence", "attestée par l'investigateur"))
        facts.append(("Opposition antérieure connue", "aucune (attesté)"))
    if record.objects_to_data_use is not None:
        facts.append(("Opposition à l'utilisation des données déjà recueillies",
                      "oui" if record.objects_to_data_use else "non"))
    facts.append(("Signature manuscrite", record.get_signature_source_display()))
    if record.signer_cannot_read:
        facts.append(("Le signataire ne sait pas lire", "oui : un témoin impartial a assisté à toute la discussion"))
    for entry in record.ceremony:
        if entry["role"] == "interpreter" and entry.get("language"):
            facts.append(("Interprète", f"{entry['name']}, langue : {entry['language']}"))
    if record.declined_by:
        facts.append(("Cérémonie interrompue", f"refus de signer : {record.declined_by}, le "
                                                f"{_local(record.declined_at or record.signed_at)} ; ce document "
                                                f"n'est pas un consentement"))
    if record.outcome == ConsentRecord.Outcome.PENDING:
        facts.append(("Contresignature de l'investigateur", f"attendue au plus tard le "
                                                              f"{_local(record.countersignature_due_by)} ; d'ici là, "
                                                              f"ce document n'est pas un consentement"))
    facts.append(("Note d'information à l'écran", _information_fact(record)))
    base = public_url()
    printable = RecordToPrint(
        participant_code=participant.code, outcome=record.get_outcome_display(), facts=facts,
        statements=[(s["text"], s["label"], s["answer"] == "accept") for s in record.statements],
        signers=signers, verification_url=f"{base}/v/{record.verification_token}/",
        answers={s["block"]: s for s in record.statements if "block" in s},
        comprehension=_comprehension_to_print(record),
        countersignature_page=record.outcome == ConsentRecord.Outcome.PENDING)
    unsigned = render_consent_record(form_to_print(version, watermark=""), printable, header=trial_header(trial))
    identity = load_identity(role="site", site_code=participant.site.code)
    signed = sign_for_archive(unsigned, identity=identity, request=SignatureRequest(
        field_name="Centre", reason=f"{obtained} {record.obtained_by_name} — {participant.code}",
        location=f"{participant.site.name}, {participant.site.country}"))
    return signed, identity.display_name


# --- The investigator's countersignature, given later -------------------------------------------------------

def consent_countersign(*, actor, record: ConsentRecord, username: str, password: str, decline: bool = False,
                        reason: str = "", at: datetime | None = None) -> ConsentRecord:
    """The investigator countersigns a consent that awaits it (or declines to), with both components of their
    electronic signature. The record's PDF is signed again as a new PAdES revision (incremental update: every
    earlier revision stays inside, intact and verifiable) whose visible stamp is the countersignature's
    manifestation. Only then is the consent a consent. `at` is when (now when not given; the demo's past)."""
    site = record.participant.site
    if not permissions.can_record_consent(actor, site):
        raise PermissionDenied
    if not permissions.can_countersign_consent(actor, site):
        raise ValidationError(_("Only an investigator of %(site)s can countersign a consent. Nothing was recorded.")
                              % {"site": site.code})
    if signing_suspended(actor):
        raise ValidationError(_("Too many wrong passwords: signing is suspended for a few minutes, as logging in "
                                "is. Nothing was recorded."))
    if not _signature_components_match(actor, username, password):
        raise ValidationError(_("Your user name or password is not correct: nothing was recorded."))
    return _countersign(actor=actor, record=record, decline=decline, reason=reason.strip(), at=at)


@transaction.atomic
def _countersign(*, actor, record: ConsentRecord, decline: bool, reason: str, at: datetime | None) -> ConsentRecord:
    participant = _locked(record.participant)
    record = ConsentRecord.objects.select_for_update(of=("self",)).select_related("version").get(pk=record.pk)
    if record.outcome != ConsentRecord.Outcome.PENDING:
        raise ValidationError(_("This consent does not await a countersignature (%(outcome)s). Nothing was "
                                "recorded.") % {"outcome": record.get_outcome_display()})
    now = timezone.now()
    at = at or now
    if at > now:
        raise ValidationError(_("The countersignature's time is in the future. Nothing was recorded."))
    if at < record.signed_at:
        raise ValidationError(_("The countersignature cannot precede the signature it countersigns (%(at)s).")
                              % {"at": _local(record.signed_at)})
    if decline and not reason:
        raise ValidationError(_("Say why the countersignature is declined."))
    if not decline and at > record.countersignature_due_by:
        raise ValidationError(_("Too late: the countersignature was due by %(due)s. The consent cannot be completed; "
                                "decline it (with the reason) and obtain consent again. Nothing was recorded.")
                              % {"due": _local(record.countersignature_due_by)})
    if not decline and not participant.is_active:
        raise ValidationError(_("%(code)s is no longer taking part (%(status)s): nothing new can be recorded.")
                              % {"code": participant.code, "status": participant.get_status_display()})
    name = actor.get_full_name() or actor.get_username()
    ceremony = [dict(entry) for entry in record.ceremony]
    for entry in ceremony:
        if entry["role"] == "investigator" and entry["decision"] == "awaited":
            entry |= {"name": name, "decision": "declined" if decline else "signed", "at": at.isoformat(),
                      "shown_at": _local(at), "source": "electronic"}
            if decline:
                entry["reason"] = reason
    before = {"outcome": record.outcome, "pdf_sha256": record.pdf_sha256}
    role = _role_label(actor, site=participant.site)
    if decline:
        stamp = (f"Contresignature REFUSÉE par\n{name}, {role.lower()}\nle {_local(at)}\nMotif : {reason[:120]}\n"
                 f"Ce document n'est pas un consentement.")
        record.outcome, record.declined_by, record.declined_at = (
            ConsentRecord.Outcome.DECLINED, f"contresignature de l'investigateur — {name}", at)
    else:
        stamp = (f"Contresignature de l'investigateur (a recueilli le consentement)\n{name}, {role.lower()}\n"
                 f"le {_local(at)}\nLe consentement est complet.")
        record.outcome, record.countersigned_by, record.countersigned_at = ConsentRecord.Outcome.CONSENTED, actor, at
    record.ceremony = ceremony
    with record.pdf.open("rb") as handle:
        current = handle.read()
    if hashlib.sha256(current).hexdigest() != record.pdf_sha256:
        raise ValidationError(_("The stored PDF of this consent is not the one recorded: nothing was signed."))
    from ..pdf import COUNTERSIGNATURE_BOX
    from ..signing import SigningError

    identity = load_identity(role="site", site_code=participant.site.code)
    try:
        signed = sign_pdf(current, identity=identity, request=SignatureRequest(
            field_name=f"Contresignature{record.revisions.count() + 1}",
            reason=f"{'Contresignature refusée' if decline else 'Contresignature'} {name} — {participant.code}",
            location=f"{participant.site.name}, {participant.site.country}", visible_box=COUNTERSIGNATURE_BOX,
            stamp_text=stamp.replace("%", "%%")))
    except SigningError as error:
        raise ValidationError(str(error)) from error
    old_file = record.pdf.name
    from ..models import ConsentRecordRevision

    ConsentRecordRevision.objects.create(record=record, number=record.revisions.count() + 1,
                                         sha256=record.pdf_sha256,
                                         superseded_because="countersignature declined" if decline
                                         else "countersignature")
    record.pdf_sha256 = hashlib.sha256(signed).hexdigest()
    try:
        save_whole(record.pdf, f"{secrets.token_hex(16)}.pdf", ContentFile(signed))
    except StorageFailed as error:
        raise ValidationError(StorageFailed.message) from error
    try:
        with transaction.atomic():
            record.save()
            status_before = participant.status
            if not decline:
                trial = participant.site.trial
                _apply_pathway(participant, record, trial)
                participant.save()
                _close_tasks(participant, record)
                _open_continuation_task(participant, record, trial)
                _open_patient_consent_task(participant, record, trial)
                _open_reconsent_if_outdated(participant, record, trial)
            audit.record(actor=actor, action="consent.countersignature_declined" if decline
                         else "consent.countersigned", obj=record, reason=reason, changes={
                             "outcome": [before["outcome"], record.outcome], "at": [None, at],
                             "status": [status_before, participant.status],
                             "pdf_sha256": [before["pdf_sha256"], record.pdf_sha256]})
    except Exception:
        record.pdf.delete(save=False)
        raise
    # The earlier revision is inside the new file, byte for byte: the older file is no longer needed.
    storage = record.pdf.storage
    transaction.on_commit(lambda: storage.delete(old_file))
    return record
