"""The whole consent ceremony (issue 17): every signer the form version asks for, in its order (impartial witness,
interpreter, the investigator's countersignature, possibly later), a decline by a required signer, comprehension
questions answered and discussed; bad input refused with nothing written."""

import datetime
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from consent import services
from consent.models import ConsentRecord, ConsentRecordRevision
from consent.selectors import recognise_pdf
from consent.services import ComprehensionInput, SignerInput
from consent.tests.factories import make_form, signature_png
from consent.tests.test_records import forms, new, record  # noqa: F401  (fixtures)
from consent.verification import verify_pdf
from regulatory.models import AuditEntry
from regulatory.tests.factories import PASSWORD

SIGNERS = [
    ("signer", {"role": "participant", "requirement": "required", "later_within_hours": None}),
    ("signer", {"role": "impartial_witness", "requirement": "if_cannot_read", "later_within_hours": None}),
    ("signer", {"role": "interpreter", "requirement": "optional", "later_within_hours": None}),
    ("signer", {"role": "investigator", "requirement": "required", "later_within_hours": 48}),
]
QUESTIONS = [("question", {"question": "Pouvez-vous arrêter l'étude à tout moment ?",
                           "choices": ["Oui, sans conséquence sur mes soins", "Non"], "right_answer": 1,
                           "explanation": "Vous pouvez arrêter à tout moment, sans avoir à vous justifier."})]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def ceremony_form(world, forms):  # noqa: F811  (replaces the patient form in force at DIJ)
    version = make_form(trial=world.trial, kind="patient", number="1.1", signers=SIGNERS, comprehension=QUESTIONS)
    services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=2))
    return version


def ago(minutes):
    return timezone.now() - datetime.timedelta(minutes=minutes)


def witness(at=None, **kw):
    return SignerInput(**{"role": "impartial_witness", "present": True, "name": "Marc Témoin",
                          "signed_at": at or ago(50), "signature_png": signature_png(), **kw})


def interpreter(at=None, **kw):
    return SignerInput(role="interpreter", present=True, name="Samira Interprète", language="arabe",
                       signed_at=at or ago(45), signature_png=signature_png(), **kw)


RIGHT = {0: ComprehensionInput(attempts=[0])}


def ceremony(world, participant, version, *, actor=None, others=None, answers=RIGHT, **kw):
    return record(world, participant, version, actor=actor, signed_at=ago(60), others=others or {},
                  comprehension=answers, **kw)


def pdf_text(record_, tmp_path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(record_.pdf.read())
    return " ".join(subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                                   text=True).stdout.split())


def test_witness_and_interpreter_sign_in_order_and_are_on_the_record_and_the_pdf(world, ceremony_form, tmp_path):
    participant = new(world)
    consent = ceremony(world, participant, ceremony_form, cannot_read=True,
                       others={"impartial_witness": witness(), "interpreter": interpreter()})
    assert consent.outcome == "consented" and consent.countersigned_by == world.investigator_a
    assert [(s["role"], s["decision"]) for s in consent.ceremony] == [
        ("participant", "signed"), ("impartial_witness", "signed"), ("interpreter", "signed"),
        ("investigator", "signed")]
    assert consent.ceremony[2]["language"] == "arabe" and consent.signer_cannot_read
    participant.refresh_from_db()
    assert participant.status == "included"
    text = pdf_text(consent, tmp_path)
    for words in ("Témoin impartial", "Marc Témoin", "Interprète", "arabe", "contresignature de l'investigateur",
                  "Questions de compréhension", "Pouvez-vous arrêter l'étude", "Europe/Paris"):
        assert words in text, words


@pytest.mark.parametrize("others, cannot_read, message", [
    ({}, True, "impartial witness is missing"),
    ({"impartial_witness": witness(at=ago(70))}, True, "out of order"),
    ({"impartial_witness": witness(at=timezone.now() + datetime.timedelta(hours=2))}, True, "in the future"),
    ({"impartial_witness": witness(), "interpreter": interpreter(at=ago(55))}, True, "out of order"),
    ({"interpreter": SignerInput(role="interpreter", present=True, name="X", signed_at=ago(40),
                                 signature_png=signature_png())}, False, "language"),
    ({"impartial_witness": SignerInput(role="impartial_witness", present=True, name="W", signed_at=ago(40))}, True,
     "hand signature is missing"),
])
def test_bad_ceremonies_are_refused_and_nothing_is_written(world, ceremony_form, others, cannot_read, message):
    participant = new(world)
    with pytest.raises(ValidationError, match=message):
        ceremony(world, participant, ceremony_form, cannot_read=cannot_read, others=others)
    assert not ConsentRecord.objects.exists()
    participant.refresh_from_db()
    assert participant.status == "screening"


def test_a_required_witness_who_declines_ends_the_ceremony_as_declined(world, ceremony_form, tmp_path):
    participant = new(world)
    consent = ceremony(world, participant, ceremony_form, cannot_read=True,
                       others={"impartial_witness": witness(declined=True, present=False)})
    assert consent.outcome == ConsentRecord.Outcome.DECLINED
    assert "Marc Témoin" in consent.declined_by and consent.declined_at is not None
    participant.refresh_from_db()
    assert participant.status == "screening" and participant.included_at is None  # never looks like a consent
    assert "Cérémonie interrompue" in pdf_text(consent, tmp_path)


def test_a_wrong_answer_must_be_discussed_before_signing(world, ceremony_form, tmp_path):
    participant = new(world)
    with pytest.raises(ValidationError, match="answered wrongly"):
        ceremony(world, participant, ceremony_form, answers={0: ComprehensionInput(attempts=[1, 0])})
    with pytest.raises(ValidationError, match="not answered"):
        ceremony(world, participant, ceremony_form, answers={})
    assert not ConsentRecord.objects.exists()
    consent = ceremony(world, participant, ceremony_form,
                       answers={0: ComprehensionInput(attempts=[1, 0], discussed=True)})
    question = consent.comprehension[0]
    assert question["attempts"] == ["Non", "Oui, sans conséquence sur mes soins"]
    assert question["wrong_attempts"] == 1 and question["discussed"] and question["final_correct"]
    text = pdf_text(consent, tmp_path)
    for words in ("Questions de compréhension", "« Non »", "erronée", "discutée"):
        assert words in text, words


def test_a_coordinators_consent_awaits_the_countersignature_and_is_no_consent_until_then(world, ceremony_form,
                                                                                          tmp_path):
    from consent.fhir import mapping

    participant = new(world)
    consent = ceremony(world, participant, ceremony_form, actor=world.coordinator_a)
    assert consent.outcome == ConsentRecord.Outcome.PENDING and consent.countersigned_at is None
    assert consent.countersignature_due_by == consent.signed_at + datetime.timedelta(hours=48)
    participant.refresh_from_db()
    assert participant.status == "screening"
    fhir = mapping.consent(ConsentRecord.objects.select_related("participant__site", "version").get(),
                           nct=world.trial.nct_number)
    assert fhir["status"] == "draft" and "decision" not in fhir
    first_pdf = consent.pdf.read()
    # Nobody records another consent meanwhile; a coordinator may not countersign.
    with pytest.raises(ValidationError, match="awaits the investigator's countersignature"):
        ceremony(world, participant, ceremony_form, actor=world.coordinator_a, expected=1)
    with pytest.raises(ValidationError, match="Only an investigator"):
        services.consent_countersign(actor=world.coordinator_a, record=consent, username="coordinator-a",
                                     password=PASSWORD)
    with pytest.raises(ValidationError, match="password"):
        services.consent_countersign(actor=world.investigator_a, record=consent, username="investigator-a",
                                     password="wrong")
    consent.refresh_from_db()
    assert consent.outcome == "pending" and not ConsentRecordRevision.objects.exists()

    done = services.consent_countersign(actor=world.investigator_a, record=consent, username="investigator-a",
                                        password=PASSWORD)
    assert done.outcome == "consented" and done.countersigned_by == world.investigator_a
    participant.refresh_from_db()
    assert participant.status == "included"
    second_pdf = done.pdf.read()
    assert second_pdf.startswith(first_pdf)  # an incremental update: the first revision kept byte for byte
    report = verify_pdf(second_pdf)
    assert report.valid, report.problems
    assert verify_pdf(first_pdf).valid
    assert recognise_pdf(first_pdf).matched or recognise_pdf(first_pdf).record is not None
    assert recognise_pdf(second_pdf).valid_and_matched
    assert AuditEntry.objects.filter(action="consent.countersigned", object_id=str(done.pk)).exists()
    with pytest.raises(ValidationError, match="does not await"):
        services.consent_countersign(actor=world.investigator_a, record=done, username="investigator-a",
                                     password=PASSWORD)


def test_a_late_countersignature_is_refused_but_may_be_declined(world, ceremony_form):
    participant = new(world)
    consent = ceremony(world, participant, ceremony_form, actor=world.coordinator_a)
    with pytest.raises(ValidationError, match="Too late"):
        _late(world, consent)
    consent.refresh_from_db()
    assert consent.outcome == "pending"
    declined = services.consent_countersign(actor=world.investigator_a, record=consent, username="investigator-a",
                                            password=PASSWORD, decline=True, reason="Consentement non valable")
    assert declined.outcome == "declined" and "contresignature" in declined.declined_by
    assert verify_pdf(declined.pdf.read()).valid


def _late(world, consent):
    """Move the record's deadline into the past (the clock cannot be moved), then countersign now."""
    ConsentRecord.objects.filter(pk=consent.pk).update(countersignature_due_by=timezone.now()
                                                       - datetime.timedelta(minutes=1))
    consent.refresh_from_db()
    services.consent_countersign(actor=world.investigator_a, record=consent, username="investigator-a",
                                 password=PASSWORD)


def test_the_tablet_collects_each_signer_and_the_answers_and_refuses_a_missing_one(world, ceremony_form, as_user):
    import html

    from consent.tests.test_record_views import consent_post, drawn

    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    client = as_user(world.investigator_a)
    url = f"/nct07063680/sites/dij/participants/{participant.code}/consent/{ceremony_form.pk}/"
    page = html.unescape(client.get(url).content.decode())
    assert "Pouvez-vous arrêter l'étude" in page and 'name="impartial_witness_name"' in page
    assert 'name="interpreter_language"' in page and "data-signature-part" in page
    moment = timezone.localtime(ago(5)).strftime("%Y-%m-%dT%H:%M")
    data = consent_post(ceremony_form, participant, username="investigator-a", signed_at=moment, cannot_read="on",
                        question_0="1", question_0_attempts="1")
    response = client.post(url, data)  # no witness, a wrong answer not discussed
    assert response.status_code == 400 and not ConsentRecord.objects.exists()
    assert "a reçu une réponse fausse" in html.unescape(response.content.decode())  # the page is French first
    data |= {"question_0": "0", "question_0_attempts": "1,0", "question_0_discussed": "on"}
    response = client.post(url, data)
    assert response.status_code == 400 and "Il manque le témoin impartial" in html.unescape(response.content.decode())
    data |= {"impartial_witness_present": "on", "impartial_witness_name": "Marc Témoin",
             "impartial_witness_at": moment, "impartial_witness_drawn": drawn()}
    response = client.post(url, data)
    assert response.status_code == 302, html.unescape(response.content.decode())[:3000]
    consent = ConsentRecord.objects.get()
    assert [s["role"] for s in consent.ceremony] == ["participant", "impartial_witness", "investigator"]
    assert consent.comprehension[0]["wrong_attempts"] == 1 and consent.outcome == "consented"


def test_a_coordinator_cannot_countersign_through_the_page_and_nothing_is_written(world, ceremony_form, as_user):
    participant = new(world)
    consent = ceremony(world, participant, ceremony_form, actor=world.coordinator_a)
    base = f"/nct07063680/sites/dij/participants/{participant.code}"
    coordinator = as_user(world.coordinator_a)
    assert "attend la contresignature" in coordinator.get(f"{base}/").content.decode().replace("&#x27;", "'")
    response = coordinator.post(f"{base}/consents/1/countersign/", {
        "username": "coordinator-a", "password": PASSWORD, "decision": "sign"}, follow=True)
    assert "Seul un investigateur de DIJ peut contresigner" in response.content.decode()
    consent.refresh_from_db()
    assert consent.outcome == "pending" and not ConsentRecordRevision.objects.exists()
    investigator = as_user(world.investigator_a)
    response = investigator.post(f"{base}/consents/1/countersign/", {
        "username": "investigator-a", "password": PASSWORD, "decision": "sign"})
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.outcome == "consented" and ConsentRecordRevision.objects.filter(record=consent).count() == 1


def test_the_sites_zip_says_a_pending_ceremony_is_not_a_consent(world, ceremony_form):
    import csv
    import io
    import zipfile

    from consent.export import write_zip

    participant = new(world)
    ceremony(world, participant, ceremony_form, actor=world.coordinator_a)
    handle = io.BytesIO()
    with translation.override("fr"):
        write_zip(world.site_a, handle, language="fr")
    with zipfile.ZipFile(handle) as package:
        index = package.read("index.csv").decode("utf-8-sig")
        assert any(name.startswith(f"{participant.code}/") for name in package.namelist())
    rows = list(csv.reader(io.StringIO(index), delimiter=index[:200].count(";") and ";" or ","))
    assert any("pas encore un consentement" in cell for row in rows for cell in row)
