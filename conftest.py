"""Personas shared by every test: two sites of one trial, a second trial, and one user per role."""

from types import SimpleNamespace

import pytest

from regulatory.models import Role
from regulatory.tests.factories import make_grant, make_member, make_site, make_trial, make_user


@pytest.fixture(autouse=True)
def tmf_reference_model(request):
    """Transactional tests (browser, concurrency) end by flushing every table, the TMF taxonomy that migration 0005
    loaded included: put it back before each of them, as the migration does."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or "transactional_db" in \
        request.fixturenames or "live_server" in request.fixturenames
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    from regulatory.models import TmfArtifact

    if not TmfArtifact.objects.exists():
        from importlib import import_module

        import_module("regulatory.migrations.0005_load_tmf_reference_model").load_reference_model(apps)


@pytest.fixture
def world(db):
    trial = make_trial(nct_number="NCT07063680", title="Argipressine test")
    site_a = make_site(trial=trial, code="DIJ", name="CHU Dijon Bourgogne", city="Dijon")
    site_b = make_site(trial=trial, code="LIL", name="Hôpital fictif de Lille", city="Lille", is_demo=True)
    other_trial = make_trial(nct_number="NCT01234567", title="Another trial")
    other_site = make_site(trial=other_trial, code="BOR", name="CHU fictif de Bordeaux", city="Bordeaux")
    inspector = make_member("inspector", role=Role.INSPECTOR, trial=trial)
    sponsor = make_member("sponsor", role=Role.SPONSOR, trial=trial)
    return SimpleNamespace(
        trial=trial, site_a=site_a, site_b=site_b, other_trial=other_trial, other_site=other_site,
        coordinator_a=make_member("coordinator-a", role=Role.COORDINATOR, trial=trial, site=site_a),
        investigator_a=make_member("investigator-a", role=Role.INVESTIGATOR, trial=trial, site=site_a),
        coordinator_b=make_member("coordinator-b", role=Role.COORDINATOR, trial=trial, site=site_b),
        sponsor=sponsor,
        qa=make_member("qa", role=Role.SPONSOR_QA, trial=trial),
        inspector=inspector,  # with an inspection window open from an hour ago for a week
        inspector_grant=make_grant(inspector=inspector, trial=trial, granted_by=sponsor),
        other_sponsor=make_member("other-sponsor", role=Role.SPONSOR, trial=other_trial),
        admin=make_user("admin", superuser=True),
        nobody=make_user("nobody"),
    )


@pytest.fixture
def as_user(client):
    """Log the test client in as a persona: `as_user(world.sponsor).get(...)`."""
    def login(user):
        client.force_login(user)
        return client
    return login
