"""Scoped withdrawal (what stops, from when, recorded by whom) and re-consent with judgement (a change judged not
substantive opens an "inform" task closed with a note, no signature)."""

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from openpyxl import load_workbook

from consent import services
from consent.models import ConsentRecord, ConsentTask, Participant, Withdrawal
from consent.tests.factories import make_form
from consent.tests.test_records import forms, new, record  # noqa: F401  (shared fixtures and helpers)
from regulatory.models import AuditEntry

NOW = timezone.now


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def included(world, forms, hours_ago=5):  # noqa: F811
    participant = new(world)
    Participant.objects.filter(pk=participant.pk).update(created_at=NOW() - datetime.timedelta(hours=hours_ago + 1))
    participant.refresh_from_db()
    record(world, participant, forms["patient"], signed_at=NOW() - datetime.timedelta(hours=hours_ago))
    participant.refresh_from_db()
    return participant


def withdraw(world, participant, scope, hours_ago=None, reason="", actor=None):
    return services.participant_withdraw(
        actor=actor or world.coordinator_a, participant=participant, scope=scope, reason=reason,
        at=None if hours_ago is None else NOW() - datetime.timedelta(hours=hours_ago))


def scopes(participant):
    return {w.scope: w.implied_by for w in participant.withdrawals.all()}


def test_withdrawal_from_the_treatment_only_keeps_the_participant_followed_and_asked_to_reconsent(world, forms):  # noqa: F811
    participant = included(world, forms)
    withdraw(world, participant, "treatment", hours_ago=4, reason="Effets indésirables")
    participant.refresh_from_db()
    assert participant.status == "included" and participant.ended_at is None
    assert scopes(participant) == {"treatment": ""}
    row = participant.withdrawals.get()
    assert row.recorded_by == world.coordinator_a and row.reason == "Effets indésirables"
    v2 = make_form(trial=world.trial, number="2.0")
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a],
                                 effective_from=NOW() - datetime.timedelta(minutes=30))
    assert participant.tasks.filter(kind="reconsent", closed_at__isnull=True).count() == 1


def test_withdrawal_from_follow_up_ends_participation_closes_tasks_and_no_reconsent_is_asked(world, forms):  # noqa: F811
    participant = included(world, forms)
    withdraw(world, participant, "follow_up", hours_ago=3)
    participant.refresh_from_db()
    assert participant.status == "withdrawn" and participant.objects_to_data_use is False
    assert scopes(participant) == {"treatment": "follow_up", "follow_up": ""}
    v2 = make_form(trial=world.trial, number="2.0")
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a],
                                 effective_from=NOW() - datetime.timedelta(minutes=30))
    assert not participant.tasks.filter(closed_at__isnull=True).exists()
    entry = AuditEntry.objects.filter(action="participant.withdrawn").get()
    assert entry.changes["scopes"] == [None, ["treatment", "follow_up"]]


def test_a_later_withdrawal_adds_scopes_up_to_the_objection(world, forms):  # noqa: F811
    participant = included(world, forms)
    withdraw(world, participant, "treatment", hours_ago=4)
    withdraw(world, participant, "data_collection", hours_ago=2)
    withdraw(world, participant, "data_use", hours_ago=1, reason="Courrier du patient")
    participant.refresh_from_db()
    assert scopes(participant) == {"treatment": "", "follow_up": "data_collection", "data_collection": "",
                                   "data_use": ""}
    assert participant.status == "withdrawn" and participant.objects_to_data_use is True
    assert participant.ended_at == participant.withdrawals.get(scope="follow_up").at


@pytest.mark.parametrize(("first", "then", "hours", "message"), [
    ("follow_up", "follow_up", 1, "already recorded"),
    ("follow_up", "treatment", 1, "already stopped"),
    ("data_use", "data_collection", 1, "already stopped"),
    ("treatment", "follow_up", 4, "contradict"),  # follow-up stopped before the treatment was
])
def test_a_scope_contradicting_an_earlier_one_is_refused_and_nothing_is_written(world, forms, first, then,  # noqa: F811
                                                                                 hours, message):
    participant = included(world, forms)
    withdraw(world, participant, first, hours_ago=3)
    before = (list(Withdrawal.objects.values_list("pk", "scope", "at")), AuditEntry.objects.count())
    participant.refresh_from_db()
    status = participant.status
    with pytest.raises(ValidationError, match=message):
        withdraw(world, participant, then, hours_ago=hours)
    participant.refresh_from_db()
    assert (list(Withdrawal.objects.values_list("pk", "scope", "at")), AuditEntry.objects.count()) == before
    assert participant.status == status


@pytest.mark.parametrize(("at", "message"), [
    (lambda: NOW() + datetime.timedelta(hours=2), "in the future"),
    (lambda: NOW() - datetime.timedelta(days=3), "before the registration"),
])
def test_a_withdrawal_in_the_future_or_before_registration_is_refused(world, forms, at, message):  # noqa: F811
    participant = included(world, forms)
    with pytest.raises(ValidationError, match=message):
        services.participant_withdraw(actor=world.coordinator_a, participant=participant, scope="follow_up",
                                      at=at())
    assert not Withdrawal.objects.exists()
    participant.refresh_from_db()
    assert participant.status == "included"


def test_an_unknown_scope_or_someone_of_another_site_is_refused(world, forms):  # noqa: F811
    participant = included(world, forms)
    with pytest.raises(ValidationError, match="Choose what"):
        withdraw(world, participant, "everything")
    with pytest.raises(PermissionDenied):
        withdraw(world, participant, "follow_up", actor=world.coordinator_b)
    assert not Withdrawal.objects.exists()


def test_a_participant_in_screening_has_no_treatment_to_stop(world, forms):  # noqa: F811
    participant = new(world)
    with pytest.raises(ValidationError, match="no study treatment"):
        withdraw(world, participant, "treatment")
    withdraw(world, participant, "follow_up")
    participant.refresh_from_db()
    assert participant.status == "withdrawn"


def test_a_refused_continuation_is_a_withdrawal_from_everything_with_the_objection_as_recorded(world, forms):  # noqa: F811
    participant = new(world)
    record(world, participant, forms["surrogate"], signed_at=NOW() - datetime.timedelta(hours=3))
    record(world, participant, forms["continuation"], outcome="refused", objects_to_data_use=True,
           signed_at=NOW() - datetime.timedelta(hours=1))
    assert scopes(participant) == {"treatment": "data_use", "follow_up": "data_use", "data_collection": "data_use",
                                   "data_use": ""}
    assert set(participant.withdrawals.values_list("recorded_by", flat=True)) == {world.investigator_a.pk}


def test_the_participant_page_shows_the_scopes_and_offers_only_what_is_left(world, forms, as_user):  # noqa: F811
    participant = included(world, forms)
    withdraw(world, participant, "treatment", hours_ago=2, reason="Nausées")
    client = as_user(world.coordinator_a)
    page = client.get(f"{world.trial.url}sites/dij/participants/{participant.code}/").content.decode()
    assert "Nausées" in page and 'value="treatment"' not in page and 'value="follow_up"' in page
    response = client.post(f"{world.trial.url}sites/dij/participants/{participant.code}/withdraw/",
                           {"scope": "treatment", "reason": "again"}, follow=True)
    assert "est déjà enregistré" in response.content.decode() and participant.withdrawals.count() == 1
    client.post(f"{world.trial.url}sites/dij/participants/{participant.code}/withdraw/", {"scope": "data_use"})
    participant.refresh_from_db()
    assert participant.status == "withdrawn" and participant.objects_to_data_use is True


# --- Re-consent with judgement ---------------------------------------------------------------------------------

def test_a_change_judged_not_substantive_opens_an_inform_task_closed_with_a_note(world, forms):  # noqa: F811
    participant = included(world, forms)
    v1_1 = make_form(trial=world.trial, number="1.1")
    services.form_make_effective(actor=world.sponsor, version=v1_1, sites=[world.site_a], change_kind="inform",
                                 effective_from=NOW() - datetime.timedelta(minutes=30))
    v1_1.refresh_from_db()
    assert v1_1.change_kind == "inform" and v1_1.change_judged_by == world.sponsor
    [task] = participant.tasks.filter(closed_at__isnull=True)
    assert task.kind == "inform" and task.target_version == v1_1
    with pytest.raises(ValidationError, match="how the participant was informed"):
        services.task_inform_close(actor=world.coordinator_a, task=task, note="  ")
    with pytest.raises(ValidationError, match="in the future"):
        services.task_inform_close(actor=world.coordinator_a, task=task, note="Appel",
                                   at=NOW() + datetime.timedelta(hours=1))
    with pytest.raises(PermissionDenied):
        services.task_inform_close(actor=world.coordinator_b, task=task, note="Appel")
    task.refresh_from_db()
    assert task.closed_at is None
    services.task_inform_close(actor=world.coordinator_a, task=task, note="Informé par téléphone")
    task.refresh_from_db()
    assert task.closed_by == world.coordinator_a and task.closed_note == "Informé par téléphone"
    assert participant.consents.count() == 1  # no new signature
    with pytest.raises(ValidationError, match="already closed"):
        services.task_inform_close(actor=world.coordinator_a, task=task, note="encore")
    assert AuditEntry.objects.filter(action="participant.informed").count() == 1


def test_a_substantive_change_opens_a_reconsent_and_the_judgement_stays_for_every_site(world, forms):  # noqa: F811
    participant = included(world, forms)
    v2 = make_form(trial=world.trial, number="2.0")
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a], change_kind="substantive",
                                 effective_from=NOW() - datetime.timedelta(minutes=30))
    assert participant.tasks.get(closed_at__isnull=True).kind == "reconsent"
    with pytest.raises(ValidationError, match="already judged"):
        services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_b], change_kind="inform",
                                     effective_from=NOW() - datetime.timedelta(minutes=30))
    assert not v2.effectivities.filter(site=world.site_b).exists()


def test_a_pending_reconsent_is_kept_when_a_later_change_is_only_to_inform(world, forms):  # noqa: F811
    participant = included(world, forms)
    v2 = make_form(trial=world.trial, number="2.0")
    services.form_make_effective(actor=world.sponsor, version=v2, sites=[world.site_a],
                                 effective_from=NOW() - datetime.timedelta(minutes=40))
    v2_1 = make_form(trial=world.trial, number="2.1")
    services.form_make_effective(actor=world.sponsor, version=v2_1, sites=[world.site_a], change_kind="inform",
                                 effective_from=NOW() - datetime.timedelta(minutes=20))
    [task] = participant.tasks.filter(closed_at__isnull=True)
    assert task.kind == "reconsent" and task.target_version == v2_1
    record(world, participant, v2_1, signed_at=NOW() - datetime.timedelta(minutes=5))
    assert not participant.tasks.filter(closed_at__isnull=True).exists()
    assert ConsentRecord.objects.filter(participant=participant).count() == 2


def test_the_make_effective_page_asks_for_the_judgement(world, forms, as_user):  # noqa: F811
    v1_1 = make_form(trial=world.trial, number="1.1")
    client = as_user(world.sponsor)
    page = client.get(f"{v1_1.url}effective/").content.decode()
    assert 'name="change_kind"' in page
    local = timezone.localtime(NOW() - datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"{v1_1.url}effective/", {"sites": [world.site_a.pk], "effective_from": local})
    assert response.status_code == 200 and not v1_1.effectivities.exists()  # the judgement is required
    client.post(f"{v1_1.url}effective/", {"sites": [world.site_a.pk], "effective_from": local,
                                          "change_kind": "inform"})
    v1_1.refresh_from_db()
    assert v1_1.change_kind == "inform" and v1_1.effectivities.count() == 1
    assert 'name="change_kind"' not in client.get(f"{v1_1.url}effective/").content.decode()
    assert ConsentTask.objects.filter(kind="inform").count() == 0  # nobody had consented at DIJ


# --- The consent-status dashboard, the site's zip and the FHIR export -------------------------------------------

def _participants_page(client, world, query=""):
    return client.get(f"{world.trial.url}sites/dij/participants/{query}")


def test_the_dashboard_counts_each_state_and_filters_and_exports_formula_safe(world, forms, as_user):  # noqa: F811
    from consent import dashboard

    taking_part = included(world, forms)
    stopped_treatment = included(world, forms)
    withdraw(world, stopped_treatment, "treatment", hours_ago=2, reason="=HYPERLINK(\"http://x\")")
    objected = included(world, forms)
    withdraw(world, objected, "data_use", hours_ago=2)
    refused = new(world)
    record(world, refused, forms["patient"], outcome="refused")
    v1_1 = make_form(trial=world.trial, number="1.1")
    services.form_make_effective(actor=world.sponsor, version=v1_1, sites=[world.site_a], change_kind="inform",
                                 effective_from=NOW() - datetime.timedelta(minutes=30))
    totals = dashboard.counts(site=world.site_a)
    assert totals["total"] == 4 and totals["consented"] == 2 and totals["declined"] == 1
    assert totals["withdrawn_treatment"] == 2 and totals["withdrawn_follow_up"] == 1
    assert totals["withdrawn_data_use"] == 1 and totals["inform"] == 2 and totals["reconsent_due"] == 0
    client = as_user(world.coordinator_a)
    page = _participants_page(client, world).content.decode()
    assert "<svg" in page and "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    filtered = _participants_page(client, world, "?state=withdrawn_treatment").context["participants"]
    assert [p.code for p in filtered] == [stopped_treatment.code, objected.code]
    assert [p.code for p in _participants_page(client, world, "?state=inform").context["participants"]] == [
        taking_part.code, stopped_treatment.code]
    export = _participants_page(client, world, "?state=withdrawn_treatment&format=csv")
    assert export["Content-Type"].startswith("text/csv")
    text = export.content.decode("utf-8-sig")
    assert stopped_treatment.code in text and taking_part.code not in text
    assert "'=HYPERLINK" in text  # formula-safe
    xlsx = _participants_page(client, world, "?format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value and "HYPERLINK" in str(c.value)]
    assert cells and all(c.data_type == "s" for c in cells)
    assert sheet.max_row == 5


def test_the_dashboard_query_count_does_not_grow_with_the_participants(world, forms, as_user):  # noqa: F811
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_user(world.coordinator_a)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert _participants_page(client, world).status_code == 200
            assert _participants_page(client, world, "?format=csv").status_code == 200
        return len(captured)

    withdraw(world, included(world, forms), "treatment", hours_ago=2)
    queries()  # the first pages of a session fill caches (the user's roles, the site)
    few = queries()
    for _ in range(4):
        withdraw(world, included(world, forms), "follow_up", hours_ago=2)
    assert queries() == few


def test_the_sites_zip_holds_the_withdrawals(world, forms, tmp_path):  # noqa: F811
    import zipfile

    from consent import export

    participant = included(world, forms)
    withdraw(world, participant, "treatment", hours_ago=3, reason="Nausées")
    withdraw(world, participant, "data_use", hours_ago=1)
    out = tmp_path / "dij.zip"
    export.export_to_path(world.site_a, out, language="en")
    with zipfile.ZipFile(out) as package:
        table = package.read("withdrawals.csv").decode("utf-8-sig").splitlines()
        sums = package.read("SHA256SUMS").decode()
    assert len(table) == 5 and "withdrawals.csv" in sums
    assert "Nausées" in table[1] and "Study treatment" in table[1]
    assert "Use of the data already collected" in table[4] and "objection recorded" in table[4]
