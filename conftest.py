"""Personas shared by every test: two sites of one trial, a second trial, and one user per role.

The `world` is built once per test module, inside a transaction that stays open while the module's tests run; each
test runs in a savepoint of it (pytest-django's `db`) and gets its own copy of the Python objects, as Django's
`TestCase.setUpTestData` does (`tests/sharing.py`; a module shares its own heavy fixtures with `@shared_fixture`).
Transactional tests (browser, concurrency, faults) cannot run inside a transaction: before one of them the module's
transaction is rolled back, and the test builds its own world as before.
"""

from types import SimpleNamespace

import pytest

from regulatory.models import Role
from regulatory.tests.factories import delegate, make_grant, make_member, make_site, make_trial, make_user
from tests.sharing import SharedWorld, is_transactional, order_items, shared_names


def build_world() -> SimpleNamespace:
    trial = make_trial(nct_number="NCT07063680", title="Argipressine test")
    site_a = make_site(trial=trial, code="DIJ", name="CHU Dijon Bourgogne", city="Dijon")
    site_b = make_site(trial=trial, code="LIL", name="Hôpital fictif de Lille", city="Lille", is_demo=True)
    other_trial = make_trial(nct_number="NCT01234567", title="Another trial")
    other_site = make_site(trial=other_trial, code="BOR", name="CHU fictif de Bordeaux", city="Bordeaux")
    inspector = make_member("inspector", role=Role.INSPECTOR, trial=trial)
    sponsor = make_member("sponsor", role=Role.SPONSOR, trial=trial)
    coordinator_a = make_member("coordinator-a", role=Role.COORDINATOR, trial=trial, site=site_a)
    investigator_a = make_member("investigator-a", role=Role.INVESTIGATOR, trial=trial, site=site_a)
    coordinator_b = make_member("coordinator-b", role=Role.COORDINATOR, trial=trial, site=site_b)
    # investigator-a is DIJ's principal investigator; the site staff hold every task on the delegation log (the
    # emergency attestation: the investigator only), from before any date the tests use.
    site_a.principal_investigator_account = investigator_a
    site_a.save(update_fields=["principal_investigator_account"])
    for site, staff in ((site_a, investigator_a), (site_a, coordinator_a), (site_b, coordinator_b)):
        delegate(site=site, staff=staff)
    return SimpleNamespace(
        trial=trial, site_a=site_a, site_b=site_b, other_trial=other_trial, other_site=other_site,
        coordinator_a=coordinator_a, investigator_a=investigator_a, coordinator_b=coordinator_b,
        sponsor=sponsor,
        qa=make_member("qa", role=Role.SPONSOR_QA, trial=trial),
        inspector=inspector,  # with an inspection window open from an hour ago for a week
        inspector_grant=make_grant(inspector=inspector, trial=trial, granted_by=sponsor),
        other_sponsor=make_member("other-sponsor", role=Role.SPONSOR, trial=other_trial),
        admin=make_user("admin", superuser=True),
        nobody=make_user("nobody"),
    )


_open: list[SharedWorld] = []  # the module's, while its tests run
_current: list = []  # the test being set up


def pytest_collection_modifyitems(items):
    order_items(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before a test sets anything up: roll the module's transactions back for a transactional test (it flushes
    tables), else leave exactly the shared fixtures this test asks for above the world."""
    _current[:] = [item]
    for shared in _open:
        if is_transactional(item):
            shared.close()
        elif shared.open:
            shared.prepare(shared_names(item))
        shared.memo = {}


@pytest.fixture(scope="module", autouse=True)
def _shared_world(request, django_db_blocker):
    """Open the module's transaction and build its world when the test about to run asks for it (or for a shared
    fixture) inside a transaction; the module's other tests then find it there."""
    current = _current[0] if _current else None
    wants = current is not None and not is_transactional(current) and (
        "world" in current.fixturenames or shared_names(current))
    if not wants:
        yield None
        return
    request.getfixturevalue("django_db_setup")
    shared = SharedWorld(django_db_blocker, request.module)
    shared.start(build_world)
    shared.prepare(shared_names(current))
    _open.append(shared)
    try:
        yield shared
    finally:
        _open.remove(shared)
        shared.close()


@pytest.fixture
def world(request, _shared_world, db):
    """The personas. Each test gets its own copies of the objects (a test may change and save them: the savepoint
    rolls the rows back, the copy keeps the next test from seeing the changed attributes)."""
    if is_transactional(request.node) or _shared_world is None or not _shared_world.open:
        return build_world()  # a transactional test, or the module's transaction was rolled back for one
    return _shared_world.copy("world")


@pytest.fixture(autouse=True)
def tmf_reference_model(request):
    """Transactional tests (browser, concurrency) end by flushing every table, the TMF taxonomy that migration 0005
    loaded included: put it back before each of them, as the migration does."""
    if not is_transactional(request.node):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    from regulatory.models import TmfArtifact

    if not TmfArtifact.objects.exists():
        from importlib import import_module

        import_module("regulatory.migrations.0005_load_tmf_reference_model").load_reference_model(apps)


@pytest.fixture
def as_user(client):
    """Log the test client in as a persona: `as_user(world.sponsor).get(...)`."""
    def login(user):
        client.force_login(user)
        return client
    return login


@pytest.fixture(scope="session", autouse=True)
def pki_services():
    """The test session's demo PKI (in the test settings' throwaway folder) and its services: one certomancer
    Animator (TSA, OCSP, CRLs) on a free port for the whole session, stopped at the end. Every signature a
    service makes is timestamped by it; the archival completion fetches its OCSP responses and CRLs."""
    from django.conf import settings

    from consent import pki
    from consent.pki_services import Animator, free_port

    port = free_port()
    settings.TRIALDOCS_PKI_SERVICES_URL = f"http://127.0.0.1:{port}"
    pki.ensure_identities(sponsor_name="Promoteur de test", site_codes=["DIJ", "LIL", "BOR"])
    animator = Animator(settings.TRIALDOCS_PKI_DIR, port).start()
    yield animator
    animator.stop()
