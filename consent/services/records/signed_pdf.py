"""The signed PDF of a consent record: what it prints (facts, statements, signers, ceremony, comprehension), sealed
by the site's signature."""

from datetime import datetime

from cms.public import public_url
from regulatory.models import TrialPage

from ...blocks import neutral
from ...models import ConsentFormVersionPage, ConsentRecord
from ...pdf import RecordToPrint, SignerToPrint, render_consent_record
from ...pki import load_identity
from ...signing import SignatureRequest, sign_for_archive
from ._common import _local

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


def _signed_pdf(record: ConsentRecord, signature_png: bytes | None, trial: TrialPage,
                pictures: dict | None = None) -> tuple[bytes, str]:
    from ...masters import form_to_print, trial_header

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
    if record.remote:
        facts.append(("Recueil à distance", _remote_fact(record.remote)))
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


def _information_fact(record: ConsentRecord) -> str:
    if record.information_shown_at is None:
        return "non affichée sur l'écran de recueil (remise sur papier ou formulaire papier saisi ensuite)"
    shown = f"affichée le {_local(record.information_shown_at)}"
    if record.information_seconds is None:
        return f"{shown} ; durée de lecture non mesurée"
    return f"{shown}, parcourue jusqu'au bout en {_duration(record.information_seconds)} avant le consentement"


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _has_signature_block(version: ConsentFormVersionPage, role: str) -> bool:
    return any(b["type"] == "signature" and b["value"].get("role") == role for b in neutral(version.consent))


def _remote_fact(remote: dict) -> str:
    """How a remote consent was given: by a one-time link and a one-time code sent to the relative."""
    def shown(key):
        return _local(datetime.fromisoformat(remote[key])) if remote.get(key) else "—"
    return (f"lien et code à usage unique envoyés au proche par {remote.get('invited_by', '—')} le "
            f"{shown('invited_at')} ; code vérifié le {shown('code_verified_at')} ; formulaire lu et signé par le "
            f"proche sur son appareil le {shown('signed_at')}")
