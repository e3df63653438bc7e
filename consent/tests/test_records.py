"""Consent records through the services: the pathway, re-consent, signed PDFs, and all-or-nothing writes."""

import datetime
import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from consent import services
from consent.models import ConsentRecord, ConsentTask, Participant
from consent.pki import ensure_identities
from consent.services import records as record_services
from consent.tests.factories import make_form, signature_png
from regulatory.models import AuditEntry
from regulatory.tests.factories import PASSWORD
from tests.sharing import shared_fixture


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@shared_fixture
def forms(world):
    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ", "LIL"])
    start = timezone.now() - datetime.timedelta(days=40)
    made = {}
    for kind in ("patient", "surrogate", "emergency", "continuation"):
        made[kind] = make_form(trial=world.trial, kind=kind)
        services.form_make_effective(actor=world.sponsor, version=made[kind], sites=[world.site_a, world.site_b],
                                     effective_from=start)
    return made


def record(world, participant, version, *, outcome="consented", actor=None, signed_at=None, username=None,
           password=PASSWORD, expected=None, **fields):
    answers = {0: "accept" if outcome == "consented" else "refuse"} if version.kind != "emergency" else {}
    statements = [b for b in version.consent.raw_data if b["type"] == "consent_statement"]
    answers = {i: answers.get(0, "accept") for i in range(len(statements))}
    defaults = {"signature_png": None if version.kind == "emergency" else signature_png(),
                "signature_source": "none" if version.kind == "emergency" else "drawn"}
    if version.kind == "surrogate":
        defaults.update(surrogate_relationship="fille", independence_attested=True)
    if version.kind == "emergency":
        defaults.update(emergency_conditions_attested=True, no_prior_objection_attested=True)
    defaults.update(fields)
    data = services.ConsentInput(version=version, signed_at=signed_at or timezone.now() - datetime.timedelta(hours=1),
                                 outcome=outcome, answers=answers, **defaults)
    actor = actor or world.investigator_a
    return services.consent_record_create(
        actor=actor, participant=participant, data=data,
        username=actor.get_username() if username is None else username, password=password,
        expected_sequence=participant.consents.count() if expected is None else expected)


def new(world, site=None):
    return services.participant_create(actor=world.coordinator_a if site is None else world.coordinator_b,
                                       site=site or world.site_a)


def test_codes_are_allocated_per_site_without_gaps(world):
    codes = [new(world).code for _ in range(3)] + [new(world, world.site_b).code]
    assert codes == ["DIJ-0001", "DIJ-0002", "DIJ-0003", "LIL-0001"]


@pytest.mark.parametrize("persona", ["sponsor", "inspector", "coordinator_b", "admin"])
def test_only_the_sites_staff_register_participants(world, persona):
    with pytest.raises(PermissionDenied):
        services.participant_create(actor=getattr(world, persona), site=world.site_a)
    assert not Participant.objects.exists()


def test_patient_consent_includes_and_signs_a_pdf(world, forms, tmp_path):
    participant = new(world)
    consent = record(world, participant, forms["patient"])
    participant.refresh_from_db()
    assert participant.status == "included" and participant.inclusion_path == "patient"
    data = consent.pdf.read()
    assert data.startswith(b"%PDF") and consent.pdf_sha256 == __import__("hashlib").sha256(data).hexdigest()
    path = tmp_path / "consent.pdf"
    path.write_bytes(data)
    out = io.StringIO()
    call_command("verify_pdf", str(path), stdout=out)
    assert "consent record DIJ-0001 #1" in out.getvalue()
    assert AuditEntry.objects.filter(action="consent.recorded", actor=world.investigator_a).exists()


def test_the_pdf_carries_version_text_manifestations_and_link(world, forms, tmp_path):
    import subprocess

    participant = new(world)
    consent = record(world, participant, forms["surrogate"], witness_name="Marc Témoin")
    path = tmp_path / "consent.pdf"
    path.write_bytes(consent.pdf.read())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    for expected in ("Noradrénaline ≥ 0,25 µg/kg/min", "DIJ-0001", "Signé par le proche (fille)",
                     "Consentement recueilli par", "Investigator-A Test", "Europe/Paris, UTC", "Marc Témoin",
                     f"/v/{consent.verification_token}/", "J'accepte de participer."):
        assert expected in text, expected
    assert "Signature is Valid." in subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout


def test_surrogate_then_continuation(world, forms):
    participant = new(world)
    surrogate = record(world, participant, forms["surrogate"])
    task = ConsentTask.objects.get(participant=participant, kind="continuation")
    assert task.due_at == surrogate.signed_at + datetime.timedelta(days=7)
    record(world, participant, forms["continuation"])
    task.refresh_from_db()
    assert task.closed_at is not None and task.closed_by_record.kind == "continuation"


def test_continuation_refused_ends_participation_with_the_objection(world, forms):
    participant = new(world)
    record(world, participant, forms["emergency"])
    with pytest.raises(ValidationError, match="objects"):
        record(world, participant, forms["continuation"], outcome="refused")
    record(world, participant, forms["continuation"], outcome="refused", objects_to_data_use=True)
    participant.refresh_from_db()
    assert participant.status == "withdrawn" and participant.objects_to_data_use is True
    assert not participant.tasks.filter(closed_at__isnull=True).exists()


def test_refusal_before_inclusion_ends_participation(world, forms):
    participant = new(world)
    record(world, participant, forms["patient"], outcome="refused")
    participant.refresh_from_db()
    assert participant.status == "withdrawn"
    with pytest.raises(ValidationError):
        record(world, participant, forms["surrogate"])


def test_withdrawal_keeps_data_and_blocks_anything_new(world, forms):
    participant = new(world)
    record(world, participant, forms["patient"])
    services.participant_withdraw(actor=world.coordinator_a, participant=participant, scope="follow_up",
                                  reason="Retrait oral auprès de l'infirmière")
    assert participant.consents.count() == 1
    with pytest.raises(ValidationError, match="no longer"):
        record(world, participant, forms["patient"])


def test_death_before_continuation_is_recorded_as_such(world, forms):
    participant = new(world)
    record(world, participant, forms["surrogate"])
    services.participant_record_death(actor=world.investigator_a, participant=participant,
                                      died_at=timezone.now() - datetime.timedelta(minutes=5))
    participant.refresh_from_db()
    assert participant.status == "deceased" and "before continuation" in participant.end_reason
    assert participant.tasks.get().closed_at is not None


@pytest.mark.parametrize("first,then", [("patient", "emergency"), ("patient", "continuation"),
                                        ("patient", "surrogate"), ("surrogate", "patient"),
                                        ("emergency", "emergency")])
def test_illegal_sequences_are_refused_with_a_message(world, forms, first, then):
    participant = new(world)
    record(world, participant, forms[first])
    entries = AuditEntry.objects.count()
    with pytest.raises(ValidationError):
        record(world, participant, forms[then])
    assert participant.consents.count() == 1 and AuditEntry.objects.count() == entries


def test_continuation_without_prior_inclusion_is_refused(world, forms):
    with pytest.raises(ValidationError, match="follows"):
        record(world, new(world), forms["continuation"])


def test_a_kind_the_protocol_does_not_allow_is_refused(world, forms):
    world.trial.allowed_consent_kinds = ["patient"]
    world.trial.save()
    with pytest.raises(ValidationError, match="does not allow"):
        record(world, new(world), forms["surrogate"])


def test_a_version_not_in_force_at_the_signing_time_is_refused_naming_the_current_one(world, forms):
    participant = new(world)
    v2 = make_form(trial=world.trial, number="2.0")
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=2))
    with pytest.raises(ValidationError, match="v2.0"):
        record(world, participant, forms["patient"])
    record(world, participant, forms["patient"], signed_at=timezone.now() - datetime.timedelta(days=3))


def test_signing_time_in_the_future_is_refused(world, forms):
    with pytest.raises(ValidationError, match="future"):
        record(world, new(world), forms["patient"], signed_at=timezone.now() + datetime.timedelta(minutes=5))


def test_a_wrong_password_records_nothing(world, forms):
    participant = new(world)
    with pytest.raises(ValidationError, match="password"):
        record(world, participant, forms["patient"], password="wrong")
    assert not ConsentRecord.objects.exists()
    assert AuditEntry.objects.filter(action="auth.login_failed", object_repr="investigator-a").exists()


@pytest.mark.parametrize("typed", ["", "  ", "Investigator-A", "coordinator-a", "investigator-a\x00"])
def test_the_user_name_is_the_other_component_asked_at_each_signing(world, forms, typed):
    """21 CFR 11.200(a)(1): the user name and the password, typed again every time. Another user's name with that
    user's right password is refused too, audited as a failed login of the account that tried to sign, and the
    password is not even tried."""
    participant = new(world)
    entries, files = AuditEntry.objects.count(), set(_consent_files())
    password = PASSWORD  # coordinator-a's password too: the pair is right, but not the logged-in account's
    with pytest.raises(ValidationError, match="user name or password is not correct"):
        record(world, participant, forms["patient"], username=typed, password=password)
    participant.refresh_from_db()
    assert not ConsentRecord.objects.exists() and participant.status == "screening"
    assert set(_consent_files()) == files
    assert AuditEntry.objects.count() == entries + 1  # the failure, and nothing else
    failure = AuditEntry.objects.order_by("-pk").first()
    assert failure.action == "auth.login_failed" and failure.object_repr == "investigator-a"
    assert failure.actor == world.investigator_a and "user name" in failure.reason
    # With the whitespace a keyboard adds around it, the right name still signs.
    assert record(world, participant, forms["patient"], username=" investigator-a ").outcome == "consented"


def test_wrong_user_names_at_signing_count_towards_the_login_throttle(world, forms):
    participant = new(world)
    for _ in range(settings.LOGIN_THROTTLE["FREE_FAILURES"] + 1):
        with pytest.raises(ValidationError, match="not correct"):
            record(world, participant, forms["patient"], username="someone-else")
    assert record_services.signing_suspended(world.investigator_a)
    with pytest.raises(ValidationError, match="signing is suspended"):
        record(world, participant, forms["patient"])
    assert not ConsentRecord.objects.exists()


def test_a_double_submit_is_refused(world, forms):
    participant = new(world)
    record(world, participant, forms["patient"], expected=0)
    with pytest.raises(ValidationError, match="changed"):
        record(world, participant, forms["patient"], expected=0)
    assert participant.consents.count() == 1


def test_mandatory_statement_refused_cannot_be_a_consent(world, forms):
    participant = new(world)
    version = forms["patient"]
    data = services.ConsentInput(version=version, signed_at=timezone.now(), outcome="consented", answers={0: "refuse"},
                                 signature_png=signature_png(), signature_source="drawn")
    with pytest.raises(ValidationError, match="mandatory"):
        services.consent_record_create(actor=world.investigator_a, participant=participant, data=data,
                                       username="investigator-a", password=PASSWORD, expected_sequence=0)


def test_surrogate_needs_relationship_and_independence(world, forms):
    with pytest.raises(ValidationError, match="independent"):
        record(world, new(world), forms["surrogate"], independence_attested=False)


def test_emergency_needs_both_attestations(world, forms):
    with pytest.raises(ValidationError, match="emergency"):
        record(world, new(world), forms["emergency"], no_prior_objection_attested=False)


def test_a_hand_signature_is_required_except_for_emergency(world, forms):
    with pytest.raises(ValidationError, match="signature"):
        record(world, new(world), forms["patient"], signature_png=None)


def test_reconsent_tasks_follow_a_new_version_and_close_on_consent(world, forms):
    included = new(world)
    record(world, included, forms["patient"])
    refused = new(world)
    record(world, refused, forms["patient"], outcome="refused")
    v2 = make_form(trial=world.trial, number="2.0")
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(minutes=30))
    task = ConsentTask.objects.get(kind="reconsent")
    assert task.participant == included and task.target_version == v2
    record(world, included, v2, signed_at=timezone.now() - datetime.timedelta(minutes=1))
    task.refresh_from_db()
    assert task.closed_at is not None


def test_withdrawing_the_version_asked_for_closes_its_reconsent_tasks(world, forms):
    from consent import selectors

    included = new(world)
    record(world, included, forms["patient"])
    v2, v3 = make_form(trial=world.trial, number="2.0"), make_form(trial=world.trial, number="3.0")
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(minutes=30))
    assert [t.target_version for t in selectors.open_tasks(site=world.site_a)] == [v2]
    services.form_withdraw(actor=world.sponsor, version=v2, reason="Erreur de traduction")
    task = ConsentTask.objects.get(kind="reconsent")
    assert task.closed_at is not None and task.closed_reason == "version withdrawn"
    assert selectors.open_tasks(site=world.site_a) == []
    entry = AuditEntry.objects.get(action="consentform.withdrawn", object_id=str(v2.pk))
    assert entry.changes["reconsent_tasks_closed"] == [None, 1]
    services.form_make_effective(actor=world.sponsor, version=v3, sites=[world.site_a], effective_from=timezone.now())
    assert [t.target_version for t in selectors.open_tasks(site=world.site_a)] == [v3]


def test_scheduling_a_later_version_keeps_the_reconsent_due_now_then_asks_for_the_later_one(world, forms):
    """A re-consent due on the version in force is neither hidden nor postponed when the sponsor schedules the next
    version; consenting on the one in force opens the task for the scheduled one, from its start."""
    from consent import selectors

    included = new(world)
    record(world, included, forms["patient"], signed_at=timezone.now() - datetime.timedelta(days=2))
    v2, v3 = make_form(trial=world.trial, number="2.0"), make_form(trial=world.trial, number="3.0")
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=1))
    due_on_v2 = ConsentTask.objects.get(kind="reconsent")
    v3_starts = timezone.now() + datetime.timedelta(days=7)
    services.form_make_effective(actor=world.sponsor, version=v3, sites=[world.site_a], effective_from=v3_starts)
    [task] = selectors.open_tasks(site=world.site_a)
    assert (task.pk, task.target_version, task.due_at) == (due_on_v2.pk, v2, due_on_v2.due_at)
    record(world, included, v2, signed_at=timezone.now() - datetime.timedelta(minutes=5))
    assert selectors.open_tasks(site=world.site_a) == []
    [task] = selectors.open_tasks(site=world.site_a, at=v3_starts)
    assert task.target_version == v3 and task.opens_at == v3_starts
    services.form_withdraw(actor=world.sponsor, version=v3, reason="Avis défavorable")
    assert selectors.open_tasks(site=world.site_a, at=v3_starts) == []  # v2 stays in force: nothing more to do


def test_withdrawing_a_scheduled_version_gives_the_reinstated_ones_reconsent_back(world, forms):
    """Two versions scheduled in turn: the participant's task moved to the later one; withdrawing it puts the
    earlier one back in force and the task with it."""

    included = new(world)
    record(world, included, forms["patient"])
    v2, v3 = make_form(trial=world.trial, number="2.0"), make_form(trial=world.trial, number="3.0")
    v2_starts, v3_starts = (timezone.now() + datetime.timedelta(days=d) for d in (3, 10))
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a], effective_from=v2_starts)
    services.form_make_effective(actor=world.sponsor, version=v3, sites=[world.site_a], effective_from=v3_starts)
    assert ConsentTask.objects.get(kind="reconsent", closed_at=None).target_version == v3
    services.form_withdraw(actor=world.sponsor, version=v3, reason="Avis défavorable")
    task = ConsentTask.objects.get(kind="reconsent", closed_at=None)
    assert (task.target_version, task.opens_at) == (v2, v2_starts)
    assert task.due_at == v2_starts + datetime.timedelta(days=world.trial.reconsent_deadline_days)


def test_to_do_list_shows_overdue_first(world, forms):
    from consent import selectors

    late, early = new(world), new(world)
    record(world, late, forms["surrogate"], signed_at=timezone.now() - datetime.timedelta(days=10))
    record(world, early, forms["emergency"], signed_at=timezone.now() - datetime.timedelta(hours=2))
    tasks = selectors.open_tasks(site=world.site_a)
    assert [t.participant.code for t in tasks] == [late.code, early.code]
    assert tasks[0].due_at < timezone.now() < tasks[1].due_at


def test_a_failure_while_signing_leaves_no_record_and_no_file(world, forms, settings, tmp_path):
    participant = new(world)
    before = set(_consent_files())
    settings.TRIALDOCS_PKI_DIR = tmp_path / "no-pki"
    with pytest.raises(Exception):  # noqa: B017  (SigningUnavailable, whatever the signing layer raises)
        record(world, participant, forms["patient"])
    assert not ConsentRecord.objects.exists() and set(_consent_files()) - before == set()  # none left by this attempt
    participant.refresh_from_db()
    assert participant.status == "screening"


def test_a_failure_while_saving_removes_the_written_file(world, forms, monkeypatch):
    participant = new(world)
    before = set(_consent_files())

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("regulatory.audit.record", broken)
    with pytest.raises(OSError):
        record(world, participant, forms["patient"])
    assert not ConsentRecord.objects.exists() and set(_consent_files()) - before == set()  # none left by this attempt


def _consent_files():
    folder = Path(settings.MEDIA_ROOT) / "signed" / "consents"
    return os.listdir(folder) if folder.exists() else []


def test_export_consent_pdf(world, forms, tmp_path):
    participant = new(world)
    consent = record(world, participant, forms["patient"])
    out = tmp_path / "out.pdf"
    call_command("export_consent_pdf", "--participant", participant.code, "--out", str(out), stdout=io.StringIO())
    assert __import__("hashlib").sha256(out.read_bytes()).hexdigest() == consent.pdf_sha256
    with pytest.raises(CommandError):
        call_command("export_consent_pdf", "--participant", "DIJ-9999", "--out", str(out), stdout=io.StringIO())


# --- Emergency attestation by the investigator only (EU CTR art. 35, CSP L1122-1-2) ---------------------------

def test_only_the_sites_investigator_attests_an_emergency_inclusion(world, forms):
    participant = new(world)
    entries, files = AuditEntry.objects.count(), set(_consent_files())
    with pytest.raises(ValidationError, match="Only an investigator of DIJ can attest an emergency inclusion"):
        record(world, participant, forms["emergency"], actor=world.coordinator_a)
    participant.refresh_from_db()
    assert participant.status == "screening" and not ConsentRecord.objects.exists()
    assert set(_consent_files()) == files
    # Refused before the password is even tried: no failed login counted, no entry at all.
    assert AuditEntry.objects.count() == entries
    with translation.override("fr"), pytest.raises(ValidationError, match="Seul un investigateur de DIJ"):
        record(world, participant, forms["emergency"], actor=world.coordinator_a)

    consent = record(world, participant, forms["emergency"], actor=world.investigator_a)
    assert consent.signer_role == "investigator" and consent.obtained_by_role == "Investigateur"
    assert record_services.is_site_investigator(world.investigator_a, world.site_a)
    assert not record_services.is_site_investigator(world.coordinator_a, world.site_a)
    assert not record_services.is_site_investigator(world.investigator_a, world.site_b)


def test_the_coordinator_still_records_every_other_kind(world, forms):
    participant = new(world)
    record(world, participant, forms["surrogate"], actor=world.coordinator_a)
    record(world, participant, forms["continuation"], actor=world.coordinator_a)
    assert participant.consents.count() == 2


# --- Continuation by a representative (EU CTR art. 35(2), CSP L1122-1-2) --------------------------------------

def representative(**fields):
    return {"signer_role": "representative", "surrogate_relationship": "fille", "independence_attested": True,
            "patient_unable_attested": True, **fields}


def test_a_representative_continues_for_a_patient_still_unable_then_the_patient_consents(world, forms):
    participant = new(world)
    emergency = record(world, participant, forms["emergency"], signed_at=timezone.now() - datetime.timedelta(days=3))
    deadline = ConsentTask.objects.get(participant=participant, kind="continuation")
    assert deadline.due_at == emergency.signed_at + datetime.timedelta(days=7)

    by_relative = record(world, participant, forms["continuation"], actor=world.coordinator_a,
                         signed_at=timezone.now() - datetime.timedelta(days=2), **representative())
    assert (by_relative.kind, by_relative.signer_role, by_relative.surrogate_relationship) == (
        "continuation", "representative", "fille")
    assert by_relative.patient_unable_attested and by_relative.independence_attested
    deadline.refresh_from_db()
    assert deadline.closed_by_record == by_relative  # the continuation deadline is met
    own = ConsentTask.objects.get(participant=participant, kind="patient_consent", closed_at__isnull=True)
    assert own.form_kind == "continuation" and own.opens_at == by_relative.signed_at
    assert own.due_at == by_relative.signed_at + datetime.timedelta(days=7)  # a reminder to reassess
    participant.refresh_from_db()
    assert participant.status == "included" and participant.inclusion_path == "emergency"
    entry = AuditEntry.objects.filter(action="consent.recorded").last()
    assert entry.changes["signer"] == [None, "representative"]

    by_patient = record(world, participant, forms["continuation"])
    own.refresh_from_db()
    assert own.closed_by_record == by_patient and by_patient.signer_role == "participant"
    assert not participant.tasks.filter(closed_at__isnull=True).exists()
    with pytest.raises(ValidationError, match="own continuation consent"):
        record(world, participant, forms["continuation"], **representative())


def test_a_representative_may_also_continue_after_a_surrogate_inclusion(world, forms):
    participant = new(world)
    record(world, participant, forms["surrogate"])
    record(world, participant, forms["continuation"], **representative(surrogate_relationship="époux"))
    assert participant.tasks.get(kind="continuation").closed_at is not None
    assert participant.tasks.get(kind="patient_consent").closed_at is None
    # The relative's own form (surrogate kind) may still be signed again on a newer version until the patient
    # consents; after the patient's continuation it may not.
    record(world, participant, forms["continuation"])
    with pytest.raises(ValidationError, match="no longer consents"):
        record(world, participant, forms["surrogate"])


@pytest.mark.parametrize("missing,message", [
    ({"patient_unable_attested": False}, "still unable to consent"),
    ({"surrogate_relationship": "  "}, "representative's relationship"),
    ({"independence_attested": False}, "representative must be independent"),
    ({"signer_role": "investigator"}, "Say who signs"),
], ids=["incapacity", "relationship", "independence", "signer"])
def test_a_representatives_continuation_needs_incapacity_relationship_and_independence(world, forms, missing,
                                                                                       message):
    participant = new(world)
    record(world, participant, forms["emergency"])
    entries = AuditEntry.objects.count()
    with pytest.raises(ValidationError, match=message):
        record(world, participant, forms["continuation"], **representative(**missing))
    assert participant.consents.count() == 1 and AuditEntry.objects.count() == entries
    assert participant.tasks.get().closed_at is None


def test_only_a_continuation_is_signed_by_a_representative(world, forms):
    with pytest.raises(ValidationError, match="Only a continuation consent"):
        record(world, new(world), forms["patient"], signer_role="representative")


def test_a_surrogate_form_after_an_emergency_points_to_the_continuation_by_a_representative(world, forms):
    participant = new(world)
    record(world, participant, forms["emergency"])
    with pytest.raises(ValidationError, match="use the continuation form, signed by the representative"):
        record(world, participant, forms["surrogate"])


def test_a_representatives_refusal_ends_participation_with_the_objection(world, forms):
    participant = new(world)
    record(world, participant, forms["emergency"])
    with pytest.raises(ValidationError, match="representative objects"):
        record(world, participant, forms["continuation"], outcome="refused", **representative())
    refusal = record(world, participant, forms["continuation"], outcome="refused", objects_to_data_use=False,
                     **representative())
    participant.refresh_from_db()
    assert participant.status == "withdrawn" and participant.objects_to_data_use is False
    assert "representative" in participant.end_reason and refusal.signer_role == "representative"
    assert not participant.tasks.filter(closed_at__isnull=True).exists()
    assert not participant.tasks.filter(kind="patient_consent").exists()  # nothing left to ask the patient
    with pytest.raises(ValidationError, match="no longer"):
        record(world, participant, forms["continuation"])


def test_death_after_a_representatives_continuation_is_recorded_as_such(world, forms):
    participant = new(world)
    record(world, participant, forms["emergency"])
    record(world, participant, forms["continuation"], **representative())
    services.participant_record_death(actor=world.investigator_a, participant=participant,
                                      died_at=timezone.now() - datetime.timedelta(minutes=5))
    participant.refresh_from_db()
    assert participant.status == "deceased" and "represent" in participant.end_reason
    assert not participant.tasks.filter(closed_at__isnull=True).exists()


def test_the_pdf_prints_who_signed_in_which_capacity(world, forms, tmp_path):
    import subprocess

    participant = new(world)
    record(world, participant, forms["emergency"])
    by_relative = record(world, participant, forms["continuation"], actor=world.coordinator_a, **representative())
    by_patient = record(world, participant, forms["continuation"])

    def text_of(consent):
        path = tmp_path / f"{consent.sequence}.pdf"
        path.write_bytes(consent.pdf.read())
        return " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout.split())

    relative = text_of(by_relative)
    for expected in ("Proche de DIJ-0001 (fille)", "Signé par le proche (fille), en qualité de représentant du "
                     "patient hors d'état de consentir", "Qualité du signataire", "représentant le patient encore "
                     "hors d'état de consentir", "Patient hors d'état de consentir attesté par Coordinator-A Test",
                     "Lien avec le participant fille", "Consentement recueilli par", "Coordinator-A Test"):
        assert expected in relative, expected
    patient = text_of(by_patient)
    assert "Participant DIJ-0001" in patient and "Signé par le participant" in patient
    assert "Le patient lui-même, en état de consentir" in patient and "Proche de" not in patient
    emergency = text_of(participant.consents.get(sequence=1))
    assert "L'investigateur, qui atteste l'inclusion en urgence" in emergency


# --- Signing re-authentication and the login throttle (21 CFR 11.200) -----------------------------------------

def test_signing_is_refused_while_the_login_throttle_is_in_force(world, forms, monkeypatch):
    from regulatory import accounts

    participant = new(world)
    for _ in range(settings.LOGIN_THROTTLE["FREE_FAILURES"] + 1):
        with pytest.raises(ValidationError, match="password is not correct"):
            record(world, participant, forms["patient"], password="wrong")
    failures = AuditEntry.objects.filter(action="auth.login_failed", object_repr="investigator-a").count()
    files = set(_consent_files())
    with pytest.raises(ValidationError, match="signing is suspended"):
        record(world, participant, forms["patient"])  # the right password, not even tried
    participant.refresh_from_db()
    assert not ConsentRecord.objects.exists() and participant.status == "screening"
    assert set(_consent_files()) == files
    assert AuditEntry.objects.filter(action="auth.login_failed").count() == failures
    refused = AuditEntry.objects.get(action="consent.signing_throttled")
    assert refused.actor == world.investigator_a and refused.object_repr == participant.code
    assert record_services.signing_suspended(world.investigator_a)
    # Per user: another member of the site still signs.
    record(world, participant, forms["patient"], actor=world.coordinator_a)
    assert ConsentRecord.objects.count() == 1

    later = timezone.now() + datetime.timedelta(seconds=settings.LOGIN_THROTTLE["WINDOW_SECONDS"] + 60)
    monkeypatch.setattr(accounts.timezone, "now", lambda: later)
    assert not record_services.signing_suspended(world.investigator_a)
    other = new(world)
    record(world, other, forms["patient"], signed_at=later - datetime.timedelta(minutes=5))
    assert ConsentRecord.objects.count() == 2
