"""Telling the sites (issue 13): a consent-form version that takes effect at a site is e-mailed to its staff,
shown on their home page until acknowledged, acknowledged, reminded and followed in the sponsor's matrix, as
protocol amendments are; e-mails are formal, in each recipient's language, with links to the public address."""

import datetime
import html
from io import StringIO

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.template.loader import render_to_string
from django.utils import timezone, translation
from wagtail.users.models import UserProfile

from consent import services
from consent.models import FormAcknowledgement, FormNotice
from consent.tests.factories import make_form
from regulatory.models import AuditEntry

SITE_A = "/nct07063680/sites/dij/"


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def period(world, settings, django_capture_on_commit_callbacks):
    settings.TRIALDOCS_PUBLIC_URL = "https://trialdocs.chu-exemple.fr"
    version = make_form(trial=world.trial, kind="patient", number="2.0")
    with django_capture_on_commit_callbacks(execute=True):
        made = services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                            effective_from=timezone.now() - datetime.timedelta(hours=1))
    return made[0]


def test_the_site_staff_are_told_formally_with_links_to_the_public_address(world, period):
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["coordinator-a@example.org", "investigator-a@example.org"]
    assert "NCT07063680" in message.subject and "DIJ" in message.subject
    assert message.body.startswith("Madame, Monsieur,") and "Salut" not in message.body
    assert "Veuillez agréer" in message.body
    assert "https://trialdocs.chu-exemple.fr/nct07063680/sites/dij/" in message.body
    assert "https://trialdocs.chu-exemple.fr/nct07063680/sites/dij/consent-forms/" in message.body
    assert "127.0.0.1" not in message.body
    period.refresh_from_db()
    assert period.notified_at is not None and FormNotice.objects.get(effectivity=period).kind == "notice"
    assert AuditEntry.objects.filter(action="consentform.notified").count() == 1


def test_each_recipient_reads_it_in_the_language_of_their_account(world, settings,
                                                                  django_capture_on_commit_callbacks):
    profile = UserProfile.get_for_user(world.coordinator_a)
    profile.preferred_language = "en"
    profile.save()
    version = make_form(trial=world.trial, kind="surrogate", number="1.0")
    with django_capture_on_commit_callbacks(execute=True):
        services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                     effective_from=timezone.now() - datetime.timedelta(hours=1))
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    english = by_recipient[("coordinator-a@example.org",)]
    french = by_recipient[("investigator-a@example.org",)]
    assert english.body.startswith("Dear Sir or Madam,") and "Yours faithfully," in english.body
    assert "New consent form in force" in english.subject
    assert french.body.startswith("Madame, Monsieur,") and "Nouveau formulaire de consentement" in french.subject


def test_a_later_start_is_told_by_the_cron_command_once(world, monkeypatch, django_capture_on_commit_callbacks):
    version = make_form(trial=world.trial, kind="emergency", number="1.0")
    soon = timezone.now() + datetime.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a], effective_from=soon)
    assert mail.outbox == []
    later = soon + datetime.timedelta(minutes=1)
    monkeypatch.setattr("consent.services.notices.timezone.now", lambda: later)
    out = StringIO()
    call_command("notify_effective_amendments", stdout=out)
    assert len(mail.outbox) == 1 and "1 consent-form notification" in out.getvalue()
    call_command("notify_effective_amendments", stdout=StringIO())
    assert len(mail.outbox) == 1


def test_the_home_page_shows_it_until_the_site_acknowledges_it(world, period, as_user):
    client = as_user(world.coordinator_a)
    home = text(client.get("/"))
    assert "Nouveaux formulaires de consentement à prendre en compte" in home and str(period.version) in home
    site_page = text(client.get(SITE_A))
    assert f"acknowledge-form/{period.pk}/" in site_page
    response = client.post(f"{SITE_A}acknowledge-form/{period.pk}/")
    assert response.status_code == 302
    acknowledgement = FormAcknowledgement.objects.get(effectivity=period)
    assert acknowledgement.acknowledged_by == world.coordinator_a
    entry = AuditEntry.objects.get(action="consentform.acknowledged")
    assert entry.trial_id == world.trial.pk  # in the trial's audit trail
    assert "Nouveaux formulaires de consentement" not in text(client.get("/"))
    with pytest.raises(ValidationError):  # once
        services.form_acknowledgement_create(actor=world.investigator_a, period=period)


def test_another_sites_staff_and_the_sponsor_cannot_acknowledge_for_the_site(world, period, as_user):
    assert as_user(world.coordinator_b).post(f"{SITE_A}acknowledge-form/{period.pk}/").status_code == 404
    as_user(world.sponsor).post(f"{SITE_A}acknowledge-form/{period.pk}/")
    assert not FormAcknowledgement.objects.exists()


def test_the_sponsor_follows_the_matrix_and_reminds(world, period, as_user):
    client = as_user(world.sponsor)
    matrix = text(client.get("/nct07063680/acknowledgements/"))
    assert "Versions des formulaires de consentement × centres" in matrix and str(period.version) in matrix
    assert f"acknowledgements/forms/{period.pk}/remind/" in matrix
    mail.outbox.clear()
    assert client.post(f"/nct07063680/acknowledgements/forms/{period.pk}/remind/").status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].subject.startswith("Rappel")
    assert FormNotice.objects.filter(effectivity=period, kind="reminder", sent_by=world.sponsor).exists()
    assert as_user(world.coordinator_a).post(
        f"/nct07063680/acknowledgements/forms/{period.pk}/remind/").status_code == 404


def test_wagtails_review_e_mails_are_formal_too(world):
    for language, greeting, close in (("fr", "Madame, Monsieur,", "Veuillez agréer"),
                                      ("en", "Dear Sir or Madam,", "Yours faithfully,")):
        with translation.override(language):
            body = render_to_string("wagtailadmin/notifications/base.txt", {"user": world.coordinator_a})
        assert greeting in body and close in body and "Salut" not in body and "Hello" not in body
