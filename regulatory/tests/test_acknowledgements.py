"""Sites are told when a version takes effect (e-mail and in-app list) and acknowledge it; reminders."""

import datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from regulatory import services
from regulatory.models import ActivationNotice, AuditEntry, SiteAcknowledgement
from regulatory.tests.factories import make_opinion, make_version
from tests.sharing import shared_fixture

SITE_A = "/nct07063680/sites/dij/"


@shared_fixture
def v1(world):
    version = make_version(trial=world.trial, number="1.0", summary_of_changes="Version initiale.")
    make_opinion(trial=world.trial, version=version, date=datetime.date(2026, 1, 10))
    return version


@pytest.fixture
def effective(world, v1, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.activation_create(actor=world.sponsor, version=v1, site=world.site_a,
                                          effective_from=timezone.now() - datetime.timedelta(days=30))


def test_site_staff_are_emailed_when_a_version_takes_effect(world, effective):
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["coordinator-a@example.org", "investigator-a@example.org"]
    assert "NCT07063680" in message.subject and "DIJ" in message.subject
    assert "/nct07063680/sites/dij/" in message.body
    effective.refresh_from_db()
    assert effective.notified_at is not None
    assert ActivationNotice.objects.filter(activation=effective, kind="notice").count() == 1


def test_a_future_activation_is_notified_by_the_cron_command_once(world, v1, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    soon = timezone.now() + datetime.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        activation = services.activation_create(actor=world.sponsor, version=v1, site=world.site_a,
                                                effective_from=soon)
    assert mail.outbox == []
    call_command("notify_effective_amendments", stdout=StringIO())
    assert mail.outbox == []
    later = soon + datetime.timedelta(minutes=1)
    monkeypatch.setattr("regulatory.services.protocol.timezone.now", lambda: later)
    out = StringIO()
    call_command("notify_effective_amendments", stdout=out)
    assert len(mail.outbox) == 1 and "1" in out.getvalue()
    call_command("notify_effective_amendments", stdout=StringIO())
    assert len(mail.outbox) == 1
    activation.refresh_from_db()
    assert activation.notified_at is not None


def test_in_app_list_shows_pending_acknowledgements_to_the_site_only(world, effective, as_user):
    home = as_user(world.coordinator_a).get("/").content.decode()
    assert "Protocol v1.0" in home or "Protocole v1.0" in home
    for persona in (world.coordinator_b, world.sponsor, world.inspector):
        body = as_user(persona).get("/").content.decode()
        assert "attention" not in body


def test_site_staff_acknowledge_once_and_it_is_audited(world, effective, as_user):
    client = as_user(world.coordinator_a)
    url = f"{SITE_A}acknowledge/{effective.pk}/"
    assert client.post(url).status_code == 302
    acknowledgement = SiteAcknowledgement.objects.get(activation=effective)
    assert acknowledgement.acknowledged_by == world.coordinator_a
    assert AuditEntry.objects.filter(action="acknowledgement.created", actor=world.coordinator_a).exists()
    client.post(url)
    assert SiteAcknowledgement.objects.count() == 1
    assert "attention" not in client.get("/").content.decode()


def test_acknowledging_needs_a_post(world, effective, as_user):
    assert as_user(world.coordinator_a).get(f"{SITE_A}acknowledge/{effective.pk}/").status_code == 405


@pytest.mark.parametrize("persona", ["coordinator_b", "inspector", "sponsor", "admin", "other_sponsor"])
def test_only_the_sites_own_staff_acknowledge(world, effective, as_user, persona):
    response = as_user(getattr(world, persona)).post(f"{SITE_A}acknowledge/{effective.pk}/")
    assert response.status_code in (302, 403, 404)  # 403: an inspector's account is read-only
    assert not SiteAcknowledgement.objects.exists()


def test_a_version_not_yet_effective_cannot_be_acknowledged(world, v1, as_user):
    activation = services.activation_create(actor=world.sponsor, version=v1, site=world.site_a,
                                            effective_from=timezone.now() + datetime.timedelta(days=2))
    as_user(world.coordinator_a).post(f"{SITE_A}acknowledge/{activation.pk}/")
    assert not SiteAcknowledgement.objects.exists()


def test_sponsor_sees_the_matrix_and_sends_a_reminder(world, effective, as_user):
    client = as_user(world.sponsor)
    matrix = client.get("/nct07063680/acknowledgements/").content.decode()
    assert "overdue" in matrix
    mail.outbox.clear()
    response = client.post(f"/nct07063680/acknowledgements/{effective.pk}/remind/")
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].subject.startswith(("Rappel", "Reminder"))
    assert ActivationNotice.objects.filter(activation=effective, kind="reminder", sent_by=world.sponsor).exists()
    assert AuditEntry.objects.filter(action="activation.reminded", actor=world.sponsor).exists()


def test_no_reminder_once_acknowledged(world, effective, as_user):
    services.acknowledgement_create(actor=world.investigator_a, activation=effective)
    mail.outbox.clear()
    as_user(world.sponsor).post(f"/nct07063680/acknowledgements/{effective.pk}/remind/")
    assert mail.outbox == []
    matrix = as_user(world.sponsor).get("/nct07063680/acknowledgements/").content.decode()
    assert "Investigator-A" in matrix


@pytest.mark.parametrize("persona", ["inspector", "qa", "coordinator_a", "other_sponsor"])
def test_only_the_sponsor_sends_reminders(world, effective, as_user, persona):
    mail.outbox.clear()
    response = as_user(getattr(world, persona)).post(f"/nct07063680/acknowledgements/{effective.pk}/remind/")
    assert response.status_code in (403, 404)  # 403: an inspector's account is read-only
    assert mail.outbox == []


@pytest.mark.parametrize("persona,status", [("sponsor", 200), ("inspector", 200), ("qa", 200),
                                            ("coordinator_a", 404), ("other_sponsor", 404)])
def test_dashboard_and_matrix_are_trial_wide(world, effective, as_user, persona, status):
    client = as_user(getattr(world, persona))
    assert client.get("/nct07063680/dashboard/").status_code == status
    assert client.get("/nct07063680/acknowledgements/").status_code == status


def test_dashboard_lists_unacknowledged_sites_and_draws_the_chart(world, effective, as_user):
    body = as_user(world.sponsor).get("/nct07063680/dashboard/").content.decode()
    assert "<svg" in body and 'class="pending"' in body
    assert "DIJ" in body


def test_site_staff_read_the_protocol_but_cannot_edit(world, v1, effective, as_user):
    client = as_user(world.coordinator_a)
    protocol = v1.get_parent()
    assert client.get(protocol.url).status_code == 200
    page = client.get(v1.url)
    assert page.status_code == 200 and "Version initiale." in page.content.decode()
    assert client.get(f"/admin/pages/{v1.pk}/edit/").status_code == 302
    client.post(f"/admin/pages/{v1.pk}/edit/", {"title": "hijack"})
    v1.refresh_from_db()
    assert v1.title == "Protocol v1.0"


def test_site_staff_do_not_see_draft_versions(world, v1, as_user):
    draft = make_version(trial=world.trial, number="2.0", amendment=1, publish=False, summary_of_changes="Secret")
    assert as_user(world.coordinator_a).get(draft.url or "/nct07063680/protocol/v2-0/").status_code == 404
    assert "Secret" not in as_user(world.coordinator_a).get(v1.get_parent().url).content.decode()
    assert "Secret" in as_user(world.sponsor).get(v1.get_parent().url).content.decode()


def test_sponsor_makes_a_version_effective_through_the_form(world, v1, as_user):
    client = as_user(world.sponsor)
    response = client.post("/nct07063680/activations/new/", {
        "version": v1.pk, "sites": [world.site_a.pk, world.site_b.pk], "effective_from": "2026-02-01T09:00"})
    assert response.status_code == 302
    assert sorted(a.site.code for a in v1.activations.all()) == ["DIJ", "LIL"]


def test_the_form_refuses_all_sites_when_one_fails(world, v1, as_user):
    services.activation_create(actor=world.sponsor, version=v1, site=world.site_b,
                               effective_from=timezone.now())
    response = as_user(world.sponsor).post("/nct07063680/activations/new/", {
        "version": v1.pk, "sites": [world.site_a.pk, world.site_b.pk], "effective_from": "2026-02-01T09:00"})
    assert response.status_code == 200
    assert "already effective" in response.content.decode() or "déjà" in response.content.decode()
    assert not v1.activations.filter(site=world.site_a).exists()


@pytest.mark.parametrize("persona", ["inspector", "coordinator_a", "qa"])
def test_only_the_sponsor_opens_the_activation_form(world, v1, as_user, persona):
    assert as_user(getattr(world, persona)).get("/nct07063680/activations/new/").status_code == 404
