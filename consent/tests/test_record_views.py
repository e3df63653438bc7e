"""Participants and consents through the real views: the tablet form, site separation, downloads."""

import base64
import datetime
import html
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from consent import services
from consent.models import ConsentRecord, Participant
from consent.tests.test_records import forms, signature_png  # noqa: F401  (fixtures)
from regulatory.tests.factories import PASSWORD

BASE = "/nct07063680/sites"


def text(response) -> str:
    """The page as a reader sees it (entities decoded: Django escapes apostrophes in some places, not others)."""
    return html.unescape(response.content.decode())


def drawn() -> str:
    return "data:image/png;base64," + base64.b64encode(signature_png()).decode()


@pytest.fixture
def participant(world, forms):  # noqa: F811
    return services.participant_create(actor=world.coordinator_a, site=world.site_a)


def consent_post(form_version, participant, **overrides):
    data = {"version": form_version.pk, "expected_sequence": participant.consents.count(),
            "signed_at": timezone.localtime(timezone.now() - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "outcome": "consented", "statement_0": "accept", "signature_drawn": drawn(), "username": "coordinator-a",
            "password": PASSWORD,
            "surrogate_relationship": "épouse", "independence_attested": "on"}
    data.update(overrides)
    return data


def test_coordinator_registers_a_participant(world, forms, as_user):  # noqa: F811
    response = as_user(world.coordinator_a).post(f"{BASE}/dij/participants/", {"confirm": "yes"})
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


def test_a_signer_who_cannot_draw_signs_by_typing_their_name_recorded_as_such(world, forms, participant,  # noqa: F811
                                                                              as_user, tmp_path):
    """The keyboard's way to sign: the signer's full name, typed; the record says "typed", the signed PDF shows the
    name where the drawing would be and says how it was given. Drawing and typing at once is refused."""
    import shutil
    import subprocess

    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    page = text(client.get(url))
    assert 'class="skip-link" href="#consent-form-start"' in page and 'id="consent-form-start"' in page
    assert page.index("skip-link") < page.index('class="topbar"')  # the first thing Tab reaches
    both = client.post(url, consent_post(forms["patient"], participant, signature_typed="Jeanne Martin"))
    assert both.status_code == 400 and "Sign one way only" not in text(both)  # French page
    assert "Signez d'une seule façon" in text(both) and not ConsentRecord.objects.exists()
    blank = client.post(url, consent_post(forms["patient"], participant, signature_drawn="", signature_typed="   "))
    assert blank.status_code == 400 and not ConsentRecord.objects.exists()
    response = client.post(url, consent_post(forms["patient"], participant, signature_drawn="",
                                             signature_typed="  Jeanne   Martin "))
    assert response.status_code == 302, text(response)[:2000]
    record = ConsentRecord.objects.get()
    assert record.signature_source == "typed"
    if shutil.which("pdftotext"):
        path = tmp_path / "record.pdf"
        path.write_bytes(b"".join(client.get(
            f"{BASE}/dij/participants/{participant.code}/consents/1/pdf/").streaming_content))
        words = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                        check=True).stdout.split())
        assert "Nom complet saisi par le signataire (clavier)" in words


def test_a_typed_signature_is_an_image_of_the_name_and_refuses_what_cannot_print():
    from PIL import Image

    png = services.typed_signature_image("Jeanne Martin")
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.width > image.height > 20
        assert image.convert("L").getextrema()[0] < 100  # ink
    for bad in ("", "   ", "x" * 121, "Jeanne\x00Martin", "Jeanne\u202eMartin"):
        with pytest.raises(ValidationError):
            services.typed_signature_image(bad)


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
                {"version": forms["surrogate"].pk}, {"expected_sequence": "-1"}, {"signature_drawn": ""},
                {"username": ""}, {"username": "coordinator-b"}, {"username": "investigator-a"}):
        response = client.post(url, consent_post(forms["patient"], participant, **bad))
        assert response.status_code == 400, bad
    assert not ConsentRecord.objects.exists()
    assert "Votre identifiant ou votre mot de passe est incorrect" in text(response)


def test_the_form_asks_both_signature_components_and_fills_in_neither(world, forms, participant, as_user):  # noqa: F811
    client = as_user(world.coordinator_a)
    body = text(client.get(f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"))
    username = re.search(r'<input[^>]*name="username"[^>]*>', body).group(0)
    password = re.search(r'<input[^>]*name="password"[^>]*>', body).group(0)
    assert "value=" not in username and "value=" not in password and 'autocomplete="username"' in username
    assert "Votre identifiant, pour signer" in body and "Votre signature électronique" in body


@pytest.mark.parametrize("persona", ["coordinator_b", "other_sponsor", "nobody"])
def test_another_sites_staff_see_nothing(world, forms, participant, as_user, persona):  # noqa: F811
    services.consent_record_create(actor=world.investigator_a, participant=participant, username="investigator-a",
                                   password=PASSWORD,
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
    client.post(f"{BASE}/dij/participants/{participant.code}/withdraw/", {"reason": "Refus oral"})  # no scope
    participant.refresh_from_db()
    assert participant.status == "screening"
    client.post(f"{BASE}/dij/participants/{participant.code}/withdraw/", {"scope": "follow_up",
                                                                          "reason": "Refus oral"})
    participant.refresh_from_db()
    assert participant.status == "withdrawn"
    other = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    client.post(f"{BASE}/dij/participants/{other.code}/death/", {"died_at": "2999-01-01T00:00"})
    other.refresh_from_db()
    assert other.status == "screening"


def test_a_coordinator_is_not_offered_the_emergency_form_and_is_told_who_records_it(
        world, forms, participant, as_user):  # noqa: F811
    client = as_user(world.coordinator_a)
    page = text(client.get(f"{BASE}/dij/participants/{participant.code}/"))
    emergency_url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['emergency'].pk}/"
    assert emergency_url not in page and f"consent/{forms['patient'].pk}/" in page
    assert "Inclusion en urgence : seul un investigateur de DIJ peut l'attester" in page
    response = client.get(emergency_url)
    body = text(response)
    assert response.status_code == 403 and "Seul un investigateur de DIJ peut attester une inclusion" in body
    assert 'name="password"' not in body  # no form to fill in
    post = client.post(emergency_url, consent_post(forms["emergency"], participant, emergency_conditions_attested="on",
                                                   no_prior_objection_attested="on", signature_drawn=""))
    assert post.status_code == 403 and "Seul un investigateur" in post.content.decode()
    participant.refresh_from_db()
    assert participant.status == "screening" and not ConsentRecord.objects.exists()


def test_the_investigator_records_the_emergency_inclusion(world, forms, participant, as_user):  # noqa: F811
    client = as_user(world.investigator_a)
    page = text(client.get(f"{BASE}/dij/participants/{participant.code}/"))
    emergency_url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['emergency'].pk}/"
    assert emergency_url in page and "seul un investigateur" not in page
    assert client.get(emergency_url).status_code == 200
    response = client.post(emergency_url, consent_post(
        forms["emergency"], participant, emergency_conditions_attested="on", no_prior_objection_attested="on",
        signature_drawn="", username="investigator-a"))
    assert response.status_code == 302, response.content.decode()[:2000]
    record = ConsentRecord.objects.get()
    assert record.kind == "emergency" and record.obtained_by == world.investigator_a
    # Included: the page no longer mentions the emergency option at all, even to a coordinator.
    assert "seul un investigateur" not in text(as_user(world.coordinator_a).get(
        f"{BASE}/dij/participants/{participant.code}/"))


def test_a_representative_continuation_through_the_form(world, forms, participant, as_user):  # noqa: F811
    services.consent_record_create(
        actor=world.investigator_a, participant=participant, username="investigator-a", password=PASSWORD,
        expected_sequence=0,
        data=services.ConsentInput(version=forms["emergency"], signed_at=timezone.now() - datetime.timedelta(hours=3),
                                   outcome="consented", answers={0: "accept"}, emergency_conditions_attested=True,
                                   no_prior_objection_attested=True))
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['continuation'].pk}/"
    form = text(client.get(url))
    assert "Qui signe le consentement de poursuite" in form and "le patient étant encore hors d'état" in form
    missing = client.post(url, consent_post(forms["continuation"], participant, signer_role="representative",
                                            surrogate_relationship="fille"))
    assert missing.status_code == 400 and "Un représentant ne signe que tant que le patient" in text(missing)
    response = client.post(url, consent_post(forms["continuation"], participant, signer_role="representative",
                                             surrogate_relationship="fille", patient_unable_attested="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    record = ConsentRecord.objects.get(sequence=2)
    assert (record.signer_role, record.surrogate_relationship, record.patient_unable_attested) == (
        "representative", "fille", True)
    page = text(client.get(f"{BASE}/dij/participants/{participant.code}/"))
    assert "Représentant (proche ou personne de confiance) d'un patient hors d'état de consentir (fille)" \
        in page
    todo = text(client.get(f"{BASE}/dij/tasks/"))
    assert "Consentement du patient lui-même, dès qu'il le pourra" in todo
    # The patient, once able, signs the same form: the task closes and nothing is left to do.
    assert client.post(url, consent_post(forms["continuation"], participant)).status_code == 302
    assert ConsentRecord.objects.get(sequence=3).signer_role == "participant"
    assert not participant.tasks.filter(closed_at__isnull=True).exists()


def test_the_patients_own_consent_is_a_reminder_to_reassess_never_overdue(world, forms, participant, as_user):  # noqa: F811
    from consent.tests.test_records import record, representative

    days_ago = lambda days: timezone.now() - datetime.timedelta(days=days)  # noqa: E731
    record(world, participant, forms["emergency"], signed_at=days_ago(25))
    record(world, participant, forms["continuation"], actor=world.coordinator_a, signed_at=days_ago(20),
           **representative())
    late = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    record(world, late, forms["emergency"], signed_at=days_ago(25))  # its continuation is 18 days late
    own = participant.tasks.get(kind="patient_consent")
    assert own.is_reminder and own.due_at < timezone.now()
    client = as_user(world.coordinator_a)
    todo = text(client.get(f"{BASE}/dij/tasks/"))
    rows = {code: re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{code}(?:(?!</tr>).)*</tr>", todo, re.S).group(0)
            for code in (participant.code, late.code)}
    assert "À RÉÉVALUER" in rows[participant.code] and "réévaluer la capacité avant le" in rows[participant.code]
    assert "EN RETARD" not in rows[participant.code] and 'class="overdue"' not in rows[participant.code]
    assert "EN RETARD" in rows[late.code] and 'class="overdue"' in rows[late.code]
    page = text(client.get(f"{BASE}/dij/participants/{participant.code}/"))
    assert "réévaluer la capacité avant le" in page and "À RÉÉVALUER" in page and "EN RETARD" not in page


def test_signing_is_suspended_after_too_many_wrong_passwords(world, forms, participant, as_user):  # noqa: F811
    from django.conf import settings

    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    for _ in range(settings.LOGIN_THROTTLE["FREE_FAILURES"] + 1):
        response = client.post(url, consent_post(forms["patient"], participant, password="wrong"))
        assert response.status_code == 400 and "mot de passe" in response.content.decode()
    response = client.post(url, consent_post(forms["patient"], participant))
    assert response.status_code == 400
    assert "la signature est suspendue pendant quelques minutes" in text(response)
    assert "Rien ne peut être enregistré d'ici là" in text(client.get(url))
    assert not ConsentRecord.objects.exists()
    # The throttle is the user's, not the address's: a colleague at the same site signs.
    other = as_user(world.investigator_a)
    assert other.post(url, consent_post(forms["patient"], participant, username="investigator-a")).status_code == 302


def test_a_throttled_client_address_does_not_stop_signing(world, forms, participant, client):  # noqa: F811
    from django.conf import settings

    for n in range(settings.LOGIN_THROTTLE["MAX_FAILURES_PER_ADDRESS"]):
        client.post("/accounts/login/", {"username": f"guess-{n}", "password": "wrong"})
    client.force_login(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{forms['patient'].pk}/"
    assert client.post(url, consent_post(forms["patient"], participant)).status_code == 302
