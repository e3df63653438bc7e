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
