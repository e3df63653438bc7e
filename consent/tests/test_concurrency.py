"""Two versions made effective at the same moment, by two requests at once: one wins, the other gets a clear
error, and the site still has exactly one effective version (PostgreSQL: SQLite ignores row locks)."""

import datetime
import threading
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from consent import services
from consent.models import FormEffectivity
from consent.tests.factories import make_form

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def test_two_versions_made_effective_at_the_same_moment(world):
    versions = [make_form(trial=world.trial, number=n) for n in ("1.0", "2.0")]
    moment = datetime.datetime(2026, 2, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
    barrier = threading.Barrier(2)
    outcomes = []

    def make_effective(version):
        try:
            barrier.wait()
            services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                         effective_from=moment)
            outcomes.append("ok")
        except ValidationError as error:
            outcomes.append(error.messages[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=make_effective, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(o == "ok" for o in outcomes) == [False, True], outcomes
    assert FormEffectivity.objects.filter(site=world.site_a, effective_until__isnull=True).count() == 1


def _in_threads(count, work):
    barrier = threading.Barrier(count)
    outcomes = []

    def run(index):
        try:
            barrier.wait()
            outcomes.append(("ok", work(index)))
        except ValidationError as error:
            outcomes.append(("refused", error.messages[0]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_parallel_registrations_get_distinct_codes_without_gaps(world):
    outcomes = _in_threads(6, lambda i: services.participant_create(actor=world.coordinator_a, site=world.site_a).code)
    codes = sorted(code for status, code in outcomes if status == "ok")
    assert codes == [f"DIJ-{n:04d}" for n in range(1, 7)]


def test_parallel_consents_for_the_same_participant_give_one_record_and_a_clear_error(world):
    from django.utils import timezone

    from consent.models import ConsentRecord
    from consent.pki import ensure_identities
    from consent.tests.test_records import signature_png
    from regulatory.tests.factories import PASSWORD

    ensure_identities(sponsor_name=world.trial.sponsor_name, site_codes=["DIJ"])
    version = make_form(trial=world.trial)
    services.form_make_effective(actor=world.sponsor, version=version, sites=[world.site_a],
                                 effective_from=timezone.now() - datetime.timedelta(days=1))
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    staff = [world.investigator_a, world.coordinator_a]

    def record(index):
        data = services.ConsentInput(version=version, signed_at=timezone.now(), outcome="consented",
                                     answers={0: "accept"}, signature_png=signature_png(), signature_source="drawn")
        return services.consent_record_create(actor=staff[index], participant=participant, data=data,
                                              username=staff[index].get_username(), password=PASSWORD,
                                              expected_sequence=0).pk

    import os

    from django.conf import settings

    folder = os.path.join(settings.MEDIA_ROOT, "signed", "consents")
    before = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    outcomes = _in_threads(2, record)
    assert sorted(status for status, _ in outcomes) == ["ok", "refused"], outcomes
    assert ConsentRecord.objects.filter(participant=participant).count() == 1
    assert len(set(os.listdir(folder)) - before) == 1  # the loser left no file behind
