"""Demo participants of NCT07063680 at DIJ and LIL, one for each path of the consent pathway. Codes only, no
identity; the hand signatures are drawn scribbles; every consent PDF is really signed with the site's demo key."""

import datetime
import io
import random
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from PIL import Image, ImageDraw

from regulatory.demo_accounts import DEMO_PASSWORD

from . import selectors, services
from .models import Participant
from .pki import ensure_identities

PARIS = ZoneInfo("Europe/Paris")


def at(month, day, hour=10):
    return datetime.datetime(2026, month, day, hour, 0, tzinfo=PARIS)


# site, by whom, then the events: ("consent", kind, version number, signed at, outcome, extra) /
# ("withdraw", objects, reason, None) / ("death", at). In `extra`: "rel" (relationship of a relative), "objects"
# (objects to the use of data), "signer": "representative" (a relative signs a continuation for a patient still
# unable to consent), "by" (another account of the site records this event). Emergency inclusions are attested by
# the site's investigator only.
SCENARIOS = [
    ("DIJ", "investigator-dij", [("consent", "patient", "1.0", at(2, 10), "consented", {})]),  # re-consent due
    ("DIJ", "coordinator-dij", [("consent", "patient", "1.0", at(2, 20), "consented", {}),
                                ("consent", "patient", "2.0", at(4, 20), "consented", {})]),
    ("DIJ", "investigator-dij", [("consent", "surrogate", "1.0", at(3, 1), "consented", {"rel": "épouse"}),
                                 ("consent", "continuation", "1.0", at(3, 4), "consented", {})]),
    ("DIJ", "investigator-dij", [("consent", "emergency", "1.0", at(11, 10, 3), "consented", {})]),  # overdue
    ("DIJ", "coordinator-dij", [("consent", "patient", "1.0", at(3, 10), "refused", {})]),
    ("DIJ", "investigator-dij", [("consent", "patient", "2.0", at(5, 2), "consented", {}),
                                 ("withdraw", False, "Retrait exprimé oralement auprès de l'infirmière (démo)")]),
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
]


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
    ensure_identities(sponsor_name=trial.sponsor_name, site_codes=list(trial.sites.values_list("code", flat=True)),
                      site_names=dict(trial.sites.values_list("code", "name")))
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
        for event in events:
            participant.refresh_from_db()
            if event[0] == "consent":
                _, kind, number, signed_at, outcome, extra = event
                by = users.get(username=extra["by"]) if "by" in extra else actor
                representative = extra.get("signer") == "representative"
                version = _version(site, kind, number, signed_at)
                statements = [b for b in version.consent.raw_data if b["type"] == "consent_statement"]
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
                    signature_source="none" if kind == "emergency" else "drawn")
                if kind == "continuation" and outcome == "refused":
                    data.answers = {i: "refuse" if i == 0 else "accept" for i in range(len(statements))}
                services.consent_record_create(actor=by, participant=participant, data=data,
                                               username=by.get_username(), password=DEMO_PASSWORD,
                                               expected_sequence=participant.consents.count())
            elif event[0] == "withdraw":
                services.participant_withdraw(actor=actor, participant=participant, objects_to_data_use=event[1],
                                              reason=event[2])
            elif event[0] == "death":
                services.participant_record_death(actor=actor, participant=participant, died_at=event[1])
        report["created"].append(f"participant {participant_code}")
