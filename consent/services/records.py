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
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cms.files import StorageFailed, save_whole
from regulatory import accounts, audit, permissions
from regulatory.models import InvestigationalSite, Role, RoleGroup, TrialPage

from .. import selectors
from ..blocks import neutral
from ..models import (
    ConsentFormVersionPage,
    ConsentRecord,
    ConsentTask,
    FormEffectivity,
    Participant,
    ParticipantCounter,
)
from ..pdf import RecordToPrint, SignerToPrint, render_consent_record
from ..pki import load_identity
from ..signing import SignatureRequest, sign_pdf

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
    if not permissions.can_record_consent(actor, site):
        raise PermissionDenied
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


def is_site_investigator(user, site: InvestigationalSite) -> bool:
    """Whether the user holds the investigator role at this site (a membership of the site's investigator
    RoleGroup), read here rather than in `regulatory.permissions`: only an investigator certifies an emergency
    inclusion (EU CTR art. 35, CSP L1122-1-2), a study coordinator does not."""
    return (bool(getattr(user, "is_authenticated", False)) and user.is_active
            and RoleGroup.objects.filter(site=site, group__user=user, role=Role.INVESTIGATOR).exists())


def emergency_refusal_message(site: InvestigationalSite) -> str:
    return _("Only an investigator of %(site)s can attest an emergency inclusion: the investigator certifies the "
             "emergency conditions and records the inclusion under their own account. Nothing was recorded.") % {
        "site": site.code}


def signing_suspended(user) -> bool:
    """The login throttle is in force for this user name (too many wrong passwords, at login or at signing):
    signing is refused as logging in is. Per user name only: a throttled client address (every user behind the
    hospital's proxy) does not stop signing."""
    return accounts.login_throttled(username=user.get_username(), ip_address=None)


def _locked(participant: Participant) -> Participant:
    return Participant.objects.select_for_update().select_related("site__trial").get(pk=participant.pk)


def _end(participant: Participant, *, status: str, reason: str, at: datetime) -> None:
    participant.status = status
    participant.ended_at = at
    participant.end_reason = reason
    for task in participant.tasks.filter(closed_at__isnull=True):
        task.closed_at = at
        task.closed_reason = reason[:255]
        task.save(update_fields=["closed_at", "closed_reason"])


@transaction.atomic
def participant_withdraw(*, actor, participant: Participant, objects_to_data_use: bool, reason: str) -> Participant:
    """Withdrawal at any time: data already collected are kept (unless the participant objects), nothing new."""
    participant = _locked(participant)
    if not permissions.can_record_consent(actor, participant.site):
        raise PermissionDenied
    if not participant.is_active:
        raise ValidationError(_("%(code)s is no longer taking part (%(status)s).")
                              % {"code": participant.code, "status": participant.get_status_display()})
    if not reason.strip():
        raise ValidationError(_("Say how the withdrawal was expressed."))
    before = participant.status
    _end(participant, status=Participant.Status.WITHDRAWN, reason=reason.strip(), at=timezone.now())
    participant.objects_to_data_use = objects_to_data_use
    participant.save()
    audit.record(actor=actor, action="participant.withdrawn", obj=participant, reason=reason, changes={
        "status": [before, participant.status], "objects_to_data_use": [None, objects_to_data_use]})
    return participant


@transaction.atomic
def participant_record_death(*, actor, participant: Participant, died_at: datetime) -> Participant:
    """Death, recorded as such (also before any continuation consent could be obtained)."""
    participant = _locked(participant)
    if not permissions.can_record_consent(actor, participant.site):
        raise PermissionDenied
    if not participant.is_active:
        raise ValidationError(_("%(code)s is no longer taking part (%(status)s).")
                              % {"code": participant.code, "status": participant.get_status_display()})
    if died_at > timezone.now():
        raise ValidationError(_("The date of death cannot be in the future."))
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


def _statements(version: ConsentFormVersionPage) -> list[dict]:
    return [block["value"] for block in neutral(version.consent) if block["type"] == "consent_statement"]


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


def _check_input(data: ConsentInput, kind: str, statements: list[dict], signer: str) -> list[dict]:
    if data.outcome not in ConsentRecord.Outcome.values:
        raise ValidationError(_("Choose whether consent was given or refused."))
    answered = []
    for index, statement in enumerate(statements):
        answer = data.answers.get(index)
        if answer not in ("accept", "refuse"):
            raise ValidationError(_("Answer every statement of the form (statement %(n)s).") % {"n": index + 1})
        if data.outcome == ConsentRecord.Outcome.CONSENTED and statement.get("mandatory") and answer != "accept":
            raise ValidationError(_("A mandatory statement was refused: record the outcome as a refusal."))
        answered.append({"text": statement["text"], "mandatory": bool(statement.get("mandatory")),
                         "answer": answer,
                         "label": statement["accept_label"] if answer == "accept" else statement["refuse_label"]})
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
        raise ValidationError(_("The signer's hand signature is missing: draw it or upload the signed paper form."))
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
    if not permissions.can_record_consent(actor, site):
        raise PermissionDenied
    if data.version.kind == "emergency" and not is_site_investigator(actor, site):
        raise ValidationError(emergency_refusal_message(site))
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
    """Both components belong to the logged-in account. Another user name, even another user's right one, is a
    failed signing: it is audited as a failed login of this account and counts towards its throttle; the
    password is then not tried."""
    if username.strip() != actor.get_username():
        audit.record(actor=actor, action=accounts.LOGIN_FAILED, obj=actor, object_repr=actor.get_username(),
                     reason="signing: the user name typed is not the logged-in account's")
        return False
    return authenticate(username=actor.get_username(), password=password) == actor


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
    answered = _check_input(data, kind, _statements(version), signer)

    record = ConsentRecord(
        participant=participant, sequence=expected_sequence + 1, version=version, kind=kind, outcome=data.outcome,
        signed_at=data.signed_at, obtained_by=actor, obtained_by_name=actor.get_full_name() or actor.get_username(),
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
    )
    before = participant.status
    _apply_pathway(participant, record, trial)
    with translation.override(version.language):  # the record reads in the form's language, whatever the UI's
        signed, signer = _signed_pdf(record, data.signature_png, trial)
    record.pdf_sha256 = hashlib.sha256(signed).hexdigest()
    record.pdf_signer = signer
    try:
        save_whole(record.pdf, f"{secrets.token_hex(16)}.pdf", ContentFile(signed))
    except StorageFailed as error:
        raise ValidationError(StorageFailed.message) from error
    try:
        with transaction.atomic():
            record.save()
            participant.save()
            _close_tasks(participant, record)
            _open_continuation_task(participant, record, trial)
            _open_patient_consent_task(participant, record, trial)
            _open_reconsent_if_outdated(participant, record, trial)
            audit.record(actor=actor, action="consent.recorded", obj=record, changes={
                "participant": [None, participant.code], "version": [None, str(version)],
                "outcome": [None, record.outcome], "signer": [None, record.signer_role],
                "signed_at": [None, record.signed_at],
                "status": [before, participant.status], "pdf_sha256": [None, record.pdf_sha256]})
    except IntegrityError as error:
        record.pdf.delete(save=False)  # no file without its record
        raise ValidationError(_("This consent was recorded at the same moment by someone else; nothing was "
                                "saved twice. Reopen the participant.")) from error
    except Exception:
        record.pdf.delete(save=False)
        raise
    return record


def _apply_pathway(participant: Participant, record: ConsentRecord, trial: TrialPage) -> None:
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
    for task in tasks.filter(kind=ConsentTask.Kind.RECONSENT, form_kind=record.kind).select_related("target_version"):
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
    ConsentTask.objects.get_or_create(
        participant=participant, kind=ConsentTask.Kind.RECONSENT, form_kind=record.kind, closed_at=None,
        defaults={"target_version": period.version, "opens_at": period.effective_from,
                  "due_at": period.effective_from + timedelta(days=trial.reconsent_deadline_days)})


def reconsent_tasks_open(*, version: ConsentFormVersionPage, site: InvestigationalSite, effective_from: datetime
                         ) -> int:
    """When a newer version of a form takes effect at a site, each active participant whose last consent of that
    kind was on an older version must consent again. Called by `form_make_effective`, in its transaction."""
    trial = site.trial
    due = effective_from + timedelta(days=trial.reconsent_deadline_days)
    opened = 0
    participants = Participant.objects.filter(site=site, status=Participant.Status.INCLUDED)
    for participant in participants.prefetch_related("consents__version"):
        last = max((r for r in participant.consents.all()
                    if r.kind == version.kind and r.outcome == ConsentRecord.Outcome.CONSENTED
                    and r.version.language == version.language), key=lambda r: r.sequence, default=None)
        if last is None or last.version.version_key >= version.version_key:
            continue
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


def _signed_pdf(record: ConsentRecord, signature_png: bytes | None, trial: TrialPage) -> tuple[bytes, str]:
    from ..masters import form_to_print, trial_header

    version, participant = record.version, record.participant
    meaning = SIGNER_MEANINGS.get(record.signer_role, "")
    signers = []
    if record.signer_role == "participant":
        signers.append(SignerToPrint(f"Participant {participant.code}", _local(record.signed_at), meaning,
                                     signature_png))
    elif record.signer_role == "surrogate":
        signers.append(SignerToPrint(f"Proche de {participant.code} ({record.surrogate_relationship})",
                                     _local(record.signed_at), f"{meaning} ({record.surrogate_relationship})",
                                     signature_png))
    elif record.signer_role == "representative":
        signers.append(SignerToPrint(f"Proche de {participant.code} ({record.surrogate_relationship})",
                                     _local(record.signed_at),
                                     f"{meaning} ({record.surrogate_relationship}), en qualité de représentant du "
                                     f"patient hors d'état de consentir", signature_png))
    obtained = "Inclusion en urgence attestée par" if record.kind == "emergency" else "Consentement recueilli par"
    signers.append(SignerToPrint(f"{record.obtained_by_name}, {record.obtained_by_role.lower()}",
                                 _local(record.signed_at), obtained,
                                 signature_png if record.kind == "emergency" else None))
    if record.witness_name:
        signers.append(SignerToPrint(record.witness_name, _local(record.signed_at), "Témoin"))
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
    base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
    printable = RecordToPrint(
        participant_code=participant.code, outcome=record.get_outcome_display(), facts=facts,
        statements=[(s["text"], s["label"], s["answer"] == "accept") for s in record.statements],
        signers=signers, verification_url=f"{base}/v/{record.verification_token}/")
    unsigned = render_consent_record(form_to_print(version, watermark=""), printable, header=trial_header(trial))
    identity = load_identity(role="site", site_code=participant.site.code)
    signed = sign_pdf(unsigned, identity=identity, request=SignatureRequest(
        field_name="Centre", reason=f"{obtained} {record.obtained_by_name} — {participant.code}",
        location=f"{participant.site.name}, {participant.site.country}"))
    return signed, identity.display_name
