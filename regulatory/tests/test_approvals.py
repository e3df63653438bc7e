"""The rules of effectiveness: substantial needs a favourable opinion, non-substantial a justification."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from regulatory import selectors, services
from regulatory.models import AuditEntry, SiteActivation
from regulatory.tests.factories import make_opinion, make_version

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def english():
    """The messages are matched in English here (the French catalogue is tested through the pages)."""
    with translation.override("en"):
        yield


def at(day, month=2, year=2026):
    return datetime.datetime(year, month, day, 9, 0, tzinfo=PARIS)


@pytest.fixture
def v1(world):
    version = make_version(trial=world.trial, number="1.0")
    make_opinion(trial=world.trial, version=version, date=datetime.date(2026, 1, 10))
    return version


def activate(world, version, site=None, when=None, **kwargs):
    return services.activation_create(actor=world.sponsor, version=version, site=site or world.site_a,
                                      effective_from=when or at(1), **kwargs)


def test_substantial_amendment_without_opinion_is_refused_and_nothing_is_written(world, v1):
    v2 = make_version(trial=world.trial, number="2.0", amendment=1, substantial=True)
    entries = AuditEntry.objects.count()
    with pytest.raises(ValidationError, match="favourable opinion"):
        activate(world, v2)
    assert not SiteActivation.objects.filter(version=v2).exists()
    assert AuditEntry.objects.count() == entries


def test_substantial_amendment_with_favourable_opinion_takes_effect(world, v1):
    v2 = make_version(trial=world.trial, number="2.0", amendment=1, substantial=True)
    make_opinion(trial=world.trial, version=v2, date=datetime.date(2026, 1, 20))
    activation = activate(world, v2)
    assert AuditEntry.objects.filter(action="activation.created", object_id=str(activation.pk)).exists()
    assert selectors.effective_version(site=world.site_a).pk == v2.pk


def test_initial_protocol_also_needs_a_favourable_opinion(world):
    v1 = make_version(trial=world.trial, number="1.0")
    with pytest.raises(ValidationError, match="favourable opinion"):
        activate(world, v1)


def test_an_unfavourable_opinion_does_not_count(world, v1):
    v2 = make_version(trial=world.trial, number="2.0", amendment=1, substantial=True)
    make_opinion(trial=world.trial, version=v2, item_type="unfavourable_opinion")
    with pytest.raises(ValidationError):
        activate(world, v2)


def test_a_later_unfavourable_opinion_overrides_an_earlier_favourable_one(world, v1):
    v2 = make_version(trial=world.trial, number="2.0", amendment=1, substantial=True)
    make_opinion(trial=world.trial, version=v2, date=datetime.date(2026, 1, 12))
    make_opinion(trial=world.trial, version=v2, date=datetime.date(2026, 1, 20), item_type="unfavourable_opinion")
    with pytest.raises(ValidationError, match="unfavourable"):
        activate(world, v2)


def test_effect_cannot_precede_the_opinion(world, v1):
    with pytest.raises(ValidationError, match="before"):
        activate(world, v1, when=at(5, month=1))


def test_non_substantial_amendment_needs_a_justification(world, v1):
    v2 = make_version(trial=world.trial, number="1.1", amendment=1, substantial=False)
    with pytest.raises(ValidationError, match="justification"):
        activate(world, v2)
    activation = activate(world, v2, justification="Typographical corrections only.")
    assert activation.justification == "Typographical corrections only."
    assert AuditEntry.objects.get(action="activation.created", object_id=str(activation.pk)).reason == \
        "Typographical corrections only."


def test_non_substantial_justification_may_be_recorded_on_the_version(world, v1):
    v2 = make_version(trial=world.trial, number="1.1", amendment=1, non_substantial_justification="Editorial.")
    assert activate(world, v2)


def test_an_unpublished_version_cannot_take_effect(world, v1):
    draft = make_version(trial=world.trial, number="2.0", amendment=1, substantial=True, publish=False)
    make_opinion(trial=world.trial, version=draft)
    with pytest.raises(ValidationError, match="published"):
        activate(world, draft)


def test_the_same_version_is_made_effective_once_per_site(world, v1):
    activate(world, v1)
    with pytest.raises(ValidationError, match="already effective"):
        activate(world, v1, when=at(3))
    assert SiteActivation.objects.filter(version=v1).count() == 1


def test_an_older_version_cannot_follow_a_newer_one(world, v1):
    v2 = make_version(trial=world.trial, number="2.0", amendment=1, non_substantial_justification="Editorial.")
    activate(world, v2)
    with pytest.raises(ValidationError, match="later version"):
        activate(world, v1)


def test_effective_dates_differ_per_site(world, v1):
    v2 = make_version(trial=world.trial, number="2.0", amendment=1, substantial=True)
    make_opinion(trial=world.trial, version=v2, date=datetime.date(2026, 1, 20))
    activate(world, v1, site=world.site_a, when=at(1))
    activate(world, v1, site=world.site_b, when=at(1))
    activate(world, v2, site=world.site_a, when=at(10))
    activate(world, v2, site=world.site_b, when=at(20))
    assert selectors.effective_version(site=world.site_a, at=at(15)).pk == v2.pk
    assert selectors.effective_version(site=world.site_b, at=at(15)).pk == v1.pk
    assert selectors.effective_version(site=world.site_b, at=at(21)).pk == v2.pk
    assert selectors.effective_version(site=world.site_b, at=at(1, month=1)) is None


@pytest.mark.parametrize("persona", ["inspector", "coordinator_a", "investigator_a", "qa", "other_sponsor"])
def test_only_the_trial_sponsor_makes_a_version_effective(world, v1, persona):
    with pytest.raises(PermissionDenied):
        services.activation_create(actor=getattr(world, persona), version=v1, site=world.site_a,
                                   effective_from=at(1))
    assert not SiteActivation.objects.exists()


def test_a_version_of_another_trial_is_refused(world, v1):
    with pytest.raises(ValidationError, match="another trial"):
        services.activation_create(actor=world.admin, version=v1, site=world.other_site, effective_from=at(1))


def test_an_approved_version_is_frozen(world, v1):
    v1.summary_of_changes = "Rewritten after approval"
    with pytest.raises(ValidationError, match="frozen"):
        v1.save_revision()
    v1.refresh_from_db()
    assert v1.summary_of_changes != "Rewritten after approval"


def test_a_draft_version_can_still_change(world, v1):
    draft = make_version(trial=world.trial, number="2.0", amendment=1, publish=False)
    draft.summary_of_changes = "Better wording"
    draft.save_revision()
    draft.save()
    draft.refresh_from_db()
    assert draft.summary_of_changes == "Better wording"
