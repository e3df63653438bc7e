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

from consent import services
from consent.fhir import export, mapping
from consent.pki import ensure_identities
from consent.tests.factories import make_form, signature_png
from regulatory.models import AuditEntry, InvestigationalSite
from regulatory.tests.factories import PASSWORD
from tests.sharing import shared_fixture


def record(participant, version, actor, *, hours_ago=1, outcome="consented", **fields):
    if version.kind == "surrogate":
        fields.update(surrogate_relationship="fille", independence_attested=True)
    if version.kind == "emergency":
        fields.update(emergency_conditions_attested=True, no_prior_objection_attested=True)
    data = services.ConsentInput(version=version, signed_at=timezone.now() - datetime.timedelta(hours=hours_ago),
                                 outcome=outcome, answers={0: "accept" if outcome == "consented" else "refuse"},
                                 signature_png=signature_png(), signature_source="drawn", **fields)
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
