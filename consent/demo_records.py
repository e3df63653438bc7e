"""Demo participants of NCT07063680 at DIJ and LIL, one for each path of the consent pathway. Codes only, no
identity; the hand signatures are drawn scribbles; every consent PDF is really signed with the site's demo key."""

import datetime
import io
import random
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from PIL import Image, ImageDraw

from regulatory.demo_accounts import DEMO_PASSWORD

from . import selectors, services
from .models import Participant
from .pki import ensure_identities

PARIS = ZoneInfo("Europe/Paris")


def at(month, day, hour=10):
    return datetime.datetime(2026, month, day, hour, 0, tzinfo=PARIS)


# site, by whom, then the events: ("consent", kind, version number, signed at, outcome, extra) /
# ("withdraw", scope, reason, at or None for now) / ("death", at). In `extra`: "rel" (relationship of a
# relative), "objects" (objects to the use of data), "signer": "representative" (a relative signs a continuation
# for a patient still unable to consent), "by" (another account of the site records this event). Emergency
# inclusions are attested by the site's investigator only.
SCENARIOS = [
    ("DIJ", "investigator-dij", [("consent", "patient", "1.0", at(2, 10), "consented", {})]),  # re-consent due
    ("DIJ", "coordinator-dij", [("consent", "patient", "1.0", at(2, 20), "consented", {}),
                                ("consent", "patient", "2.0", at(4, 20), "consented", {})]),
    ("DIJ", "investigator-dij", [("consent", "surrogate", "1.0", at(3, 1), "consented", {"rel": "épouse"}),
                                 ("consent", "continuation", "1.0", at(3, 4), "consented", {})]),
    ("DIJ", "investigator-dij", [("consent", "emergency", "1.0", at(11, 10, 3), "consented", {})]),  # overdue
    ("DIJ", "coordinator-dij", [("consent", "patient", "1.0", at(3, 10), "refused", {})]),
    ("DIJ", "investigator-dij", [("consent", "patient", "2.0", at(5, 2), "consented", {}),
                                 # a scoped withdrawal in two steps: the treatment first, the follow-up later
                                 ("withdraw", "treatment", "Ne souhaite plus recevoir le traitement à l'étude ; "
                                  "accepte le suivi (démo)", at(5, 4)),
                                 ("withdraw", "follow_up", "Retrait exprimé oralement auprès de l'infirmière (démo)",
                                  None)]),
    ("DIJ", "coordinator-dij", [("consent", "surrogate", "1.0", at(11, 24, 2), "consented", {"rel": "fils"})]),
    ("LIL", "investigator-lil", [("consent", "patient", "1.0", at(3, 10), "consented", {})]),  # re-consent due
    ("LIL", "investigator-lil", [("consent", "surrogate", "1.0", at(3, 20), "consented", {"rel": "frère"}),
                                 ("death", at(3, 22))]),
    ("LIL", "investigator-lil", [("consent", "emergency", "1.0", at(4, 1, 4), "consented", {}),
                                 ("consent", "continuation", "1.0", at(4, 3), "refused",
                                  {"objects": True, "by": "coordinator-lil"})]),
    ("LIL", "investigator-lil", [("consent", "surrogate", "1.1", at(5, 10), "consented", {"rel": "mère"}),
                                 ("consent", "continuation", "1.0", at(5, 12), "consented", {})]),
    ("LIL", "coordinator-lil", [("consent", "patient", "2.0", at(6, 5), "consented", {})]),
    # Still sedated after an emergency inclusion: the daughter consents to continuation; the patient's own consent
    # stays on the to-do list.
    ("DIJ", "investigator-dij", [("consent", "emergency", "1.0", at(11, 20, 5), "consented", {}),
                                 ("consent", "continuation", "1.0", at(11, 21, 18), "consented",
                                  {"signer": "representative", "rel": "fille", "by": "coordinator-dij"})]),
    # Registered twice by mistake: kept, marked as such with the reason; its code is never given again.
    ("DIJ", "coordinator-dij", [("in_error", "Inscrit deux fois par erreur (démo) : même patient que DIJ-0008.")]),
    # Withdrawn from the study treatment only: still followed, data still collected, still on the to-do lists.
    ("DIJ", "coordinator-dij", [("consent", "patient", "2.0", at(5, 20), "consented", {}),
                                ("withdraw", "treatment", "Effets indésirables : arrêt du traitement, suivi "
                                 "poursuivi (démo)", at(6, 2))]),
    # The ceremony (issue 17), on the patient form v2.0. DIJ-0011: the patient cannot read; an impartial witness
    # and an interpreter sign after the patient, then the investigator (who obtained consent) countersigns.
    ("DIJ", "investigator-dij", [("consent", "patient", "2.0", at(11, 26, 15), "consented", {
        "cannot_read": True, "witness": "Marc Lambert (démo)", "interpreter": ("Samira Haddad (démo)", "arabe")})]),
    # DIJ-0012: obtained by the coordinator, countersigned by the investigator 20 hours later (a second revision).
    ("DIJ", "coordinator-dij", [("consent", "patient", "2.0", timezone.now().replace(second=0, microsecond=0)
                                 - datetime.timedelta(hours=30), "consented", {"countersign_after": 20})]),
    # DIJ-0013: a comprehension question answered wrongly, the explanation discussed, then answered right.
    ("DIJ", "investigator-dij", [("consent", "patient", "2.0", at(11, 28, 11), "consented", {"wrong": True})]),
    # DIJ-0014: obtained by the coordinator two hours before the demo was loaded: awaits the investigator's
    # countersignature (try it as investigator-dij), and counts as no consent until then.
    ("DIJ", "coordinator-dij", [("consent", "patient", "2.0", timezone.now().replace(second=0, microsecond=0)
                                 - datetime.timedelta(hours=2), "consented", {"pending": True})]),
    # DIJ-0015: the impartial witness declines to sign: the ceremony ends as declined, no consent.
    ("DIJ", "investigator-dij", [("consent", "patient", "2.0", at(11, 29, 16), "consented", {
        "cannot_read": True, "witness": "Paul Martin (démo)", "witness_declines": True})]),
]


def _ceremony(extra: dict, signed_at, participant_code: str) -> dict:
    """The ceremony's other signers and the comprehension answers, as the tablet would send them."""
    others = {}
    if "witness" in extra:
        others["impartial_witness"] = services.SignerInput(
            role="impartial_witness", present=not extra.get("witness_declines"),
            declined=bool(extra.get("witness_declines")), name=extra["witness"],
            signed_at=signed_at + datetime.timedelta(minutes=3),
            signature_png=None if extra.get("witness_declines") else scribble(f"{participant_code}witness"))
    if "interpreter" in extra:
        name, language = extra["interpreter"]
        others["interpreter"] = services.SignerInput(
            role="interpreter", present=True, name=name, language=language,
            signed_at=signed_at + datetime.timedelta(minutes=5), signature_png=scribble(f"{participant_code}interp"))
    return others


def _answers(version, extra: dict) -> dict:
    answers = {}
    for index, question in enumerate(version.comprehension_questions()):
        right = int(question["right_answer"]) - 1
        wrong = extra.get("wrong") and index == 0
        answers[index] = services.ComprehensionInput(attempts=[1 - right, right] if wrong else [right],
                                                     discussed=bool(wrong))
    return answers


def scribble(seed: str) -> bytes:
    generator = random.Random(seed)  # noqa: S311  # nosec B311  # a demo drawing, not a secret
    image = Image.new("RGBA", (360, 120), (0, 0, 0, 0))
    points = [(20 + i * 32, generator.randint(30, 95)) for i in range(11)]
    ImageDraw.Draw(image).line(points, fill=(16, 36, 62, 255), width=4, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _version(site, kind, number, signed_at):
    version = selectors.current_version(site=site, kind=kind, language="fr", at=signed_at)
    if version is None or version.version_number != number:
        raise RuntimeError(f"demo: {kind} v{number} is not in force at {site.code} on {signed_at:%Y-%m-%d}")
    return version


def load(*, trial, report: dict) -> None:
    certificates = ensure_identities(sponsor_name=trial.sponsor_name,
                                     site_codes=list(trial.sites.values_list("code", flat=True)),
                                     site_names=dict(trial.sites.values_list("code", "name")))
    if any(status != "kept" for status in certificates.values()) and not settings.TRIALDOCS_TSA_URL:
        from .pki_services import wait_for_services

        # the demo TSA (`manage.py pki_services`, started by `make demo`) restarts on the new PKI
        wait_for_services(timeout=90)
    for label, status in certificates.items():  # what the demo PKI step did, as it did it (none "kept" if new)
        if status == "created":
            report["created"].append(f"demo signing certificate {label}")
        elif status != "kept":
            report["updated"].append(f"demo signing certificate {label} ({status})")
    users = get_user_model().objects
    numbers = {"DIJ": 0, "LIL": 0}
    for code, username, events in SCENARIOS:
        site = trial.sites.get(code=code)
        numbers[code] += 1
        participant_code = f"{code}-{numbers[code]:04d}"
        if Participant.objects.filter(site=site, code=participant_code).exists():
            continue
        actor = users.get(username=username)
        participant = services.participant_create(actor=actor, site=site)
        # Registered in the story's past, shortly before its first event (the timeline checks hold for the demo).
        first = min(event[3] if event[0] == "consent" else event[1] if event[0] == "death" else timezone.now()
                    for event in events)
        Participant.objects.filter(pk=participant.pk).update(created_at=first - datetime.timedelta(minutes=30))
        for event in events:
            participant.refresh_from_db()
            if event[0] == "consent":
                _, kind, number, signed_at, outcome, extra = event
                by = users.get(username=extra["by"]) if "by" in extra else actor
                representative = extra.get("signer") == "representative"
                version = _version(site, kind, number, signed_at)
                statements = [b for b in version.consent.raw_data if b["type"] == "consent_statement"]
                ticks = [b for b in version.consent.raw_data if b["type"] == "checkbox"]
                blanks = [b["value"]["label"] for b in version.consent.raw_data if b["type"] == "fill_in"]
                data = services.ConsentInput(
                    version=version, signed_at=signed_at, outcome=outcome,
                    answers={i: "accept" if outcome == "consented" or i else "refuse"
                             for i in range(len(statements))},
                    surrogate_relationship=extra.get("rel", ""),
                    independence_attested=kind == "surrogate" or representative,
                    signer_role=extra.get("signer", ""), patient_unable_attested=representative,
                    emergency_conditions_attested=kind == "emergency", no_prior_objection_attested=kind == "emergency",
                    objects_to_data_use=extra.get("objects"),
                    signature_png=None if kind == "emergency" else scribble(f"{participant_code}{kind}"),
                    signature_source="none" if kind == "emergency" else "drawn",
                    # every tick box ticked, but the wish to hear of the results for every other participant
                    ticks={i: "résultats" not in b["value"]["text"] or numbers[code] % 2 == 1
                           for i, b in enumerate(ticks)},
                    fills={i: participant_code if "code" in label.lower() else extra.get("rel", "")
                           for i, label in enumerate(blanks)})
                if kind == "continuation" and outcome == "refused":
                    data.answers = {i: "refuse" if i == 0 else "accept" for i in range(len(statements))}
                data.cannot_read = bool(extra.get("cannot_read"))
                data.others = _ceremony(extra, signed_at, participant_code)
                data.comprehension = _answers(version, extra)
                investigator = users.get(username=f"investigator-{code.lower()}")
                later = max((e["later_within_hours"] for e in version.ceremony_signers()
                             if e["role"] == "investigator"), default=0)
                if (later and by != investigator and "countersign_after" not in extra and not extra.get("pending")
                        and signed_at + datetime.timedelta(hours=later) < timezone.now()):
                    by = investigator  # a story from before the form asked for a countersignature within 72 h
                made = services.consent_record_create(actor=by, participant=participant, data=data,
                                                      username=by.get_username(), password=DEMO_PASSWORD,
                                                      expected_sequence=participant.consents.count())
                if made.outcome == "pending" and not extra.get("pending"):
                    services.consent_countersign(
                        actor=investigator, record=made, username=investigator.get_username(),
                        password=DEMO_PASSWORD,
                        at=signed_at + datetime.timedelta(hours=extra.get("countersign_after", 1)))
            elif event[0] == "withdraw":
                services.participant_withdraw(actor=actor, participant=participant, scope=event[1],
                                              reason=event[2], at=event[3])
            elif event[0] == "in_error":
                services.participant_close_screening(actor=actor, participant=participant,
                                                     status=Participant.Status.REGISTERED_IN_ERROR, reason=event[1])
            elif event[0] == "death":
                services.participant_record_death(actor=actor, participant=participant, died_at=event[1])
        report["created"].append(f"participant {participant_code}")
    _load_remote(trial=trial, users=users, numbers=numbers, report=report)


# Remote consent of a relative (issue 17), at DIJ, after the participants above: DIJ-0016's daughter consented on
# her phone and the investigator countersigned; DIJ-0017's son signed on his phone, awaiting the countersignature.
REMOTE = [("fille", "Claire Demo", True), ("fils", "Paul Demo", False)]


def _load_remote(*, trial, users, numbers: dict, report: dict) -> None:
    from .services import remote, remote_relative

    site = trial.sites.get(code="DIJ")
    coordinator, investigator = users.get(username="coordinator-dij"), users.get(username="investigator-dij")
    for relationship, name, countersigned in REMOTE:
        numbers["DIJ"] += 1
        participant_code = f"DIJ-{numbers['DIJ']:04d}"
        if Participant.objects.filter(site=site, code=participant_code).exists():
            continue
        participant = services.participant_create(actor=coordinator, site=site)
        version = _version(site, "surrogate", "1.0", timezone.now())
        sent = {}
        # The demo's relative reads the link and the code here rather than in an e-mail to a made-up address.
        invitation = remote.remote_invitation_create(
            actor=coordinator, participant=participant, version=version, email=f"{relationship}.demo@example.org",
            deliver=lambda invitation, sent=sent, **secrets: sent.update(secrets))
        remote_relative.remote_code_verify(invitation=invitation, code=sent["code"], ip="192.0.2.10")
        remote_relative.remote_information_shown(invitation=invitation)  # the relative reads the note on the phone
        blocks = version.consent.raw_data
        answers = remote_relative.RemoteAnswers(
            statements=dict.fromkeys(range(sum(b["type"] == "consent_statement" for b in blocks)), "accept"),
            ticks=dict.fromkeys(range(sum(b["type"] == "checkbox" for b in blocks)), True),
            fills={i: participant_code if "code" in b["value"]["label"].lower() else relationship
                   for i, b in enumerate(b for b in blocks if b["type"] == "fill_in")},
            relationship=relationship, independence_attested=True, signature_png=scribble(name),
            signature_source="drawn")
        remote_relative.remote_consent_submit(invitation=invitation, ip="192.0.2.10", answers=answers)
        if countersigned:
            invitation.refresh_from_db()
            remote.remote_consent_countersign(actor=investigator, invitation=invitation,
                                              username=investigator.get_username(), password=DEMO_PASSWORD)
        report["created"].append(f"participant {participant_code} (remote consent)")
