"""The consent ceremony around the main signature: every signer the form version asks for, in its order (impartial
witness, interpreter, another relative, the investigator's countersignature), and the comprehension questions.

ICH E6(R3) informed consent; 21 CFR 50.27(b) (witness); 21 CFR 11.50 (manifestation); EU CTR art. 29; CSP
L1122-1-1. Checked here, written by `records.consents._record` and `records.consent_countersign`, in their transactions.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from regulatory import permissions

from ..models import ConsentFormVersionPage, ConsentRecord

# The role in words on the signed PDF (in the form's language: French in this trial).
ROLE_WORDS = {
    "participant": "participant",
    "representative": "représentant légal, proche ou personne de confiance",
    "impartial_witness": "témoin impartial",
    "interpreter": "interprète",
    "investigator": "contresignature de l'investigateur (a recueilli le consentement)",
}
MEANINGS = {
    "participant": "Le participant : signe aux côtés de son représentant",
    "impartial_witness": "Témoin impartial : atteste que l'information a été fidèlement expliquée, que le "
                         "signataire semble l'avoir comprise et que le consentement a été donné librement",
    "interpreter": "Interprète : atteste avoir traduit fidèlement l'information et les questions, en %(language)s",
    "representative": "Représentant légal, proche ou personne de confiance (%(relationship)s) : signe aux côtés du "
                      "participant",
    "investigator": "Contresignature de l'investigateur (a recueilli le consentement)",
}
MAX_ATTEMPTS = 10


def role_label(role: str) -> str:
    return {"participant": _("participant"), "representative": _("legal representative, relative or trusted person"),
            "impartial_witness": _("impartial witness"), "interpreter": _("interpreter"),
            "investigator": _("investigator's countersignature")}.get(role, role)


@dataclass
class SignerInput:
    """One person of the ceremony other than the main signer, as the tablet collected them."""

    role: str
    present: bool = False          # an optional signer who took part
    declined: bool = False
    name: str = ""
    relationship: str = ""         # another relative or representative
    language: str = ""             # the interpreter's
    signed_at: datetime | None = None
    signature_png: bytes | None = None
    signature_source: str = ConsentRecord.SignatureSource.DRAWN


@dataclass
class ComprehensionInput:
    attempts: list[int] = field(default_factory=list)  # choice indices (0-based), in the order given
    discussed: bool = False


@dataclass
class Ceremony:
    """What the checks found: the signers to record in order, the questions as answered, and how it ended."""

    signers: list[dict]
    comprehension: list[dict]
    outcome: str
    declined_by: str = ""
    declined_at: datetime | None = None
    countersignature_due_by: datetime | None = None
    countersigned_now: bool = False
    countersigned_at: datetime | None = None
    pictures: dict = field(default_factory=dict)  # role → the hand signature's PNG (for the PDF only)


def _local(moment: datetime) -> str:
    local = timezone.localtime(moment)
    offset = local.strftime("%z")
    return f"{date_format(local, 'd/m/Y H:i')} (Europe/Paris, UTC{offset[:3]}:{offset[3:]})"


def requirement(entry: dict, *, cannot_read: bool) -> bool:
    """Whether a configured signer must sign."""
    if entry["requirement"] == "if_cannot_read":
        return cannot_read
    return entry["requirement"] == "required"


def check(*, version: ConsentFormVersionPage, main_role: str, main_name: str, outcome: str, signed_at: datetime,
          actor, actor_name: str, site, cannot_read: bool, others: dict[str, SignerInput],
          answers: dict[int, ComprehensionInput], signature_source: str, now: datetime,
          countersigned_at: datetime | None = None) -> Ceremony:
    """Check the ceremony as the tablet collected it; raise a ValidationError (nothing written) for a signer
    missing, signatures out of order, a date in the future, an unanswered or undiscussed question.
    `countersigned_at`: when an investigator records it, the time of their countersignature (by default the last
    signature's: at the bedside their e-signature closes the ceremony)."""
    config = version.ceremony_signers()
    comprehension = _comprehension(version, answers, outcome=outcome, actor_name=actor_name)
    ceremony = Ceremony(signers=[], comprehension=comprehension, outcome=outcome)
    if not config:
        if cannot_read:
            raise ValidationError(_("This form version names no impartial witness: when the signer cannot read, "
                                    "a form whose ceremony includes one is needed. Nothing was recorded."))
        return ceremony
    # The main signer is at their place in the order when the form names them, else first.
    if not any(entry["role"] == main_role for entry in config):
        config = [{"role": main_role, "requirement": "required", "later_within_hours": 0}, *config]
    if cannot_read and not any(entry["role"] == "impartial_witness" for entry in config):
        raise ValidationError(_("The signer cannot read, but this form version names no impartial witness. Nothing "
                                "was recorded."))
    unknown = set(others) - {entry["role"] for entry in config}
    if any(others[role].present or others[role].declined for role in unknown):
        raise ValidationError(_("This form version does not ask for a %(role)s. Nothing was recorded.")
                              % {"role": role_label(sorted(unknown)[0])})
    previous: tuple[str, datetime] | None = None
    ended = outcome == ConsentRecord.Outcome.REFUSED
    for entry in config:
        role = entry["role"]
        required = requirement(entry, cannot_read=cannot_read)
        if role == main_role:
            ceremony.signers.append({
                "role": role, "main": True, "words": ROLE_WORDS.get(role, role), "name": main_name, "required": True,
                "decision": "declined" if ended else "signed", "at": signed_at.isoformat(),
                "shown_at": _local(signed_at), "source": signature_source})
            if ended:
                ceremony.declined_by, ceremony.declined_at = f"{ROLE_WORDS.get(role, role)} — {main_name}", signed_at
                break
            previous = (role, signed_at)
            continue
        if role == "investigator":
            _countersignature(ceremony, entry, required=required, actor=actor, actor_name=actor_name, site=site,
                              signed_at=signed_at, latest=previous[1] if previous else signed_at, now=now,
                              at=countersigned_at)
            continue
        given = others.get(role) or SignerInput(role=role)
        if not (given.present or given.declined):
            if required:
                raise ValidationError(_("The %(role)s is missing: this form version asks for their signature%(why)s. "
                                        "Nothing was recorded.") % {
                    "role": role_label(role),
                    "why": _(" (the signer cannot read)") if entry["requirement"] == "if_cannot_read" else ""})
            continue
        at = given.signed_at
        if at is None:
            raise ValidationError(_("Give the time the %(role)s signed.") % {"role": role_label(role)})
        if at > now:
            raise ValidationError(_("The %(role)s's signing time (%(at)s) is in the future. Nothing was recorded.")
                                  % {"role": role_label(role), "at": _local(at)})
        if previous is not None and at < previous[1]:
            raise ValidationError(_("Signatures out of order: the %(role)s signed at %(at)s, before the %(previous)s "
                                    "(%(previous_at)s), who signs first on this form. Nothing was recorded.") % {
                "role": role_label(role), "at": _local(at), "previous": role_label(previous[0]),
                "previous_at": _local(previous[1])})
        name = " ".join(given.name.split())
        if not name or len(name) > 255:
            raise ValidationError(_("Give the %(role)s's printed name (255 characters at most).")
                                  % {"role": role_label(role)})
        signer = {"role": role, "words": ROLE_WORDS[role], "name": name, "required": required,
                  "at": at.isoformat(), "shown_at": _local(at)}
        if role == "interpreter":
            language = " ".join(given.language.split())
            if not language or len(language) > 60:
                raise ValidationError(_("Give the language the interpreter translated into."))
            signer["language"] = language
        if role == "representative":
            relationship = " ".join(given.relationship.split())
            if not relationship or len(relationship) > 120:
                raise ValidationError(_("Give the representative's relationship to the participant."))
            signer["relationship"] = relationship
        if given.declined:
            signer["decision"] = "declined"
            ceremony.signers.append(signer)
            if required:  # the ceremony ends here, without consent
                ceremony.outcome = ConsentRecord.Outcome.DECLINED
                ceremony.declined_by, ceremony.declined_at = f"{ROLE_WORDS[role]} — {name}", at
                break
            continue
        if given.signature_png is None:
            raise ValidationError(_("The %(role)s's hand signature is missing: they draw it (or type their name) on "
                                    "the tablet.") % {"role": role_label(role)})
        signer |= {"decision": "signed", "source": given.signature_source,
                   "meaning": MEANINGS[role] % {"language": signer.get("language", ""),
                                                "relationship": signer.get("relationship", "")}}
        ceremony.signers.append(signer)
        ceremony.pictures[role] = given.signature_png
        previous = (role, at)
    return ceremony


def _countersignature(ceremony: Ceremony, entry: dict, *, required: bool, actor, actor_name: str, site,
                      signed_at: datetime, latest: datetime, now: datetime, at: datetime | None = None) -> None:
    """Given with the recording by an investigator of the site (their e-signature closes the ceremony, after its
    last signer, or at `at`: the moment of the recording itself is in the audit entry); else later, within the
    form's delay."""
    if ceremony.outcome != ConsentRecord.Outcome.CONSENTED:
        return  # nothing to countersign: the ceremony ended without consent
    if permissions.can_countersign_consent(actor, site):
        if at is not None and not latest <= at <= now:
            raise ValidationError(_("The countersignature's time must fall between the last signature (%(latest)s) "
                                    "and now. Nothing was recorded.") % {"latest": _local(latest)})
        hours = entry.get("later_within_hours") or 0
        if at is not None and hours and at > signed_at + timedelta(hours=hours):
            raise ValidationError(_("The investigator's countersignature was due within %(hours)s h of the signature "
                                    "(by %(due)s). Nothing was recorded.") % {
                "hours": hours, "due": _local(signed_at + timedelta(hours=hours))})
        latest = at or latest
        ceremony.countersigned_now, ceremony.countersigned_at = True, latest
        ceremony.signers.append({"role": "investigator", "words": ROLE_WORDS["investigator"], "name": actor_name,
                                 "required": required, "decision": "signed", "at": latest.isoformat(),
                                 "shown_at": _local(latest), "source": "electronic",
                                 "meaning": MEANINGS["investigator"]})
        return
    hours = entry.get("later_within_hours") or 0
    if not hours:
        if required:
            raise ValidationError(_("This form version needs the investigator's countersignature at the time of the "
                                    "consent: only an investigator of %(site)s can record it. Nothing was recorded.")
                                  % {"site": site.code})
        return
    due = signed_at + timedelta(hours=hours)
    if required and due < now:
        raise ValidationError(_("The investigator's countersignature was due within %(hours)s h of the signature "
                                "(by %(due)s): only an investigator can record this consent now. Nothing was "
                                "recorded.") % {"hours": hours, "due": _local(due)})
    ceremony.outcome = ConsentRecord.Outcome.PENDING
    ceremony.countersignature_due_by = due
    ceremony.signers.append({"role": "investigator", "words": ROLE_WORDS["investigator"], "name": "",
                             "required": required, "decision": "awaited", "due_by": due.isoformat(),
                             "shown_at": _local(due)})


def _comprehension(version: ConsentFormVersionPage, answers: dict[int, ComprehensionInput], *, outcome: str,
                   actor_name: str) -> list[dict]:
    """Every question with its attempts; a consent needs every question answered, and a wrong answer discussed."""
    recorded = []
    for index, question in enumerate(version.comprehension_questions()):
        given = answers.get(index) or ComprehensionInput()
        choices, right = list(question["choices"]), int(question["right_answer"]) - 1
        attempts = list(given.attempts)
        if not attempts:
            if outcome == ConsentRecord.Outcome.REFUSED:
                continue  # a refusal is recorded without the questions
            raise ValidationError(_("Comprehension question %(n)s is not answered: the signer answers every "
                                    "question before signing. Nothing was recorded.") % {"n": index + 1})
        if len(attempts) > MAX_ATTEMPTS or any(not 0 <= a < len(choices) for a in attempts):
            raise ValidationError(_("The answers to comprehension question %(n)s could not be read.")
                                  % {"n": index + 1})
        wrong = sum(1 for attempt in attempts if attempt != right)
        if wrong and not given.discussed and outcome != ConsentRecord.Outcome.REFUSED:
            raise ValidationError(_("Comprehension question %(n)s was answered wrongly: discuss it with the signer "
                                    "(%(explanation)s) and tick that it was discussed, before signing. Nothing was "
                                    "recorded.") % {"n": index + 1, "explanation": question["explanation"]})
        recorded.append({
            "question": question["question"], "choices": choices, "right": right,
            "right_label": choices[right], "explanation": question["explanation"],
            "attempts": [choices[a] for a in attempts], "wrong_attempts": wrong,
            "final_correct": attempts[-1] == right, "discussed": bool(wrong and given.discussed),
            "discussed_by": actor_name if wrong and given.discussed else ""})
    return recorded
