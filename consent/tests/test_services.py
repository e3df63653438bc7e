"""The lifecycle of consent-form versions and the rule: per site, kind and language, one effective version."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation

from consent import selectors, services
from consent.models import FormEffectivity
from consent.tests.factories import make_form
from regulatory.models import AuditEntry

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def at(day, month=2):
    return datetime.datetime(2026, month, day, 9, 0, tzinfo=PARIS)


def effective(world, version, *sites, when=None):
    return services.form_make_effective(actor=world.sponsor, version=version, sites=sites or [world.site_a],
                                        effective_from=when or at(1))


def test_lifecycle_draft_submitted_approved_effective_superseded(world):
    draft = make_form(trial=world.trial, publish=False, approved=False)
    assert selectors.status(draft) == "draft"
    submitted = make_form(trial=world.trial, number="1.1", approved=False)
    assert selectors.status(submitted) == "submitted"
    v1 = make_form(trial=world.trial, number="1.2")
    assert selectors.status(v1) == "approved"
    effective(world, v1)
    assert selectors.status(v1) == "effective"
    v2 = make_form(trial=world.trial, number="2.0")
    effective(world, v2, when=at(10))
    assert selectors.status(v1) == "superseded" and selectors.status(v2) == "effective"


def test_a_new_version_supersedes_the_old_one_at_the_same_instant(world):
    v1, v2 = make_form(trial=world.trial), make_form(trial=world.trial, number="2.0")
    effective(world, v1)
    effective(world, v2, when=at(10))
    assert selectors.current_version(site=world.site_a, kind="patient", language="fr", at=at(9)).pk == v1.pk
    assert selectors.current_version(site=world.site_a, kind="patient", language="fr", at=at(10)).pk == v2.pk
    old = FormEffectivity.objects.get(version=v1)
    assert old.effective_until == at(10)
    assert AuditEntry.objects.filter(action="consentform.superseded", object_id=str(v1.pk)).exists()


def test_exactly_one_version_per_site_kind_and_language_at_every_instant(world):
    v1, v2, v3 = (make_form(trial=world.trial, number=n) for n in ("1.0", "2.0", "3.0"))
    effective(world, v1, world.site_a, world.site_b)
    effective(world, v2, world.site_a, when=at(10))
    effective(world, v3, world.site_a, when=at(20))
    english = make_form(trial=world.trial, number="1.0", language="en")
    effective(world, english, world.site_a)
    for day in range(1, 28):
        for site in (world.site_a, world.site_b):
            for language in ("fr", "en"):
                moment = at(day)
                periods = [p for p in FormEffectivity.objects.filter(site=site, kind="patient", language=language)
                           if p.effective_from <= moment and (p.effective_until is None or p.effective_until > moment)]
                assert len(periods) <= 1
    assert len(selectors.current_forms(site=world.site_a, at=at(25))) == 2


def test_other_kinds_and_sites_are_independent(world):
    patient, surrogate = make_form(trial=world.trial), make_form(trial=world.trial, kind="surrogate")
    effective(world, patient)
    effective(world, surrogate)
    assert {p.kind for p in selectors.current_forms(site=world.site_a, at=at(2))} == {"patient", "surrogate"}
    assert selectors.current_forms(site=world.site_b, at=at(2)) == []


def test_an_unapproved_version_cannot_take_effect_and_nothing_is_written(world):
    for version in (make_form(trial=world.trial, approved=False),
                    make_form(trial=world.trial, number="1.1", publish=False, approved=False)):
        entries = AuditEntry.objects.count()
        with pytest.raises(ValidationError):
            effective(world, version)
        assert not FormEffectivity.objects.exists() and AuditEntry.objects.count() == entries


def test_not_before_the_favourable_opinion(world):
    version = make_form(trial=world.trial, opinion_date=datetime.date(2026, 2, 5))
    with pytest.raises(ValidationError, match="before"):
        effective(world, version, when=at(1))


def test_a_new_version_must_start_after_the_current_one(world):
    v1, v2 = make_form(trial=world.trial), make_form(trial=world.trial, number="2.0")
    effective(world, v1, when=at(10))
    with pytest.raises(ValidationError, match="later"):
        effective(world, v2, when=at(10))
    with pytest.raises(ValidationError, match="later"):
        effective(world, v2, when=at(5))


def test_all_sites_or_none(world):
    v1, v2 = make_form(trial=world.trial), make_form(trial=world.trial, number="2.0")
    effective(world, v2, world.site_b, when=at(20))
    with pytest.raises(ValidationError):
        effective(world, v1, world.site_a, world.site_b, when=at(25))
    assert not FormEffectivity.objects.filter(version=v1).exists()


def test_a_site_specific_version_only_for_its_sites(world):
    local = make_form(trial=world.trial, kind="surrogate", number="1.1", sites=[world.site_b])
    with pytest.raises(ValidationError, match="not meant"):
        effective(world, local, world.site_a)
    effective(world, local, world.site_b)
    assert local.is_site_specific


@pytest.mark.parametrize("persona", ["inspector", "qa", "coordinator_a", "other_sponsor"])
def test_only_the_sponsor_makes_forms_effective(world, persona):
    version = make_form(trial=world.trial)
    with pytest.raises(PermissionDenied):
        services.form_make_effective(actor=getattr(world, persona), version=version, sites=[world.site_a],
                                     effective_from=at(1))


def test_withdrawal_ends_effect_and_needs_a_reason(world):
    version = make_form(trial=world.trial)
    effective(world, version)
    with pytest.raises(ValidationError):
        services.form_withdraw(actor=world.sponsor, version=version, reason=" ")
    version = services.form_withdraw(actor=world.sponsor, version=version, reason="Erreur de traduction")
    assert selectors.status(version) == "withdrawn"
    assert selectors.current_forms(site=world.site_a) == []
    with pytest.raises(ValidationError, match="withdrawn"):
        effective(world, version, world.site_b)


def test_a_withdrawn_version_is_not_in_force_from_the_instant_of_withdrawal(world):
    """Made effective from the current minute, as the page does, and withdrawn within the second: not current at
    any instant after the withdrawal (it used to stay in force until one second after its start)."""
    version = make_form(trial=world.trial)
    effective(world, version, when=timezone.now() - datetime.timedelta(milliseconds=50))
    version = services.form_withdraw(actor=world.sponsor, version=version, reason="Erreur de traduction")
    period = FormEffectivity.objects.get(version=version)
    assert period.effective_until == version.withdrawn_at
    assert selectors.current_forms(site=world.site_a) == []
    assert selectors.current_forms(site=world.site_a, at=version.withdrawn_at) == []


def test_withdrawing_a_scheduled_version_cancels_it_and_keeps_the_one_in_force(world):
    v1, v2 = make_form(trial=world.trial), make_form(trial=world.trial, number="2.0")
    effective(world, v1, world.site_a, world.site_b)
    starts = timezone.now() + datetime.timedelta(days=7)
    effective(world, v2, world.site_a, when=starts)
    assert FormEffectivity.objects.get(version=v1, site=world.site_a).effective_until == starts
    v2 = services.form_withdraw(actor=world.sponsor, version=v2, reason="Avis défavorable du CPP")
    assert not FormEffectivity.objects.filter(version=v2).exists()
    for moment in (None, starts, starts + datetime.timedelta(days=30)):
        assert selectors.current_version(site=world.site_a, kind="patient", language="fr", at=moment).pk == v1.pk
    assert selectors.status(v1) == "effective" and selectors.status(v2) == "withdrawn"
    withdrawn = AuditEntry.objects.get(action="consentform.withdrawn", object_id=str(v2.pk))
    assert withdrawn.changes["cancelled_at_sites"] == [None, ["DIJ"]]
    assert withdrawn.changes["ended_at_sites"] == [None, []]
    reinstated = AuditEntry.objects.get(action="consentform.reinstated", object_id=str(v1.pk))
    assert reinstated.reason == "Avis défavorable du CPP" and reinstated.changes["site"] == [None, "DIJ"]
    assert FormEffectivity.objects.get(version=v1, site=world.site_b).effective_until is None


def test_a_new_version_cannot_start_inside_a_withdrawn_versions_period(world):
    """Without this check SQLite let two periods overlap and PostgreSQL's exclusion constraint answered "at the
    same moment": the message says until when the withdrawn version ran, and nothing is written."""
    v2, v3 = make_form(trial=world.trial, number="2.0"), make_form(trial=world.trial, number="3.0")
    effective(world, v2, when=timezone.now() - datetime.timedelta(hours=1))
    v2 = services.form_withdraw(actor=world.sponsor, version=v2, reason="Erreur de traduction")
    before = (FormEffectivity.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ValidationError, match="was in force at DIJ until .*a new version must start then or later"):
        effective(world, v3, when=timezone.now() - datetime.timedelta(minutes=30))
    assert (FormEffectivity.objects.count(), AuditEntry.objects.count()) == before
    effective(world, v3, when=FormEffectivity.objects.get(version=v2).effective_until)
    assert selectors.current_version(site=world.site_a, kind="patient", language="fr").pk == v3.pk


def test_a_published_version_is_frozen(world):
    version = make_form(trial=world.trial)
    version.title = "Changed"
    version.information = [("paragraph", "<p>Autre texte</p>")]
    with pytest.raises(ValidationError, match="frozen"):
        version.save_revision()


def test_content_hash_is_stable_and_follows_the_text(world):
    a = make_form(trial=world.trial)
    b = make_form(trial=world.trial, number="1.0", language="en", approved=False)
    assert a.content_hash == type(a).objects.get(pk=a.pk).content_hash
    assert a.content_hash != b.content_hash


def test_database_refuses_a_second_open_period(world):
    v1, v2 = make_form(trial=world.trial), make_form(trial=world.trial, number="2.0")
    effective(world, v1)
    with pytest.raises(IntegrityError), transaction.atomic():
        FormEffectivity.objects.create(version=v2, site=world.site_a, kind="patient", language="fr",
                                       effective_from=at(5))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints exist only on PostgreSQL")
def test_postgresql_refuses_overlapping_closed_periods(world):
    v1, v2 = make_form(trial=world.trial), make_form(trial=world.trial, number="2.0")
    FormEffectivity.objects.create(version=v1, site=world.site_a, kind="patient", language="fr",
                                   effective_from=at(1), effective_until=at(10))
    with pytest.raises(IntegrityError), transaction.atomic():
        FormEffectivity.objects.create(version=v2, site=world.site_a, kind="patient", language="fr",
                                       effective_from=at(5), effective_until=at(20))


def test_now_is_the_default_moment(world):
    version = make_form(trial=world.trial)
    services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                 effective_from=timezone.now())
    assert selectors.is_current_at(version=version, site=world.site_a)
