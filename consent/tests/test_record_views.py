"""Participants and consents through the real views: the tablet form, site separation, downloads."""

import base64
import datetime

import pytest
from django.utils import timezone

from consent import services
from consent.models import ConsentRecord, Participant
from consent.tests.test_records import forms, signature_png  # noqa: F401  (fixtures)
from regulatory.tests.factories import PASSWORD

BASE = "/nct07063680/sites"


def drawn() -> str:
    return "data:image/png;base64," + base64.b64encode(signature_png()).decode()


@pytest.fixture
def participant(world, forms):  # noqa: F811
    return services.participant_create(actor=world.coordinator_a, site=world.site_a)


def consent_post(form_version, participant, **overrides):
    data = {"version": form_version.pk, "expected_sequence": participant.consents.count(),
            "signed_at": timezone.localtime(timezone.now() - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "outcome": "consented", "statement_0": "accept", "signature_drawn": drawn(), "password": PASSWORD,
            "surrogate_relationship": "épouse", "independence_attested": "on"}
    data.update(overrides)
    return data


def test_coordinator_registers_a_participant(world, forms, as_user):  # noqa: F811
    response = as_user(world.coordinator_a).post(f"{BASE}/dij/participants/")
    assert response.status_code == 302 and response["Location"].endswith("/participants/DIJ-0001/")
    assert Participant.objects.get().created_by == world.coordinator_a


def test_coordinator_records_a_surrogate_consent_with_a_drawn_signature(world, forms, participant, as_user):  # noqa: F811
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['surrogate'].pk}/"
    assert client.get(url).status_code == 200
    response = client.post(url, consent_post(forms["surrogate"], participant))
    assert response.status_code == 302, response.content.decode()[:2000]
    record = ConsentRecord.objects.get()
    assert record.signature_source == "drawn" and record.surrogate_relationship == "épouse"
    pdf = client.get(f"{BASE}/dij/participants/{participant.code}/consents/1/pdf/")
    assert pdf.status_code == 200 and pdf["X-Content-SHA256"] == record.pdf_sha256
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_a_second_submit_of_the_same_form_records_once(world, forms, participant, as_user):  # noqa: F811
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    data = consent_post(forms["patient"], participant)
    assert client.post(url, data).status_code == 302
    response = client.post(url, data)
    assert response.status_code == 400 and ConsentRecord.objects.count() == 1


def test_bad_inputs_give_messages_not_errors(world, forms, participant, as_user):  # noqa: F811
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    for bad in ({"signature_drawn": "data:image/png;base64,!!!!"}, {"signature_drawn": "javascript:alert(1)"},
                {"signed_at": "2999-01-01T00:00"}, {"password": "wrong"}, {"statement_0": "maybe"},
                {"version": forms["surrogate"].pk}, {"expected_sequence": "-1"}, {"signature_drawn": ""}):
        response = client.post(url, consent_post(forms["patient"], participant, **bad))
        assert response.status_code == 400, bad
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize("persona", ["coordinator_b", "other_sponsor", "nobody"])
def test_another_sites_staff_see_nothing(world, forms, participant, as_user, persona):  # noqa: F811
    services.consent_record_create(actor=world.investigator_a, participant=participant, password=PASSWORD,
                                   expected_sequence=0, data=services.ConsentInput(
                                       version=forms["patient"], signed_at=timezone.now(), outcome="consented",
                                       answers={0: "accept"}, signature_png=signature_png(),
                                       signature_source="drawn"))
    client = as_user(getattr(world, persona))
    for url in (f"{BASE}/dij/participants/", f"{BASE}/dij/participants/{participant.code}/",
                f"{BASE}/dij/participants/{participant.code}/consents/1/pdf/", f"{BASE}/dij/tasks/",
                f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/",
                f"/v/{ConsentRecord.objects.get().verification_token}/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{BASE}/dij/participants/").status_code == 404
    assert Participant.objects.count() == 1


def test_lists_of_a_site_never_show_another_sites_participants(world, forms, participant, as_user):  # noqa: F811
    services.participant_create(actor=world.coordinator_b, site=world.site_b)
    body = as_user(world.coordinator_a).get(f"{BASE}/dij/participants/").content.decode()
    assert "DIJ-0001" in body and "LIL-0001" not in body


@pytest.mark.parametrize("persona", ["sponsor", "inspector"])
def test_trial_wide_readers_read_but_never_record(world, forms, participant, as_user, persona):  # noqa: F811
    client = as_user(getattr(world, persona))
    assert client.get(f"{BASE}/dij/participants/{participant.code}/").status_code == 200
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    assert client.get(url).status_code == 404
    refused = (403, 404)  # 403: an inspector's account is read-only
    assert client.post(url, consent_post(forms["patient"], participant)).status_code in refused
    assert client.post(f"{BASE}/dij/participants/").status_code in refused
    assert not ConsentRecord.objects.exists() and Participant.objects.count() == 1


def test_withdrawal_and_death_forms(world, forms, participant, as_user):  # noqa: F811
    client = as_user(world.coordinator_a)
    client.post(f"{BASE}/dij/participants/{participant.code}/withdraw/", {"reason": ""})
    participant.refresh_from_db()
    assert participant.status == "screening"
    client.post(f"{BASE}/dij/participants/{participant.code}/withdraw/", {"reason": "Refus oral"})
    participant.refresh_from_db()
    assert participant.status == "withdrawn"
    other = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    client.post(f"{BASE}/dij/participants/{other.code}/death/", {"died_at": "2999-01-01T00:00"})
    other.refresh_from_db()
    assert other.status == "screening"
