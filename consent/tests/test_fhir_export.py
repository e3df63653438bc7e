"""Issue 18, HL7 FHIR export: consent records, participants, the trial and its sites as R5 (and R4B) resources
validated by fhir.resources; `manage.py export_fhir` writes one Bundle or NDJSON per type, the same bytes for the same
records, nothing but pseudonymised codes."""

import base64
import datetime
import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from fhir.resources.bundle import Bundle
from fhir.resources.consent import Consent
from fhir.resources.R4B.bundle import Bundle as BundleR4B
from fhir.resources.R4B.consent import Consent as ConsentR4B
from fhir.resources.R4B.researchstudy import ResearchStudy as ResearchStudyR4B
from fhir.resources.R4B.researchsubject import ResearchSubject as ResearchSubjectR4B
from fhir.resources.researchstudy import ResearchStudy
from fhir.resources.researchsubject import ResearchSubject

from consent import services
from consent.fhir import export, mapping
from consent.pki import ensure_identities
from consent.services import SignerInput
from consent.tests.factories import make_form, signature_png
from regulatory.models import AuditEntry, InvestigationalSite, TrialPage
from regulatory.tests.factories import PASSWORD
from tests.sharing import shared_fixture


def record(participant, version, actor, *, hours_ago=1, outcome="consented", **fields):
    if version.kind == "surrogate":
        fields.update(surrogate_relationship="fille", independence_attested=True)
    if version.kind == "emergency":  # attested by the investigator, nobody signs by hand
        fields.update(emergency_conditions_attested=True, no_prior_objection_attested=True, signature_png=None,
                      signature_source="none")
    fields = {"signature_png": signature_png(), "signature_source": "drawn"} | fields
    data = services.ConsentInput(version=version, signed_at=timezone.now() - datetime.timedelta(hours=hours_ago),
                                 outcome=outcome, answers={0: "accept" if outcome == "consented" else "refuse"},
                                 **fields)
    return services.consent_record_create(actor=actor, participant=participant, data=data,
                                          username=actor.get_username(), password=PASSWORD,
                                          expected_sequence=participant.consents.count())


@shared_fixture
def consents(world):
    """DIJ-0001: surrogate consent then the patient's continuation; DIJ-0002: patient consent, then withdrawal with
    an objection to the use of data; LIL-0001: patient consent."""
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    start = timezone.now() - datetime.timedelta(days=40)
    forms = {}
    for kind in ("patient", "surrogate", "continuation"):
        forms[kind] = make_form(trial=world.trial, kind=kind)
        services.form_make_effective(actor=world.sponsor, version=forms[kind], sites=[world.site_a, world.site_b],
                                     effective_from=start)
    first = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    surrogate = record(first, forms["surrogate"], world.investigator_a, hours_ago=5)
    continuation = record(first, forms["continuation"], world.investigator_a, hours_ago=2)
    second = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    patient = record(second, forms["patient"], world.coordinator_a, hours_ago=3)
    services.participant_withdraw(actor=world.coordinator_a, participant=second, scope="data_use",
                                  reason="Retrait exprimé oralement")
    lil = services.participant_create(actor=world.coordinator_b, site=world.site_b)
    other = record(lil, forms["patient"], world.coordinator_b)
    return {"surrogate": surrogate, "continuation": continuation, "withdrawn": patient, "lil": other}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_bundle_of_a_site_validates_whole_and_names_only_that_site(world, consents, tmp_path):
    out = tmp_path / "dij.json"
    call_command("export_fhir", trial="NCT07063680", site="DIJ", out=out)
    text = out.read_text(encoding="utf-8")
    bundle = Bundle.model_validate_json(text)  # the whole file, by the library
    assert bundle.type == "collection"
    types = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert types == ["Organization", "ResearchStudy", "ResearchSubject", "ResearchSubject", "Consent", "Consent",
                     "Consent"]
    assert "LIL" not in text and "Lille" not in text
    ids = [entry.resource.id for entry in bundle.entry]
    assert ids[-3:] == ["NCT07063680-DIJ-0001-1", "NCT07063680-DIJ-0001-2", "NCT07063680-DIJ-0002-1"]
    entry = AuditEntry.objects.filter(action="fhir.exported").latest("sequence")
    assert entry.changes["sites"] == [None, ["DIJ"]] and entry.changes["counts"][1]["Consent"] == 3


def test_the_same_records_give_the_same_bytes(world, consents, tmp_path):
    call_command("export_fhir", trial="NCT07063680", out=tmp_path / "a.json")
    call_command("export_fhir", trial="NCT07063680", out=tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    (tmp_path / "n1").mkdir()
    call_command("export_fhir", trial="NCT07063680", out=tmp_path / "n1")
    call_command("export_fhir", trial="NCT07063680", format="ndjson", out=tmp_path / "n2")
    for name in ("Organization", "ResearchStudy", "ResearchSubject", "Consent"):
        assert (tmp_path / "n1" / f"{name}.ndjson").read_bytes() == (tmp_path / "n2" / f"{name}.ndjson").read_bytes()


def test_consent_mapping(world, consents, tmp_path):
    call_command("export_fhir", trial="NCT07063680", out=tmp_path)
    found = {c["id"]: c for c in lines(tmp_path / "Consent.ndjson")}
    for data in found.values():
        Consent.model_validate(data)
    surrogate = found["NCT07063680-DIJ-0001-1"]
    assert surrogate["status"] == "active" and surrogate["decision"] == "permit"
    assert {"system": mapping.CONSENT_SCOPE, "code": "research", "display": "Research"} in \
        [c for cat in surrogate["category"] for c in cat["coding"]]
    assert surrogate["subject"] == {"type": "Patient", "identifier": {
        "system": "urn:trialdocs:NCT07063680:participant", "value": "DIJ-0001"}}
    assert surrogate["grantor"] == [{"reference": "#grantor"}]
    related = next(c for c in surrogate["contained"] if c["id"] == "grantor")
    assert related["resourceType"] == "RelatedPerson"
    assert related["relationship"][0]["text"] == "fille"
    assert related["relationship"][0]["coding"][0]["code"] == "surrogate"
    assert surrogate["grantee"][0]["reference"] == "Organization/NCT07063680-DIJ"
    pdf = consents["surrogate"].pdf.open("rb").read()
    attachment = surrogate["sourceAttachment"][0]
    assert attachment["contentType"] == "application/pdf" and attachment["language"] == "fr"
    assert attachment["size"] == len(pdf)
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(pdf, usedforsecurity=False).digest()).decode()
    assert attachment["extension"][0]["valueString"] == consents["surrogate"].pdf_sha256
    assert "v1.0" in attachment["title"]
    assert surrogate["policyBasis"]["url"].endswith(":surrogate-fr-1.0")
    verification = surrogate["verification"][0]
    assert verification["verified"] is True and verification["verifiedBy"] == {"reference": "#obtainer"}
    continuation = found["NCT07063680-DIJ-0001-2"]
    assert continuation["grantor"][0]["identifier"]["value"] == "DIJ-0001"
    withdrawn = found["NCT07063680-DIJ-0002-1"]
    assert withdrawn["status"] == "inactive" and withdrawn["decision"] == "permit"
    nested = withdrawn["provision"][0]["provision"]
    assert [p["code"][0]["coding"][0]["code"] for p in nested] == ["treatment", "follow_up", "data_collection",
                                                                    "data_use"]
    assert [p.get("action", [{"coding": [{}]}])[0]["coding"][0].get("code") for p in nested] == [
        None, None, "collect", "use"]
    assert "start" in nested[0]["period"] and "period" not in nested[3]
    assert "end" in withdrawn["provision"][0]["period"]


def test_nothing_that_names_a_person_leaves(world, consents, tmp_path):
    world.coordinator_a.first_name, world.coordinator_a.last_name = "Camille", "Martin-Secret"
    world.coordinator_a.save()
    call_command("export_fhir", trial="NCT07063680", out=tmp_path / "all.json")
    text = (tmp_path / "all.json").read_text(encoding="utf-8")
    for record in consents.values():
        assert record.obtained_by_name not in text
    for secret in ("Martin-Secret", "coordinator-a", "investigator-a", "birth", "signature_png", "statements"):
        assert secret not in text


def test_r4b_bundle_validates(world, consents, tmp_path):
    out = tmp_path / "r4b.json"
    call_command("export_fhir", trial="NCT07063680", version="R4B", out=out)
    bundle = BundleR4B.model_validate_json(out.read_text(encoding="utf-8"))
    consents_ = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Consent"]
    assert len(consents_) == 4
    withdrawn = next(c for c in consents_ if c.id == "NCT07063680-DIJ-0002-1")
    ConsentR4B.model_validate(withdrawn.model_dump())
    assert withdrawn.scope.coding[0].code == "research" and withdrawn.patient.identifier.value == "DIJ-0002"
    assert withdrawn.provision.type == "permit" and [p.type for p in withdrawn.provision.provision] == ["deny"] * 4
    subjects = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "ResearchSubject"]
    assert sorted(s.status for s in subjects) == ["on-study", "on-study", "withdrawn"]


def test_one_participant(world, consents, tmp_path):
    out = tmp_path / "one.json"
    call_command("export_fhir", trial="NCT07063680", site="DIJ", participant="dij-0001", out=out)
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] != "Organization"] == [
        "NCT07063680", "NCT07063680-DIJ-0001", "NCT07063680-DIJ-0001-1", "NCT07063680-DIJ-0001-2"]


@pytest.mark.parametrize(("options", "message"), [
    ({"trial": "NCT99999999"}, "No trial"),
    ({"trial": "NCT07063680", "site": "ZZZ"}, "No site"),
    ({"trial": "NCT07063680", "site": "BOR"}, "No site"),  # a site of another trial
    ({"trial": "NCT07063680", "site": "DIJ", "participant": "LIL-0001"}, "No participant"),
    ({"trial": "NCT07063680", "participant": "'; DROP TABLE x; --"}, "No participant"),
])
def test_bad_input_is_refused_and_nothing_written(world, consents, tmp_path, options, message):
    before = AuditEntry.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("export_fhir", out=tmp_path / "x.json", **options)
    assert not list(tmp_path.iterdir()) and AuditEntry.objects.count() == before


def test_a_folder_for_a_bundle_or_a_file_for_ndjson_is_refused(world, consents, tmp_path):
    (tmp_path / "file.json").write_text("keep")
    with pytest.raises(CommandError, match="it is a file"):
        call_command("export_fhir", trial="NCT07063680", format="ndjson", out=tmp_path / "file.json")
    with pytest.raises(CommandError, match="it is a folder"):
        call_command("export_fhir", trial="NCT07063680", format="bundle", out=tmp_path)
    assert (tmp_path / "file.json").read_text() == "keep"


def test_a_resource_the_library_refuses_leaves_no_file(world, consents, tmp_path, monkeypatch):
    """A resource that does not validate stops the export: no file, not even a partial one."""
    real = mapping.consent

    def broken(record, **kwargs):
        data = real(record, **kwargs)
        data["status"] = {"not": "a code"}
        return data

    monkeypatch.setattr(mapping, "consent", broken)
    with pytest.raises(CommandError, match="does not validate"):
        call_command("export_fhir", trial="NCT07063680", out=tmp_path / "x.json")
    with pytest.raises(CommandError, match="does not validate"):
        call_command("export_fhir", trial="NCT07063680", out=tmp_path / "nd", format="ndjson")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_iter_resources_is_a_generator_reading_in_chunks(world, consents):
    scope = export.Scope(trial=world.trial, sites=InvestigationalSite.objects.filter(trial=world.trial))
    stream = export.iter_resources(scope)
    assert next(stream)[0] == "Organization"  # nothing else built yet
    assert sum(1 for _ in stream) == 1 + 1 + 3 + 4


# --- Issue 18 audit: the content of ResearchStudy, ResearchSubject, and the Consent of every kind of record -----------

EU_CT = "2025-521234-16-00"
PARTICIPANT_SYSTEM = "urn:trialdocs:NCT07063680:participant"
DIJ_REF = {"reference": "Organization/NCT07063680-DIJ", "display": "CHU Dijon Bourgogne"}
# A ceremony: the participant, an impartial witness when the participant cannot read, and the investigator's
# countersignature (later, within 48 hours, when a coordinator obtained the consent).
SIGNERS = [
    ("signer", {"role": "participant", "requirement": "required", "later_within_hours": None}),
    ("signer", {"role": "impartial_witness", "requirement": "if_cannot_read", "later_within_hours": None}),
    ("signer", {"role": "investigator", "requirement": "required", "later_within_hours": 48}),
]


def exported(folder: Path, version: str = "R5", **options) -> dict[str, dict[str, dict]]:
    """The NDJSON export of the trial, by resource type then id."""
    call_command("export_fhir", trial="NCT07063680", format="ndjson", version=version, out=folder, **options)
    return {name: {r["id"]: r for r in lines(folder / f"{name}.ndjson")}
            for name in ("Organization", "ResearchStudy", "ResearchSubject", "Consent")}


def patient(world):
    return services.participant_create(actor=world.coordinator_a, site=world.site_a)


def ceremony_records(world) -> dict:
    """At DIJ, under a patient form whose ceremony asks for a witness and the investigator's countersignature: a
    ceremony ended by the witness's decline (DIJ-0003), and one a coordinator obtained, awaiting the
    countersignature (DIJ-0004)."""
    form = make_form(trial=world.trial, kind="patient", number="1.1", signers=SIGNERS)
    services.form_make_effective(actor=world.sponsor, version=form, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=2))
    witness = SignerInput(role="impartial_witness", declined=True, name="Marc Témoin",
                          signed_at=timezone.now() - datetime.timedelta(minutes=50), signature_png=signature_png())
    declined = record(patient(world), form, world.investigator_a, cannot_read=True,
                      others={"impartial_witness": witness})
    pending = record(patient(world), form, world.coordinator_a)
    assert (declined.outcome, pending.outcome) == ("declined", "pending")
    return {"declined": declined, "pending": pending}


def test_research_study_identifiers_phase_and_sites(world, consents, tmp_path):
    assert mapping.research_study(world.trial, [])["identifier"] == [
        {"system": "http://clinicaltrials.gov", "value": "NCT07063680"}]  # no EU CT number: none made up
    TrialPage.objects.filter(pk=world.trial.pk).update(eu_ct_number=EU_CT, phase="PHASE2_PHASE3")
    study = exported(tmp_path / "r5")["ResearchStudy"]["NCT07063680"]
    ResearchStudy.model_validate(study)
    assert study["identifier"] == [{"system": "http://clinicaltrials.gov", "value": "NCT07063680"},
                                   {"system": "https://euclinicaltrials.eu", "value": EU_CT}]
    assert study["phase"] == {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/research-study-phase",
                                          "code": "phase-2-phase-3"}]}
    assert study["site"] == [DIJ_REF, {"reference": "Organization/NCT07063680-LIL",
                                       "display": "Hôpital fictif de Lille"}]
    assert study["status"] == "active"
    assert study["progressStatus"][0]["state"]["coding"][0]["code"] == "approved"  # not yet recruiting
    # R4B: the same identifiers and phase; sites are Locations named by the site's identifier; status coded.
    r4b = exported(tmp_path / "r4b", "R4B")["ResearchStudy"]["NCT07063680"]
    ResearchStudyR4B.model_validate(r4b)
    assert r4b["identifier"] == study["identifier"] and r4b["phase"] == study["phase"]
    assert r4b["site"] == [
        {"type": "Location", "identifier": {"system": "urn:trialdocs:NCT07063680:site", "value": "DIJ"},
         "display": "CHU Dijon Bourgogne"},
        {"type": "Location", "identifier": {"system": "urn:trialdocs:NCT07063680:site", "value": "LIL"},
         "display": "Hôpital fictif de Lille"}]
    assert r4b["status"] == "approved" and r4b["sponsor"] == {"display": world.trial.sponsor_name}
    # A site's export names that site only.
    dij = exported(tmp_path / "dij", site="DIJ")["ResearchStudy"]["NCT07063680"]
    assert dij["site"] == [DIJ_REF]


def test_research_subject_study_subject_consents_and_status(world, consents, tmp_path):
    failed, wrong = patient(world), patient(world)  # DIJ-0003, DIJ-0004: never included
    services.participant_close_screening(actor=world.coordinator_a, participant=failed, status="screen_failure",
                                         reason="Critère d'exclusion")
    services.participant_close_screening(actor=world.coordinator_a, participant=wrong,
                                         status="registered_in_error", reason="Doublon")
    subjects = exported(tmp_path / "r5")["ResearchSubject"]
    for data in subjects.values():
        ResearchSubject.model_validate(data)

    def state(data):
        return data["progress"][0]["subjectState"]["coding"][0]["code"]

    first = subjects["NCT07063680-DIJ-0001"]
    assert first["status"] == "active"  # R5: the resource's publication status; the state is in `progress`
    assert first["study"] == {"reference": "ResearchStudy/NCT07063680"}
    assert first["subject"] == {"type": "Patient", "identifier": {"system": PARTICIPANT_SYSTEM, "value": "DIJ-0001"}}
    assert first["consent"] == [{"reference": "Consent/NCT07063680-DIJ-0001-1"},
                                {"reference": "Consent/NCT07063680-DIJ-0001-2"}]
    assert state(first) == "on-study" and "endDate" not in first["progress"][0] and "end" not in first["period"]
    withdrawn = subjects["NCT07063680-DIJ-0002"]
    assert state(withdrawn) == "withdrawn" and withdrawn["status"] == "active"
    assert withdrawn["progress"][0]["endDate"] == withdrawn["period"]["end"]
    assert withdrawn["consent"] == [{"reference": "Consent/NCT07063680-DIJ-0002-1"}]
    assert state(subjects["NCT07063680-DIJ-0003"]) == "ineligible"
    assert state(subjects["NCT07063680-DIJ-0004"]) == "not-registered"
    assert "consent" not in subjects["NCT07063680-DIJ-0003"]
    # R4B: the state is the status, the participant the `individual`, `consent` the latest consent given.
    r4b = exported(tmp_path / "r4b", "R4B")["ResearchSubject"]
    for data in r4b.values():
        ResearchSubjectR4B.model_validate(data)
    assert r4b["NCT07063680-DIJ-0001"]["individual"] == first["subject"]
    assert r4b["NCT07063680-DIJ-0001"]["study"] == first["study"]
    assert r4b["NCT07063680-DIJ-0001"]["consent"] == {"reference": "Consent/NCT07063680-DIJ-0001-2"}
    assert [r4b[f"NCT07063680-DIJ-000{n}"]["status"] for n in (1, 2, 3, 4)] == [
        "on-study", "withdrawn", "ineligible", "not-registered"]


def test_a_refusal_is_an_active_deny(world, consents, tmp_path):
    """A refusal is a decision to be enforced: `active` with decision `deny`, without an end, even though the refusal
    ended the participation."""
    refused = record(patient(world), consents["withdrawn"].version, world.coordinator_a, outcome="refused")
    refused.participant.refresh_from_db()
    assert refused.participant.status == "withdrawn"
    data = exported(tmp_path / "r5")["Consent"]["NCT07063680-DIJ-0003-1"]
    Consent.model_validate(data)
    assert data["status"] == "active" and data["decision"] == "deny"
    assert data["grantor"] == [data["subject"]] == [
        {"type": "Patient", "identifier": {"system": PARTICIPANT_SYSTEM, "value": "DIJ-0003"}}]
    assert "end" not in data["period"]
    assert list(data["provision"][0]) == ["period", "purpose"] and "end" not in data["provision"][0]["period"]
    r4b = exported(tmp_path / "r4b", "R4B")["Consent"]["NCT07063680-DIJ-0003-1"]
    ConsentR4B.model_validate(r4b)
    assert r4b["status"] == "active" and r4b["provision"]["type"] == "deny" and "provision" not in r4b["provision"]


def test_a_declined_ceremony_and_a_pending_one_carry_no_decision(world, consents, tmp_path):
    """A signer's decline ends the ceremony: R5 `not-done`, R4B `rejected` (the codes of each version's value set),
    no decision (R5 `decision`, R4B `provision.type`); awaiting the countersignature: `draft`, no decision either."""
    ceremony_records(world)
    r5 = exported(tmp_path / "r5")["Consent"]
    r4b = exported(tmp_path / "r4b", "R4B")["Consent"]
    declined, pending = "NCT07063680-DIJ-0003-1", "NCT07063680-DIJ-0004-1"
    for data in (r5[declined], r5[pending]):
        Consent.model_validate(data)
        assert "decision" not in data and "provision" not in data["provision"][0]
    for data in (r4b[declined], r4b[pending]):
        ConsentR4B.model_validate(data)
        assert "type" not in data["provision"] and "provision" not in data["provision"]
    assert (r5[declined]["status"], r4b[declined]["status"]) == ("not-done", "rejected")
    assert (r5[pending]["status"], r4b[pending]["status"]) == ("draft", "draft")
    text = (tmp_path / "r5" / "Consent.ndjson").read_text(encoding="utf-8")
    assert "Témoin" not in text  # the witness who declined is not named


def test_an_emergency_inclusion_names_the_investigators_role_not_a_person(world, consents, tmp_path):
    emergency = make_form(trial=world.trial, kind="emergency")
    services.form_make_effective(actor=world.sponsor, version=emergency, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=40))
    included = record(patient(world), emergency, world.investigator_a)
    assert included.signer_role == "investigator"
    grantor = {"resourceType": "PractitionerRole", "id": "grantor",
               "code": [{"coding": [{"system": "urn:trialdocs:consent-signer-role", "code": "investigator"}]}],
               "organization": DIJ_REF}
    data = exported(tmp_path / "r5")["Consent"]["NCT07063680-DIJ-0003-1"]
    Consent.model_validate(data)
    assert data["status"] == "active" and data["decision"] == "permit"
    assert data["grantor"] == [{"reference": "#grantor"}]
    assert next(c for c in data["contained"] if c["id"] == "grantor") == grantor  # a role of the site, no one
    assert {"system": "urn:trialdocs:consent-kind", "code": "emergency"} in data["category"][2]["coding"]
    assert data["verification"][0]["verifiedWith"]["identifier"]["value"] == "DIJ-0003"
    r4b = exported(tmp_path / "r4b", "R4B")["Consent"]["NCT07063680-DIJ-0003-1"]
    ConsentR4B.model_validate(r4b)
    assert r4b["performer"] == [{"reference": "#grantor"}] and r4b["provision"]["type"] == "permit"
    assert next(c for c in r4b["contained"] if c["id"] == "grantor") == grantor
    for text in (json.dumps(data, ensure_ascii=False), json.dumps(r4b, ensure_ascii=False)):
        for name in (included.obtained_by_name, "Investigator-A", "investigator-a", world.investigator_a.email):
            assert name not in text
