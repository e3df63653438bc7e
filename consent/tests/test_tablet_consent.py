"""The consent on the tablet (issue 13): the information note shown and read first, every statement, tick box and
blank of the version asked, recorded and printed; the signed PDF as answered; only what the pathway allows
offered; event dates that fit the participant's timeline; registration confirmed; registered in error."""

import datetime
import html
import re
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from consent import services
from consent.models import ConsentRecord, Participant
from consent.tablet_views import _information_token
from consent.tests.factories import make_form
from consent.tests.test_record_views import consent_post
from consent.tests.test_records import forms, new, record  # noqa: F401  (fixtures)
from regulatory.models import AuditEntry

BASE = "/nct07063680/sites"

RESULTS = "Je souhaite être informé(e) des résultats globaux de l'étude."
FULL_CONSENT = [
    ("heading", {"text": "Consentement", "level": 1}),
    ("consent_statement", {"text": "J'accepte de participer.", "accept_label": "J'accepte",
                           "refuse_label": "Je n'accepte pas", "mandatory": True}),
    ("consent_statement", {"text": "J'accepte d'être recontacté(e) pour une autre étude.", "accept_label": "Oui",
                           "refuse_label": "Non", "mandatory": False}),
    ("checkbox", {"text": RESULTS}),
    ("fill_in", {"label": "Code participant"}),
    ("signature", {"role": "participant", "label": "Le patient"}),
    ("signature", {"role": "investigator", "label": "L'investigateur"}),
]
NOTE = "Pourquoi cette étude ? Une phrase que seule la note d'information contient."


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def full_form(world, forms):  # noqa: F811  (replaces the patient form in force at DIJ)
    version = make_form(trial=world.trial, kind="patient", number="1.1", consent=FULL_CONSENT,
                        information=[("paragraph", f"<p>{NOTE}</p>")])
    services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=2))
    return version


def pdf_text(record_, tmp_path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(record_.pdf.read())
    return " ".join(subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                                   text=True).stdout.split())


def test_every_statement_tick_box_and_blank_is_recorded_and_printed_as_answered(world, full_form, tmp_path):
    participant = new(world)
    shown = timezone.now() - datetime.timedelta(minutes=20)
    consent = record(world, participant, full_form, ticks={0: True}, fills={0: participant.code},
                     information_shown_at=shown, information_seconds=154)
    kinds = [(s["type"], s["answer"]) for s in consent.statements]
    assert kinds == [("statement", "accept"), ("statement", "accept"), ("checkbox", "accept"),
                     ("fill_in", participant.code)]
    assert consent.statements[2]["label"] == "Coché"  # in the form's language, whatever the screen's
    assert consent.information_shown_at == shown and consent.information_seconds == 154
    entry = AuditEntry.objects.get(action="consent.recorded", object_id=str(consent.pk))
    assert entry.changes["information_seconds"] == [None, 154]
    text = pdf_text(consent, tmp_path)
    assert RESULTS in text and NOTE in text and "2 min 34 s" in text and "Coché" not in text
    # The consent part is the one answered and signed, not a blank paper form to fill in.
    for blank in ("Nom et prénom", "Date (jj/mm/aaaa)", "Heure (hh:mm)"):
        assert blank not in text, blank
    assert "Consentement recueilli par" in text and f"Participant {participant.code}" in text


def test_a_tick_box_left_empty_is_recorded_as_such_and_the_note_not_shown_is_said(world, full_form, tmp_path):
    participant = new(world)
    consent = record(world, participant, full_form)
    assert [s["label"] for s in consent.statements if s["type"] == "checkbox"] == ["Non coché"]
    assert consent.information_shown_at is None
    assert "non affichée sur l'écran de recueil" in pdf_text(consent, tmp_path)


def test_the_reading_time_is_bounded_by_the_time_since_the_note_was_shown(world, full_form):
    shown = timezone.now() - datetime.timedelta(minutes=5)
    consent = record(world, new(world), full_form, information_shown_at=shown, information_seconds=10 ** 6)
    assert 290 <= consent.information_seconds <= 300 + 3600  # at most the time elapsed since it was shown
    assert consent.information_seconds < 10 ** 6
    future = record(world, new(world), full_form, information_shown_at=timezone.now() + datetime.timedelta(hours=1),
                    information_seconds=30)
    assert future.information_shown_at is None and future.information_seconds is None


def test_the_tablet_shows_the_note_then_asks_every_block_and_records_the_display(world, full_form, as_user):
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/consent/{full_form.pk}/"
    page = html.unescape(client.get(url).content.decode())
    assert NOTE in page and "data-information-note" in page and RESULTS in page
    assert 'name="tick_0"' in page and 'name="fill_0"' in page and 'name="statement_1"' in page
    assert f'value="{participant.code}"' in page  # the participant's code blank is filled in for the recorder
    token = re.search(r'name="information_token" value="([^"]+)"', page).group(1)
    data = consent_post(full_form, participant, statement_1="refuse", tick_0="on", fill_0=participant.code,
                        information_token=token, information_seconds="95")
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    consent = ConsentRecord.objects.get()
    assert consent.information_shown_at is not None and consent.information_seconds is not None
    assert [s["answer"] for s in consent.statements] == ["accept", "refuse", "accept", participant.code]


def test_a_forged_or_borrowed_display_token_records_no_display(world, full_form, forms, as_user):  # noqa: F811
    first, second = (services.participant_create(actor=world.coordinator_a, site=world.site_a) for _ in range(2))
    client = as_user(world.coordinator_a)
    borrowed = _information_token(first, full_form)  # another participant's page
    for participant, token in ((first, "forged:token"), (second, borrowed)):
        url = f"{BASE}/dij/participants/{participant.code}/consent/{full_form.pk}/"
        response = client.post(url, consent_post(full_form, participant, statement_1="accept",
                                                 information_token=token, information_seconds="60"))
        assert response.status_code == 302
        assert ConsentRecord.objects.get(participant=participant).information_shown_at is None


def test_only_what_the_pathway_allows_is_offered_and_the_rest_is_explained(world, forms, as_user):  # noqa: F811
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    client = as_user(world.investigator_a)
    detail = f"{BASE}/dij/participants/{participant.code}/"
    page = html.unescape(client.get(detail).content.decode())
    continuation = f"/consent/{forms['continuation'].pk}/"
    assert continuation not in page  # not yet included: no continuation form to fill
    assert "Non proposé pour l'instant" in page and "Le consentement de poursuite suit une inclusion" in page
    response = client.get(detail.rstrip("/") + continuation)
    assert response.status_code == 403 and b"name=\"password\"" not in response.content
    record(world, participant, forms["surrogate"])
    page = html.unescape(client.get(detail).content.decode())
    assert continuation in page and f"/consent/{forms['emergency'].pk}/" not in page
    assert "L'inclusion en urgence" in page and "pas encore inclus" in page


def test_a_date_of_death_before_registration_is_refused_and_nothing_written(world, forms, as_user):  # noqa: F811
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    with pytest.raises(ValidationError, match="before the registration"):
        services.participant_record_death(actor=world.investigator_a, participant=participant,
                                          died_at=timezone.make_aware(datetime.datetime(2001, 5, 1, 12)))
    response = as_user(world.coordinator_a).post(f"{BASE}/dij/participants/{participant.code}/death/",
                                                 {"died_at": "2001-05-01T12:00"}, follow=True)
    assert "ne correspond pas au parcours du participant" in html.unescape(response.content.decode())
    participant.refresh_from_db()
    assert participant.status == "screening" and participant.ended_at is None
    assert not AuditEntry.objects.filter(action="participant.deceased").exists()


def test_death_and_withdrawal_never_before_the_last_consent(world, forms):  # noqa: F811
    participant = new(world)
    record(world, participant, forms["patient"], signed_at=timezone.now() - datetime.timedelta(hours=1))
    with pytest.raises(ValidationError, match="before the inclusion"):
        services.participant_record_death(actor=world.investigator_a, participant=participant,
                                          died_at=timezone.now() - datetime.timedelta(hours=3))
    with pytest.raises(ValidationError, match="before the inclusion"):
        services.participant_withdraw(actor=world.coordinator_a, participant=participant, scope="follow_up",
                                      reason="Retrait oral", at=timezone.now() - datetime.timedelta(hours=2))
    participant.refresh_from_db()
    assert participant.status == "included"
    services.participant_withdraw(actor=world.coordinator_a, participant=participant, scope="follow_up",
                                  reason="Retrait oral", at=timezone.now() - datetime.timedelta(minutes=10))
    participant.refresh_from_db()
    assert participant.status == "withdrawn" and participant.ended_at < timezone.now()


def test_a_consent_before_the_inclusion_is_refused(world, forms):  # noqa: F811
    participant = new(world)
    record(world, participant, forms["surrogate"], signed_at=timezone.now() - datetime.timedelta(hours=1))
    with pytest.raises(ValidationError, match="before the inclusion"):
        record(world, participant, forms["continuation"], signed_at=timezone.now() - datetime.timedelta(hours=5))
    assert participant.consents.count() == 1


def test_registering_asks_for_confirmation(world, forms, as_user):  # noqa: F811
    client = as_user(world.coordinator_a)
    response = client.post(f"{BASE}/dij/participants/")
    assert response.status_code == 200 and not Participant.objects.exists()
    assert "DIJ-0001" in response.content.decode() and 'name="confirm"' in response.content.decode()
    response = client.post(f"{BASE}/dij/participants/", {"confirm": "yes"})
    assert response.status_code == 302 and Participant.objects.get().code == "DIJ-0001"


def test_a_participant_registered_in_error_is_marked_with_the_reason_and_the_code_not_reused(world, forms, as_user):  # noqa: F811,E501
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    client = as_user(world.coordinator_a)
    url = f"{BASE}/dij/participants/{participant.code}/not-included/"
    client.post(url, {"status": "registered_in_error", "reason": ""})
    participant.refresh_from_db()
    assert participant.status == "screening"
    client.post(url, {"status": "registered_in_error", "reason": "Doublon : patient déjà inscrit sous DIJ-0000"})
    participant.refresh_from_db()
    assert participant.status == "registered_in_error" and participant.end_reason.startswith("Doublon")
    entry = AuditEntry.objects.get(action="participant.registered_in_error")
    assert entry.reason.startswith("Doublon") and entry.changes["status"] == ["screening", "registered_in_error"]
    assert services.participant_create(actor=world.coordinator_a, site=world.site_a).code == "DIJ-0002"
    with pytest.raises(ValidationError):  # nothing new for it
        record(world, participant, forms["patient"])


def test_screen_failure_only_before_inclusion(world, forms):  # noqa: F811
    included = new(world)
    record(world, included, forms["patient"])
    with pytest.raises(ValidationError, match="not yet included"):
        services.participant_close_screening(actor=world.coordinator_a, participant=included,
                                             status="screen_failure", reason="Critère d'exclusion")
    refused = new(world)
    record(world, refused, forms["patient"], outcome="refused")
    screening = new(world)
    services.participant_close_screening(actor=world.coordinator_a, participant=screening, status="screen_failure",
                                         reason="Sodium à 118 mmol/l")
    screening.refresh_from_db()
    assert screening.status == "screen_failure" and not screening.is_active


def test_an_emergency_attestation_does_not_hold_the_investigator_on_the_note(world, forms, as_user):  # noqa: F811
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    page = html.unescape(as_user(world.investigator_a).get(
        f"{BASE}/dij/participants/{participant.code}/consent/{forms['emergency'].pk}/").content.decode())
    assert "data-information-note" not in page and '<details class="information-note">' in page
    assert re.search(r'name="information_token" value=""|name="information_token"(?! value)', page)
