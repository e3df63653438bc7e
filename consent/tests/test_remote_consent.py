"""Remote consent of a relative (issue 17): the invitation (a one-time link and, separately, a one-time code), the
relative's pages without an account, the code rate-limited and locking, expired and used links, bad input writing
nothing, the investigator's countersignature recording the consent with the relative's manifestation, and the
relative's e-mail address erased."""

import datetime
import io
import re
import subprocess

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone, translation
from freezegun import freeze_time

from consent import services
from consent.models import ConsentRecord, RemoteConsentInvitation
from consent.services import remote
from consent.tests.factories import make_form, signature_png
from consent.tests.test_records import forms, new  # noqa: F401  (fixtures)
from regulatory.models import AuditEntry
from regulatory.tests.factories import PASSWORD

BASE = "/nct07063680/sites/dij/participants"
EMAIL = "proche.demo@example.org"
QUESTIONS = [("question", {"question": "Peut-il arrêter l'étude à tout moment ?",
                           "choices": ["Oui, sans conséquence sur ses soins", "Non"], "right_answer": 1,
                           "explanation": "L'arrêt est possible à tout moment, sans justification."})]
SIGNERS = [("signer", {"role": "investigator", "requirement": "required", "later_within_hours": 72})]
PNG = "data:image/png;base64," + __import__("base64").b64encode(signature_png()).decode()


@pytest.fixture(autouse=True)
def english_and_clean_cache(client):
    cache.clear()
    client.cookies["django_language"] = "en"  # the relative chose English (the invitation's language is French)
    with translation.override("en"):
        yield
    cache.clear()


@pytest.fixture
def surrogate(world, forms):  # noqa: F811  (a surrogate form with a question, in force at DIJ)
    version = make_form(trial=world.trial, kind="surrogate", number="1.1", signers=SIGNERS, comprehension=QUESTIONS)
    services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=2))
    return version


def invite(world, participant, version, actor=None, email=EMAIL):
    mail.outbox.clear()
    invitation = remote.remote_invitation_create(actor=actor or world.coordinator_a, participant=participant,
                                                 version=version, email=email)
    link, code = mail.outbox
    token = re.search(r"/remote/([A-Za-z0-9_-]+)/", link.body).group(1)
    number = re.search(r"(\d{6})", code.body).group(1)
    return invitation, token, number


def verified_client(client, token, code):
    response = client.post(f"/remote/{token}/", {"code": code})
    assert response.status_code == 302 and response["Location"] == f"/remote/{token}/consent/"
    return client


def consent_data(**over):
    data = {"statement_0": "accept", "question_0": "0", "relationship": "fille", "independence_attested": "on",
            "signature_drawn": PNG, "information_seconds": "40"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def pdf_text(record, tmp_path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(record.pdf.read())
    return " ".join(subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                                   text=True).stdout.split())


# --- The invitation ----------------------------------------------------------------------------------------------


def test_invitation_sends_the_link_and_the_code_in_two_emails_and_keeps_neither_in_clear(world, surrogate):
    participant = new(world)
    invitation, token, code = invite(world, participant, surrogate)
    link, code_mail = mail.outbox
    assert link.to == code_mail.to == [EMAIL]
    assert f"/remote/{token}/" in link.body and code not in link.body
    assert code in code_mail.body and token not in code_mail.body
    assert participant.code in link.body
    stored = RemoteConsentInvitation.objects.values().get(pk=invitation.pk)
    assert not any(token in str(value) or value == code for value in stored.values())
    assert stored["token_sha256"] == remote.sha256_hex(token) and stored["code_sha256"] == remote.sha256_hex(code)
    assert abs(stored["expires_at"] - stored["created_at"] - datetime.timedelta(hours=48)).total_seconds() < 5
    entry = AuditEntry.objects.get(action="remote_consent.invited")
    assert EMAIL not in str(entry.changes) and entry.trial_id == world.trial.pk


@pytest.mark.parametrize("persona", ["coordinator_b", "sponsor", "inspector", "admin"])
def test_only_the_sites_staff_invite(world, surrogate, persona):
    with pytest.raises(PermissionDenied):
        remote.remote_invitation_create(actor=getattr(world, persona), participant=new(world), version=surrogate,
                                        email=EMAIL)
    assert not RemoteConsentInvitation.objects.exists() and mail.outbox == []


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b"])
def test_a_bad_address_sends_nothing_and_writes_nothing(world, surrogate, email):
    with pytest.raises(ValidationError):
        remote.remote_invitation_create(actor=world.coordinator_a, participant=new(world), version=surrogate,
                                        email=email)
    assert not RemoteConsentInvitation.objects.exists() and mail.outbox == []
    assert not AuditEntry.objects.filter(action="remote_consent.invited").exists()


def test_a_form_not_in_force_or_not_a_surrogate_form_is_refused(world, surrogate, forms):  # noqa: F811
    participant = new(world)
    for version in (forms["surrogate"], forms["patient"]):  # 1.0 was replaced by 1.1 at DIJ; a patient form
        with pytest.raises(ValidationError):
            remote.remote_invitation_create(actor=world.coordinator_a, participant=participant, version=version,
                                            email=EMAIL)
    assert not RemoteConsentInvitation.objects.exists()


def test_a_second_invitation_waits_for_the_first_to_be_cancelled(world, surrogate):
    participant = new(world)
    first, _token, _code = invite(world, participant, surrogate)
    with pytest.raises(ValidationError, match="cancel it first"):
        remote.remote_invitation_create(actor=world.coordinator_a, participant=participant, version=surrogate,
                                        email=EMAIL)
    remote.remote_invitation_cancel(actor=world.coordinator_a, invitation=first)
    first.refresh_from_db()
    assert first.email == "" and first.email_erased_at is not None
    invite(world, participant, surrogate)
    assert RemoteConsentInvitation.objects.count() == 2


def test_invite_from_the_participant_page(world, surrogate, as_user):
    participant = new(world)
    client = as_user(world.coordinator_a)
    client.cookies["django_language"] = "en"
    page = client.get(f"{BASE}/{participant.code}/").content.decode()
    assert "Invite a relative to consent remotely" in page
    response = client.post(f"{BASE}/{participant.code}/remote/invite/", {"version": surrogate.pk, "email": EMAIL})
    assert response.status_code == 302 and len(mail.outbox) == 2
    page = client.get(f"{BASE}/{participant.code}/").content.decode()
    assert "Sent, awaiting the relative" in page and EMAIL not in page


# --- The relative's pages ----------------------------------------------------------------------------------------


def test_the_code_page_shows_only_the_code_is_private_and_not_indexed(world, surrogate, client):
    participant = new(world)
    _invitation, token, _code = invite(world, participant, surrogate)
    response = client.get(f"/remote/{token}/")
    body = response.content.decode()
    assert response.status_code == 200 and participant.code in body
    assert "no-store" in response["Cache-Control"] and "noindex" in response["X-Robots-Tag"]
    assert response["Referrer-Policy"] == "same-origin" and 'name="robots" content="noindex' in body
    assert world.site_a.name not in body and EMAIL not in body


def test_the_consent_page_needs_the_code_first(world, surrogate, client):
    _invitation, token, _code = invite(world, new(world), surrogate)
    assert client.get(f"/remote/{token}/consent/")["Location"] == f"/remote/{token}/"
    assert client.post(f"/remote/{token}/consent/", consent_data())["Location"] == f"/remote/{token}/"
    assert not RemoteConsentInvitation.objects.filter(used_at__isnull=False).exists()


def test_wrong_codes_are_counted_then_lock_the_invitation_and_erase_the_address(world, surrogate, client):
    invitation, token, code = invite(world, new(world), surrogate)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = client.post(f"/remote/{token}/", {"code": wrong})
        assert response.status_code == 400 and f"{left} attempt(s) left" in response.content.decode()
    response = client.post(f"/remote/{token}/", {"code": wrong})
    assert "locked" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.attempts == 5 and invitation.locked_at and invitation.email == ""
    # the right code no longer opens it
    response = client.post(f"/remote/{token}/", {"code": code})
    assert response.status_code == 410 and "locked" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.code_verified_at is None
    assert AuditEntry.objects.filter(action="remote_consent.code_wrong").count() == 5


def test_attempts_per_address_are_limited_across_invitations(world, surrogate, client, settings):
    settings.REMOTE_CONSENT_THROTTLE = {"MAX_WRONG_CODES": 5, "WINDOW_SECONDS": 900, "MAX_PER_ADDRESS": 3}
    first, token, code = invite(world, new(world), surrogate)
    for _ in range(3):
        client.post(f"/remote/{token}/", {"code": "99999x"})
    response = client.post(f"/remote/{token}/", {"code": code})  # the right code, but one attempt too many
    assert response.status_code == 400 and "Too many attempts" in response.content.decode()
    first.refresh_from_db()
    assert first.code_verified_at is None and first.attempts == 3


def test_an_unknown_or_expired_link_says_so(world, surrogate, client):
    invitation, token, code = invite(world, new(world), surrogate)
    assert client.get("/remote/not-a-real-token/").status_code == 404
    RemoteConsentInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1))
    response = client.get(f"/remote/{token}/")
    assert response.status_code == 410 and "This link has expired" in response.content.decode()
    assert client.post(f"/remote/{token}/", {"code": code}).status_code == 410
    invitation.refresh_from_db()
    assert invitation.code_verified_at is None and invitation.email == EMAIL
    out = io.StringIO()
    call_command("erase_remote_consent_emails", stdout=out)
    assert out.getvalue().startswith("1 e-mail") and remote.remote_emails_erase() == 0
    invitation.refresh_from_db()
    assert invitation.email == "" and invitation.email_erased_at and invitation.email_sha256


def test_the_relative_reads_answers_and_signs_then_the_link_is_used(world, surrogate, client,
                                                                    django_capture_on_commit_callbacks):
    participant = new(world)
    invitation, token, code = invite(world, participant, surrogate)
    verified_client(client, token, code)
    invitation.refresh_from_db()
    assert invitation.code_verified_at and invitation.verified_ip == "127.0.0.1"
    page = client.get(f"/remote/{token}/consent/")
    assert page.status_code == 200 and "Peut-il arrêter" in page.content.decode()
    # a wrong answer: its explanation is shown, nothing is written
    response = client.post(f"/remote/{token}/consent/", consent_data(question_0="1"))
    assert response.status_code == 400 and "sans justification" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.used_at is None and invitation.email == EMAIL
    attempts = re.search(r'name="attempts" value="([^"]+)"', response.content.decode()).group(1)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/remote/{token}/consent/", consent_data(attempts=attempts))
    assert response.status_code == 302 and response["Location"] == f"/remote/{token}/done/"
    assert client.get(f"/remote/{token}/done/").status_code == 200
    # the site's investigators are told their countersignature is awaited (not the coordinator, not the relative)
    told = {address for message in mail.outbox for address in message.to}
    assert world.investigator_a.email in told and EMAIL not in told and world.coordinator_a.email not in told
    assert any(participant.code in message.subject and f"/participants/{participant.code}/" in message.body
               for message in mail.outbox)
    invitation.refresh_from_db()
    assert invitation.used_at and invitation.relationship == "fille" and invitation.email == ""
    assert invitation.comprehension == {"0": [1, 0]} and invitation.signature_source == "drawn"
    assert not participant.consents.exists()  # not a consent before the countersignature
    used = client.get(f"/remote/{token}/")
    assert used.status_code == 410 and "already been used" in used.content.decode()
    assert client.post(f"/remote/{token}/consent/", consent_data()).status_code == 410


@pytest.mark.parametrize("change", [
    {"signature_drawn": None}, {"independence_attested": None}, {"relationship": ""}, {"statement_0": "refuse"},
    {"statement_0": None}, {"question_0": None}, {"signature_drawn": "data:image/png;base64,AAAA"},
])
def test_bad_input_from_the_relative_writes_nothing(world, surrogate, client, change):
    invitation, token, code = invite(world, new(world), surrogate)
    verified_client(client, token, code)
    response = client.post(f"/remote/{token}/consent/", consent_data(**change))
    assert response.status_code == 400 and "Nothing was sent yet" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.used_at is None and invitation.signature_png is None and invitation.email == EMAIL
    assert not AuditEntry.objects.filter(action="remote_consent.signed").exists()


def test_the_relative_may_sign_by_typing_their_name(world, surrogate, client):
    invitation, token, code = invite(world, new(world), surrogate)
    verified_client(client, token, code)
    response = client.post(f"/remote/{token}/consent/", consent_data(signature_drawn=None,
                                                                     signature_typed="Claire Martin"))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.signature_source == "typed"


def test_pages_follow_the_chosen_language(world, surrogate, client):
    _invitation, token, _code = invite(world, new(world), surrogate)
    del client.cookies["django_language"]  # no choice made: the invitation's language
    french = client.get(f"/remote/{token}/").content.decode()
    assert "Code à usage unique" in french or "code à usage unique" in french
    client.cookies["django_language"] = "en"
    assert "One-time code" in client.get(f"/remote/{token}/").content.decode()


# --- The investigator's countersignature -------------------------------------------------------------------------


def signed(world, surrogate, client, *, wrong_first=False):
    participant = new(world)
    invitation, token, code = invite(world, participant, surrogate)
    verified_client(client, token, code)
    data = consent_data()
    if wrong_first:
        response = client.post(f"/remote/{token}/consent/", consent_data(question_0="1"))
        data["attempts"] = re.search(r'name="attempts" value="([^"]+)"', response.content.decode()).group(1)
    assert client.post(f"/remote/{token}/consent/", data).status_code == 302
    invitation.refresh_from_db()
    translation.activate("en")  # the page served was in French (the middleware's choice)
    return participant, invitation


def test_countersignature_records_the_consent_with_the_relatives_manifestation(world, surrogate, client,
                                                                             tmp_path):
    participant, invitation = signed(world, surrogate, client)
    # The relative signed two hours ago: the countersignature is printed at its own moment, not at theirs.
    two_hours_ago = timezone.now() - datetime.timedelta(hours=2)
    RemoteConsentInvitation.objects.filter(pk=invitation.pk).update(used_at=two_hours_ago)
    invitation.refresh_from_db()
    before = timezone.now()
    record = remote.remote_consent_countersign(actor=world.investigator_a, invitation=invitation,
                                               username="investigator-a", password=PASSWORD)
    assert before <= record.countersigned_at <= timezone.now()
    countersignature = next(s for s in record.ceremony if s["role"] == "investigator")
    assert countersignature["at"] == record.countersigned_at.isoformat() != two_hours_ago.isoformat()
    participant.refresh_from_db()
    assert participant.status == "included" and participant.inclusion_path == "surrogate"
    assert record.outcome == ConsentRecord.Outcome.CONSENTED and record.signer_role == "surrogate"
    assert record.surrogate_relationship == "fille" and record.independence_attested
    assert record.signed_at == invitation.used_at and record.signature_source == "drawn"
    assert record.countersigned_by == world.investigator_a
    invitation.refresh_from_db()
    assert invitation.record == record and invitation.signature_png is None
    text = pdf_text(record, tmp_path)
    assert f"Proche de {participant.code} (fille)" in text and "Signé par le proche (fille)" in text
    # the record says how it was given: remotely, by whom the link went out, when the code was verified
    assert record.remote["invited_by"] and record.remote["code_verified_at"]
    assert "Recueil à distance" in text and "lien et code à usage unique" in " ".join(text.split())
    assert AuditEntry.objects.filter(action="remote_consent.countersigned", object_id=str(invitation.pk)).exists()
    with pytest.raises(ValidationError):  # once only
        remote.remote_consent_countersign(actor=world.investigator_a, invitation=invitation,
                                          username="investigator-a", password=PASSWORD)
    assert participant.consents.count() == 1


def test_a_countersignature_after_the_forms_delay_is_refused_nothing_recorded(world, surrogate, client):
    participant, invitation = signed(world, surrogate, client)
    # The form asks for the countersignature within 72 h of the relative's signature; the investigator comes 73 h on.
    invitation.refresh_from_db()
    with freeze_time(invitation.used_at + datetime.timedelta(hours=73), tick=True), \
            pytest.raises(ValidationError, match="due within 72 h"):
        remote.remote_consent_countersign(actor=world.investigator_a, invitation=invitation,
                                          username="investigator-a", password=PASSWORD)
    invitation.refresh_from_db()
    assert invitation.record is None and not participant.consents.exists()


def test_a_coordinator_or_a_wrong_password_cannot_countersign(world, surrogate, client):
    participant, invitation = signed(world, surrogate, client)
    with pytest.raises(ValidationError, match="Only an investigator"):
        remote.remote_consent_countersign(actor=world.coordinator_a, invitation=invitation,
                                          username="coordinator-a", password=PASSWORD)
    with pytest.raises(ValidationError):
        remote.remote_consent_countersign(actor=world.investigator_a, invitation=invitation,
                                          username="investigator-a", password="wrong")
    with pytest.raises(PermissionDenied):
        remote.remote_consent_countersign(actor=world.coordinator_b, invitation=invitation,
                                          username="coordinator-b", password=PASSWORD)
    assert not participant.consents.exists()
    invitation.refresh_from_db()
    assert invitation.record is None and invitation.signature_png is not None


def test_a_wrong_first_answer_needs_the_investigator_to_have_discussed_it(world, surrogate, client, tmp_path):
    participant, invitation = signed(world, surrogate, client, wrong_first=True)
    with pytest.raises(ValidationError, match="discuss"):
        remote.remote_consent_countersign(actor=world.investigator_a, invitation=invitation,
                                          username="investigator-a", password=PASSWORD)
    assert not participant.consents.exists()
    record = remote.remote_consent_countersign(actor=world.investigator_a, invitation=invitation,
                                               username="investigator-a", password=PASSWORD, discussed=True)
    assert record.comprehension[0]["wrong_attempts"] == 1 and record.comprehension[0]["discussed"]


def test_countersign_from_the_participant_page(world, surrogate, client, as_user):
    participant, invitation = signed(world, surrogate, client)
    url = f"{BASE}/{participant.code}/remote/{invitation.pk}/countersign/"
    coordinator = as_user(world.coordinator_a)
    coordinator.cookies["django_language"] = "en"
    page = coordinator.get(f"{BASE}/{participant.code}/").content.decode()
    assert "Only an investigator of DIJ can countersign" in page
    coordinator.post(url, {"username": "coordinator-a", "password": PASSWORD})
    assert not participant.consents.exists()
    investigator = as_user(world.investigator_a)
    investigator.cookies["django_language"] = "en"
    response = investigator.post(url, {"username": "investigator-a", "password": PASSWORD}, follow=True)
    assert "countersigned and recorded" in response.content.decode()
    assert participant.consents.get().signer_role == "surrogate"


def test_site_staff_not_delegated_to_obtain_consent_cannot_invite(world, surrogate):
    from regulatory.models import Role
    from regulatory.tests.factories import make_member

    nurse = make_member("nurse-remote", role=Role.COORDINATOR, trial=world.trial, site=world.site_a)
    with pytest.raises(ValidationError, match="delegation|délégation"):
        remote.remote_invitation_create(actor=nurse, participant=new(world), version=surrogate, email=EMAIL)
    assert not RemoteConsentInvitation.objects.exists() and mail.outbox == []
