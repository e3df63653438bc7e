# ruff: noqa: F811  (the shared fixture `consents` is imported from test_fhir_export, then asked for by name)
"""Issue 18, the read-only FHIR API and its tokens: /fhir/R5|R4B/metadata, Consent, ResearchSubject, ResearchStudy,
Organization; bearer tokens scoped to a trial or a site, hashed, expiring, revocable, audited, throttled; every
error an OperationOutcome (never an HTML page); a flat query count."""

import datetime
import io
import json
import secrets

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from fhir.resources.bundle import Bundle
from fhir.resources.capabilitystatement import CapabilityStatement
from fhir.resources.consent import Consent
from fhir.resources.operationoutcome import OperationOutcome
from fhir.resources.R4B.bundle import Bundle as BundleR4B
from fhir.resources.R4B.capabilitystatement import CapabilityStatement as CapabilityStatementR4B

from consent.models import ConsentRecord, Participant
from consent.tests.test_fhir_export import (  # noqa: F401 (`consents`: a shared fixture of that module)
    ceremony_records,
    consents,
    patient,
    record,
)
from regulatory import services
from regulatory.models import ApiToken, AuditEntry, Role
from regulatory.models.api_tokens import token_digest
from regulatory.services.api_tokens import api_token_issue, api_token_revoke

FHIR_JSON = "application/fhir+json; charset=utf-8"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def issue(world, user, *, site=None, trial=None, days=30):
    return api_token_issue(actor=None, user=user, trial=trial or world.trial, site=site, days=days)[1]


def get(client, url, raw=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"} if raw else {}
    response = client.get(url, **headers, **extra)
    assert response["Content-Type"] == FHIR_JSON, (url, response.status_code, response.content[:200])
    return response, json.loads(response.content)


def outcome(response, body, status):
    assert response.status_code == status, body
    OperationOutcome.model_validate(body)
    return body["issue"][0]["diagnostics"]


def ids(body):
    return [entry["resource"]["id"] for entry in body.get("entry", [])]


# --- Metadata -------------------------------------------------------------------------------------------------------

def test_capability_statements_validate_without_a_token(client, db):
    response, body = get(client, "/fhir/R5/metadata")
    assert response.status_code == 200
    statement = CapabilityStatement.model_validate(body)
    assert statement.fhirVersion == "5.0.0"
    assert {r.type for r in statement.rest[0].resource} == {"Consent", "ResearchSubject", "ResearchStudy",
                                                            "Organization"}
    response, body = get(client, "/fhir/R4B/metadata")
    assert CapabilityStatementR4B.model_validate(body).fhirVersion == "4.3.0"


# --- Tokens: who reads what -----------------------------------------------------------------------------------------

def test_a_trial_token_reads_every_site_and_validates(world, consents, client):
    raw = issue(world, world.sponsor)
    response, body = get(client, "/fhir/R5/Consent", raw)
    assert response.status_code == 200
    bundle = Bundle.model_validate(body)
    assert bundle.type == "searchset" and bundle.total == 4
    assert ids(body) == ["NCT07063680-DIJ-0001-1", "NCT07063680-DIJ-0001-2", "NCT07063680-DIJ-0002-1",
                         "NCT07063680-LIL-0001-1"]
    assert body["entry"][0]["fullUrl"] == "http://testserver/fhir/R5/Consent/NCT07063680-DIJ-0001-1"
    response, body = get(client, "/fhir/R5/Consent/NCT07063680-LIL-0001-1", raw)
    assert response.status_code == 200 and Consent.model_validate(body).id == "NCT07063680-LIL-0001-1"
    response, body = get(client, "/fhir/R5/ResearchStudy/NCT07063680", raw)
    assert [s["reference"] for s in body["site"]] == ["Organization/NCT07063680-DIJ", "Organization/NCT07063680-LIL"]


def test_a_site_token_never_reads_another_site(world, consents, client):
    raw = issue(world, world.coordinator_a, site=world.site_a)
    response, body = get(client, "/fhir/R5/Consent?_count=100", raw)
    assert body["total"] == 3 and all("-DIJ-" in i for i in ids(body))
    for url in ("/fhir/R5/Consent/NCT07063680-LIL-0001-1", "/fhir/R5/ResearchSubject/NCT07063680-LIL-0001",
                "/fhir/R5/Organization/NCT07063680-LIL", "/fhir/R4B/Consent/NCT07063680-LIL-0001-1"):
        response, body = get(client, url, raw)
        outcome(response, body, 404)
    for url in ("/fhir/R5/Consent?subject:identifier=LIL-0001", "/fhir/R5/ResearchSubject?identifier=LIL-0001",
                "/fhir/R5/Organization?identifier=LIL"):
        response, body = get(client, url, raw)
        assert response.status_code == 200 and body["total"] == 0
    response, body = get(client, "/fhir/R5/ResearchStudy", raw)
    assert [s["reference"] for s in body["entry"][0]["resource"]["site"]] == ["Organization/NCT07063680-DIJ"]
    # A sponsor's token narrowed to LIL reads no DIJ record either.
    raw = issue(world, world.sponsor, site=world.site_b)
    response, body = get(client, "/fhir/R5/Consent", raw)
    assert ids(body) == ["NCT07063680-LIL-0001-1"]


def test_a_trial_token_of_site_staff_reads_their_site_only(world, consents, client):
    """The token never reads more than its account: a coordinator's trial-wide token still reads DIJ only."""
    raw = issue(world, world.coordinator_a)
    response, body = get(client, "/fhir/R5/Consent", raw)
    assert body["total"] == 3


def test_a_token_of_another_trial(world, consents, client):
    raw = issue(world, world.other_sponsor, trial=world.other_trial)
    response, body = get(client, "/fhir/R5/Consent/NCT07063680-DIJ-0001-1", raw)
    outcome(response, body, 404)
    response, body = get(client, "/fhir/R5/Consent?study=ResearchStudy/NCT07063680", raw)
    assert "NCT01234567" in outcome(response, body, 403)
    response, body = get(client, "/fhir/R5/ResearchStudy/NCT07063680", raw)
    outcome(response, body, 404)
    response, body = get(client, "/fhir/R5/Consent", raw)
    assert body["total"] == 0


@pytest.mark.parametrize("case", ["none", "garbage", "expired", "revoked", "lost_role", "inactive", "basic",
                                  "session_only", "long"])
def test_no_usable_token_is_a_401(world, consents, client, case):
    raw = issue(world, world.coordinator_a, site=world.site_a)
    token = ApiToken.objects.get(digest=token_digest(raw))
    if case == "none":
        raw = None
    elif case == "garbage":
        raw = "tdk_" + secrets.token_urlsafe(32)
    elif case == "expired":
        ApiToken.objects.filter(pk=token.pk).update(created_at=timezone.now() - datetime.timedelta(days=40),
                                                    expires_at=timezone.now() - datetime.timedelta(seconds=1))
    elif case == "revoked":
        api_token_revoke(actor=world.sponsor, token=token, reason="Programme retiré")
    elif case == "lost_role":
        services.role_revoke(actor=world.admin, user=world.coordinator_a, role=Role.COORDINATOR, trial=world.trial,
                             site=world.site_a)
    elif case == "inactive":
        world.coordinator_a.is_active = False
        world.coordinator_a.save()
    elif case == "session_only":
        client.force_login(world.sponsor)
        raw = None
    elif case == "long":
        raw = "x" * 5000
    before = AuditEntry.objects.filter(action="api.refused").count()
    if case == "basic":
        response = client.get("/fhir/R5/Consent", HTTP_AUTHORIZATION=f"Basic {raw}")
        body = json.loads(response.content)
    else:
        response, body = get(client, "/fhir/R5/Consent", raw)
    outcome(response, body, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "DIJ-0001" not in response.content.decode()
    refused = AuditEntry.objects.filter(action="api.refused").order_by("-sequence")
    assert refused.count() == before + 1
    if case in ("expired", "revoked", "lost_role", "inactive"):
        assert refused.first().object_id == str(token.pk)  # audited with its token


def test_every_call_is_audited_with_its_token(world, consents, client):
    raw = issue(world, world.sponsor)
    token = ApiToken.objects.get(digest=token_digest(raw))
    get(client, "/fhir/R5/Consent?subject:identifier=DIJ-0001", raw)
    get(client, "/fhir/R5/Consent?date=abc", raw)
    entries = list(AuditEntry.objects.filter(object_type="regulatory.apitoken", object_id=str(token.pk))
                   .exclude(action="api_token.issued").order_by("sequence"))
    assert [(e.action, e.changes["status"][1]) for e in entries] == [("api.read", 200), ("api.refused", 400)]
    assert entries[0].changes["returned"] == [None, 2] and entries[0].actor == world.sponsor
    assert entries[0].changes["path"][1] == "/fhir/R5/Consent?subject:identifier=DIJ-0001"
    assert entries[0].trial_id == world.trial.pk
    token.refresh_from_db()
    assert token.last_used_at is not None


# --- Searching and paging -------------------------------------------------------------------------------------------

def test_search_parameters(world, consents, client):
    raw = issue(world, world.sponsor)
    today = timezone.localdate().isoformat()

    def found(query, resource="Consent"):
        response, body = get(client, f"/fhir/R5/{resource}?{query}", raw)
        assert response.status_code == 200, body
        return ids(body)

    assert found("subject:identifier=DIJ-0001") == ["NCT07063680-DIJ-0001-1", "NCT07063680-DIJ-0001-2"]
    assert found("patient:identifier=urn:trialdocs:NCT07063680:participant|dij-0002") == ["NCT07063680-DIJ-0002-1"]
    assert found("subject:identifier=http://other.example|DIJ-0001") == []
    assert found("status=inactive") == ["NCT07063680-DIJ-0002-1"]
    assert len(found("status=active,inactive")) == 4
    assert found(f"date=gt{today}") == [] and len(found(f"date=ge{today[:7]}&date=le{today}")) >= 1
    assert found("date=lt2000-01-01") == [] and len(found("date=ge2000-01-01")) == 4
    assert len(found(f"date=le{today}&date=gt2000")) == 4
    assert found("study=NCT07063680&_id=NCT07063680-DIJ-0001-2") == ["NCT07063680-DIJ-0001-2"]
    assert found("identifier=DIJ-0002", "ResearchSubject") == ["NCT07063680-DIJ-0002"]
    assert found("status=withdrawn", "ResearchSubject") == ["NCT07063680-DIJ-0002"]
    assert found("identifier=NCT07063680", "ResearchStudy") == ["NCT07063680"]
    assert found("identifier=NCT99999999", "ResearchStudy") == []
    assert found("identifier=dij", "Organization") == ["NCT07063680-DIJ"]


def test_the_status_searched_is_the_status_served(world, consents, client):
    """Each status the mapping produces (refusal: active; declined ceremony: not-done / rejected; awaiting the
    countersignature: draft) finds exactly the records served with it, in R5 and in R4B."""
    record(patient(world), consents["withdrawn"].version, world.coordinator_a, outcome="refused")  # DIJ-0003
    ceremony_records(world)  # DIJ-0004 declined, DIJ-0005 pending
    raw = issue(world, world.sponsor)
    expected = {"active": ["NCT07063680-DIJ-0001-1", "NCT07063680-DIJ-0001-2", "NCT07063680-DIJ-0003-1",
                           "NCT07063680-LIL-0001-1"],
                "inactive": ["NCT07063680-DIJ-0002-1"], "draft": ["NCT07063680-DIJ-0005-1"]}
    for version, declined in (("R5", "not-done"), ("R4B", "rejected")):
        response, body = get(client, f"/fhir/{version}/Consent?_count=100", raw)
        served = {}
        for entry in body["entry"]:
            served.setdefault(entry["resource"]["status"], []).append(entry["resource"]["id"])
        assert served == expected | {declined: ["NCT07063680-DIJ-0004-1"]}
        for status, found in served.items():
            response, body = get(client, f"/fhir/{version}/Consent?status={status}", raw)
            assert response.status_code == 200 and ids(body) == found, (version, status)


def test_a_research_subjects_references_resolve(world, consents, client):
    raw = issue(world, world.sponsor)
    response, body = get(client, "/fhir/R5/ResearchSubject/NCT07063680-DIJ-0001", raw)
    assert response.status_code == 200 and body["status"] == "active"
    assert body["subject"] == {"type": "Patient", "identifier": {
        "system": "urn:trialdocs:NCT07063680:participant", "value": "DIJ-0001"}}  # by code: no Patient to fetch
    assert body["progress"][0]["subjectState"]["coding"][0]["code"] == "on-study"
    references = [body["study"]["reference"]] + [c["reference"] for c in body["consent"]]
    assert references == ["ResearchStudy/NCT07063680", "Consent/NCT07063680-DIJ-0001-1",
                          "Consent/NCT07063680-DIJ-0001-2"]
    for reference in references:
        response, target = get(client, f"/fhir/R5/{reference}", raw)
        assert response.status_code == 200 and f"{target['resourceType']}/{target['id']}" == reference
    response, body = get(client, "/fhir/R4B/ResearchSubject/NCT07063680-DIJ-0001", raw)
    assert body["status"] == "on-study" and body["consent"] == {"reference": "Consent/NCT07063680-DIJ-0001-2"}


def test_paging_follows_the_links(world, consents, client):
    raw = issue(world, world.sponsor)
    seen, url = [], "/fhir/R5/Consent?_count=3"
    while url:
        response, body = get(client, url, raw)
        Bundle.model_validate(body)
        assert body["total"] == 4 and len(body.get("entry", [])) <= 3
        seen += ids(body)
        links = {link["relation"]: link["url"] for link in body["link"]}
        url = links.get("next", "").removeprefix("http://testserver")
    assert len(seen) == 4 == len(set(seen))
    response, body = get(client, "/fhir/R5/Consent?_count=0", raw)
    assert body["total"] == 4 and "entry" not in body


def test_r4b_search_validates(world, consents, client):
    raw = issue(world, world.sponsor)
    for resource in ("Consent", "ResearchSubject", "ResearchStudy", "Organization"):
        response, body = get(client, f"/fhir/R4B/{resource}", raw)
        assert response.status_code == 200
        BundleR4B.model_validate(body)


# --- Bad input: an OperationOutcome, nothing written but the audit entry ---------------------------------------------

@pytest.mark.parametrize(("url", "status"), [
    ("/fhir/R5/Patient", 404),
    ("/fhir/R5/Consent/", 404),
    ("/fhir/R5/Consent/a/b", 404),
    ("/fhir/R3/Consent", 404),
    ("/fhir/", 404),
    ("/fhir/R5/Consent?_count=1000000", 400),
    ("/fhir/R5/Consent?_count=101", 400),
    ("/fhir/R5/Consent?_count=-1", 400),
    ("/fhir/R5/Consent?_count=1e3", 400),
    ("/fhir/R5/Consent?_count=99999999999999999999999", 400),
    ("/fhir/R5/Consent?_offset=abc", 400),
    ("/fhir/R5/Consent?_count=5&_count=6", 400),
    ("/fhir/R5/Consent?date=2026-13-45", 400),
    ("/fhir/R5/Consent?date=yesterday", 400),
    ("/fhir/R5/Consent?date=2026-02-01T10:00", 400),
    ("/fhir/R5/Consent?date=", 400),
    ("/fhir/R5/Consent?status=approved", 400),
    ("/fhir/R5/Consent?subject=Patient/1", 400),
    ("/fhir/R5/Consent?name=Dupont", 400),
    ("/fhir/R5/Consent?_sort=date", 400),
    ("/fhir/R5/Consent?study=../../etc/passwd", 400),
    ("/fhir/R5/Consent?subject:identifier=,", 400),
    ("/fhir/R5/Consent?_format=xml", 406),
    ("/fhir/R5/Consent?status=active%00", 400),
    ("/fhir/R5/Consent/NCT07063680-DIJ-0001-1'%20OR%201=1", 400),
    ("/fhir/R5/Consent/NCT07063680-DIJ-9999-1", 404),
    ("/fhir/R5/Consent/" + "9" * 70, 400),
    ("/fhir/R5/Consent?subject:identifier=" + "A" * 3000, 400),
    ("/fhir/R5/ResearchSubject?status=dead", 400),
])
def test_hostile_and_malformed_requests(world, consents, client, url, status):
    raw = issue(world, world.sponsor)
    before = ConsentRecord.objects.count(), Participant.objects.count(), ApiToken.objects.count()
    response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/fhir+json")
    outcome(response, json.loads(response.content), status)
    assert (ConsentRecord.objects.count(), Participant.objects.count(), ApiToken.objects.count()) == before


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_are_refused_without_csrf_noise(world, consents, client, method):
    raw = issue(world, world.sponsor)
    client = client.__class__(enforce_csrf_checks=True)
    response = getattr(client, method)("/fhir/R5/Consent", data="{}", content_type="application/fhir+json",
                                       HTTP_AUTHORIZATION=f"Bearer {raw}")
    outcome(response, json.loads(response.content), 405)
    assert response["Allow"] == "GET, HEAD"


def test_an_unexpected_failure_is_an_operation_outcome(world, consents, client, monkeypatch):
    from consent.fhir import api

    raw = issue(world, world.sponsor)
    monkeypatch.setattr(api, "search", lambda *args: 1 / 0)
    response, body = get(client, "/fhir/R5/Consent", raw)
    outcome(response, body, 500)


# --- Throttle -------------------------------------------------------------------------------------------------------

def test_a_token_is_throttled(world, consents, client, settings):
    settings.FHIR_API_THROTTLE = {"WINDOW_SECONDS": 3600, "MAX_PER_TOKEN": 3, "MAX_FAILURES_PER_ADDRESS": 5}
    raw = issue(world, world.sponsor)
    statuses = [client.get("/fhir/R5/ResearchStudy", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/fhir/R5/ResearchStudy", HTTP_AUTHORIZATION=f"Bearer {raw}")
    outcome(response, json.loads(response.content), 429)
    assert response["Retry-After"] == "3600"


def test_guessing_tokens_is_throttled_per_address(world, consents, client, settings):
    settings.FHIR_API_THROTTLE = {"WINDOW_SECONDS": 3600, "MAX_PER_TOKEN": 100, "MAX_FAILURES_PER_ADDRESS": 3}
    raw = issue(world, world.sponsor)
    statuses = [client.get("/fhir/R5/Consent", HTTP_AUTHORIZATION=f"Bearer tdk_guess{n}").status_code
                for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    audited = AuditEntry.objects.filter(action="api.refused").count()
    # Even the right token waits out the window from that address, and nothing more is audited.
    assert client.get("/fhir/R5/Consent", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 429
    assert AuditEntry.objects.filter(action="api.refused").count() == audited


# --- Query count ----------------------------------------------------------------------------------------------------

def _more_records(world, consents, n: int) -> None:
    """n more DIJ participants, each with a copy of a consent record (same PDF), straight through the ORM."""
    template = consents["surrogate"]
    start = Participant.objects.filter(site=world.site_a).count()
    made = Participant.objects.bulk_create([
        Participant(site=world.site_a, number=start + i + 1, code=f"DIJ-{start + i + 1:04d}", status="included",
                    created_by=world.coordinator_a) for i in range(n)])
    rows = []
    for participant in made:
        row = ConsentRecord.objects.get(pk=template.pk)
        row.pk, row.participant, row.sequence = None, participant, 1
        row.pdf_sha256, row.verification_token = secrets.token_hex(32), secrets.token_hex(12)
        rows.append(row)
    ConsentRecord.objects.bulk_create(rows)


@pytest.mark.parametrize("resource", ["Consent", "ResearchSubject"])
def test_search_query_count_is_flat(world, consents, client, resource):
    raw = issue(world, world.sponsor)
    url = f"/fhir/R5/{resource}?_count=50"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
        return len(captured)

    small = queries()
    _more_records(world, consents, 60)
    assert queries() == small


# --- Commands -------------------------------------------------------------------------------------------------------

def test_issue_api_token_prints_the_token_on_its_last_line(world, consents, client):
    out = io.StringIO()
    call_command("issue_api_token", user="coordinator-a", trial="NCT07063680", site="dij", days=7, stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(digest=token_digest(raw))
    assert token.site == world.site_a and raw not in token.hint and token.hint == raw[:10]
    assert (token.expires_at - token.created_at) == datetime.timedelta(days=7)
    assert raw not in json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))
    response, body = get(client, "/fhir/R5/Consent", raw)
    assert body["total"] == 3
    call_command("revoke_api_token", id=token.pk, reason="fin du projet", stdout=io.StringIO())
    response, body = get(client, "/fhir/R5/Consent", raw)
    outcome(response, body, 401)
    assert AuditEntry.objects.filter(action="api_token.revoked", object_id=str(token.pk)).exists()


@pytest.mark.parametrize(("options", "message"), [
    ({"user": "ghost", "trial": "NCT07063680"}, "No account"),
    ({"user": "coordinator-a", "trial": "NCT99999999"}, "No trial"),
    ({"user": "coordinator-a", "trial": "NCT07063680", "site": "LIL"}, "does not read|ne consulte pas"),
    ({"user": "coordinator-a", "trial": "NCT07063680", "site": "BOR"}, "No site"),
    ({"user": "other-sponsor", "trial": "NCT07063680"}, "does not read|ne consulte pas"),
    ({"user": "nobody", "trial": "NCT07063680"}, "does not read|ne consulte pas"),
    ({"user": "sponsor", "trial": "NCT07063680", "days": 0}, "1 to 366|1 à 366"),
    ({"user": "sponsor", "trial": "NCT07063680", "days": 5000}, "1 to 366|1 à 366"),
    ({"user": "sponsor", "trial": "NCT07063680", "by": "coordinator-a"}, "may not issue"),
])
def test_issue_api_token_refusals_write_nothing(world, consents, options, message):
    before = ApiToken.objects.count(), AuditEntry.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("issue_api_token", stdout=io.StringIO(), **options)
    assert (ApiToken.objects.count(), AuditEntry.objects.count()) == before


def test_only_the_sponsor_or_an_administrator_revokes(world, consents):
    raw = issue(world, world.coordinator_a, site=world.site_a)
    token = ApiToken.objects.get(digest=token_digest(raw))
    with pytest.raises(CommandError, match="may not revoke"):
        call_command("revoke_api_token", id=token.pk, by="coordinator-a", stdout=io.StringIO())
    call_command("revoke_api_token", token=raw, by="sponsor", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already revoked|déjà révoqué"):
        call_command("revoke_api_token", id=token.pk, by="admin", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No such token"):
        call_command("revoke_api_token", token="tdk_nothing", stdout=io.StringIO())


# --- The admin page of tokens -------------------------------------------------------------------------------------

def test_the_sponsor_lists_and_revokes_tokens_in_the_admin(world, consents, client):
    raw = issue(world, world.coordinator_a, site=world.site_a)
    other = issue(world, world.other_sponsor, trial=world.other_trial)
    token = ApiToken.objects.get(digest=token_digest(raw))
    client.force_login(world.sponsor)
    page = client.get("/admin/api-tokens/")
    assert page.status_code == 200
    text = page.content.decode()
    assert token.hint in text and other[:10] not in text and raw not in text
    # Another trial's token is not the sponsor's to revoke; an empty reason is refused.
    other_pk = ApiToken.objects.get(digest=token_digest(other)).pk
    assert client.post("/admin/api-tokens/", {"token": other_pk, "reason": "x"}).status_code == 404
    client.post("/admin/api-tokens/", {"token": token.pk, "reason": " "})
    token.refresh_from_db()
    assert token.revoked_at is None
    assert client.post("/admin/api-tokens/", {"token": token.pk, "reason": "Programme arrêté"}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_by == world.sponsor
    assert AuditEntry.objects.filter(action="api_token.revoked", object_id=str(token.pk),
                                     reason="Programme arrêté").exists()
    response, body = get(client, "/fhir/R5/Consent", raw)
    outcome(response, body, 401)


@pytest.mark.parametrize("persona", ["coordinator_a", "qa", "inspector"])
def test_no_one_else_opens_the_token_page(world, consents, client, persona):
    raw = issue(world, world.coordinator_a, site=world.site_a)
    token = ApiToken.objects.get(digest=token_digest(raw))
    client.force_login(getattr(world, persona))
    assert client.get("/admin/api-tokens/").status_code in (302, 403, 404)
    client.post("/admin/api-tokens/", {"token": token.pk, "reason": "x"})
    token.refresh_from_db()
    assert token.revoked_at is None
