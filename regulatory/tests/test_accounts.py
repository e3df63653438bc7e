"""Login, logout, password change, idle timeout, throttling and CSRF, through the real views."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from regulatory import accounts
from regulatory.models import AuditEntry
from regulatory.tests.factories import PASSWORD

LOGIN = "/accounts/login/"


def login(client, username, password, url=LOGIN):
    return client.post(url, {"username": username, "password": password})


def test_login_succeeds_and_is_audited_with_request_id(world, client):
    response = client.post(LOGIN, {"username": "coordinator-a", "password": PASSWORD},
                           HTTP_X_REQUEST_ID="req-test-0001")
    assert response.status_code == 302 and response["Location"] == "/"
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.actor == world.coordinator_a
    assert entry.request_id == "req-test-0001"
    assert entry.ip_address == "127.0.0.1"
    assert entry.timestamp.utcoffset() == timedelta(0)


def test_failed_login_is_audited_and_changes_nothing_else(world, client):
    response = login(client, "coordinator-a", "wrong password")
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.actor is None and entry.object_repr == "coordinator-a"
    assert entry.object_id == str(world.coordinator_a.pk)
    assert "_auth_user_id" not in client.session


def test_failed_login_for_unknown_user_is_audited(world, client):
    login(client, "no-such-user", "whatever")
    assert AuditEntry.objects.filter(action="auth.login_failed", object_repr="no-such-user").exists()


def test_login_is_throttled_after_five_failures_even_with_the_right_password(world, client):
    for _ in range(5):
        login(client, "coordinator-a", "wrong password")
    response = login(client, "coordinator-a", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "suspendue" in response.content.decode() or "suspended" in response.content.decode()
    assert AuditEntry.objects.filter(action="auth.login_throttled", object_repr="coordinator-a").count() == 1
    # Another account from the same address is not blocked by these five failures.
    assert login(Client(), "coordinator-b", PASSWORD).status_code == 302


def test_throttle_lifts_once_the_window_has_passed(world, client, monkeypatch):
    for _ in range(5):
        login(client, "coordinator-a", "wrong password")
    later = timezone.now() + timedelta(minutes=16)
    monkeypatch.setattr(accounts.timezone, "now", lambda: later)
    assert login(client, "coordinator-a", PASSWORD).status_code == 302


def test_a_successful_login_resets_the_count(world, client):
    for _ in range(4):
        login(client, "coordinator-a", "wrong password")
    assert login(client, "coordinator-a", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(4):
        login(client, "coordinator-a", "wrong password")
    assert login(client, "coordinator-a", PASSWORD).status_code == 302


def test_twenty_failures_from_one_address_no_longer_lock_out_the_ward_behind_it(world, client):
    """Issue 12: 20 failures from one address locked out everyone behind a hospital's NAT address. The limit per
    address is now high enough for a ward; it still stops one machine spraying passwords over many accounts."""
    for n in range(20):
        login(client, f"guess-{n}", "wrong")
    assert login(Client(), "coordinator-b", PASSWORD).status_code == 302


def test_a_machine_spraying_many_accounts_is_stopped_by_the_limit_per_address(world, client, settings):
    settings.LOGIN_THROTTLE = {**settings.LOGIN_THROTTLE, "MAX_FAILURES_PER_ADDRESS": 25}
    for n in range(25):
        login(client, f"guess-{n}", "wrong")
    assert login(client, "coordinator-b", PASSWORD).status_code == 200
    assert login(Client(REMOTE_ADDR="10.9.9.9"), "coordinator-b", PASSWORD).status_code == 302


def test_wrong_passwords_for_a_name_from_one_address_do_not_lock_its_owner_out_elsewhere(
        world, django_capture_on_commit_callbacks):
    """Issue 12: six wrong passwords typed by anyone locked the account out of login and consent signing for 15
    minutes. Now they slow down that address only; the owner logs in from their own workstation, and is told."""
    from django.core import mail

    attacker = Client(REMOTE_ADDR="192.0.2.66")
    with django_capture_on_commit_callbacks(execute=True):  # the e-mail leaves once the request commits
        for _ in range(6):
            login(attacker, "coordinator-a", "guess")
    assert login(attacker, "coordinator-a", PASSWORD).status_code == 200  # the attacker's address waits
    owner = Client(REMOTE_ADDR="10.1.2.3")
    assert login(owner, "coordinator-a", PASSWORD).status_code == 302
    assert [message.to for message in mail.outbox] == [["coordinator-a@example.org"]]
    assert "192.0.2.66" in mail.outbox[0].body
    notified = AuditEntry.objects.get(action=accounts.THROTTLE_NOTIFIED)
    assert notified.object_repr == "coordinator-a" and notified.changes["throttle"] == [None, "pair"]


def test_the_wait_grows_with_each_failure_of_a_name_from_an_address(world, monkeypatch):
    assert [accounts.delay_after(n).total_seconds() for n in range(1, 12)] == [
        0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    client = Client(REMOTE_ADDR="192.0.2.7")
    for _ in range(5):
        login(client, "coordinator-a", "guess")
    start = timezone.now()
    for seconds, throttled in ((29, True), (31, False)):
        monkeypatch.setattr(accounts.timezone, "now", lambda s=seconds: start + timedelta(seconds=s))
        assert accounts.login_throttled(username="coordinator-a", ip_address="192.0.2.7") is throttled


def test_an_attack_from_many_addresses_reaches_the_account_limit_and_the_owner_is_told(
        world, settings, django_capture_on_commit_callbacks):
    """Only an attack spread over many addresses reaches the limit per account: then the account is suspended
    everywhere, signing included, for the rest of the hour, and its owner gets one e-mail."""
    from django.core import mail

    from consent.services import records

    settings.LOGIN_THROTTLE = {**settings.LOGIN_THROTTLE, "MAX_FAILURES_PER_ACCOUNT": 12}
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(12):
            login(Client(REMOTE_ADDR=f"198.51.100.{n}"), "coordinator-a", "guess")
    response = login(Client(REMOTE_ADDR="10.1.2.3"), "coordinator-a", PASSWORD)
    assert response.status_code == 200 and "suspendue" in response.content.decode()
    assert AuditEntry.objects.get(action="auth.login_throttled").changes["throttle"] == [None, "account"]
    assert records.signing_suspended(world.coordinator_a)
    assert len(mail.outbox) == 1 and AuditEntry.objects.filter(action=accounts.THROTTLE_NOTIFIED).count() == 1
    assert login(Client(REMOTE_ADDR="10.1.2.4"), "coordinator-b", PASSWORD).status_code == 302


def test_wagtail_admin_login_is_throttled_too(world, client):
    for _ in range(5):
        login(client, "sponsor", "wrong password", url="/admin/login/")
    response = login(client, "sponsor", PASSWORD, url="/admin/login/")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout_needs_post_and_is_audited(world, as_user):
    client = as_user(world.coordinator_a)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert AuditEntry.objects.filter(action="auth.logout", actor=world.coordinator_a).exists()
    assert client.get("/").status_code == 302


def test_password_change_works_and_is_audited(world, client):
    login(client, "coordinator-a", PASSWORD)
    new = "a brand new long passphrase 42"
    response = client.post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="auth.password_changed", actor=world.coordinator_a).exists()
    world.coordinator_a.refresh_from_db()
    assert world.coordinator_a.check_password(new)


def test_password_change_refuses_a_weak_password(world, client):
    login(client, "coordinator-a", PASSWORD)
    response = client.post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200
    world.coordinator_a.refresh_from_db()
    assert world.coordinator_a.check_password(PASSWORD)


def test_session_expires_after_30_idle_minutes(world, client):
    login(client, "coordinator-a", PASSWORD)
    session = Session.objects.get(session_key=client.session.session_key)
    remaining = session.expire_date - timezone.now()
    assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)


def test_each_request_pushes_the_idle_deadline(world, client, monkeypatch):
    login(client, "coordinator-a", PASSWORD)
    key = client.session.session_key
    first = Session.objects.get(session_key=key).expire_date
    later = timezone.now() + timedelta(minutes=20)
    monkeypatch.setattr("django.contrib.sessions.backends.base.timezone.now", lambda: later)
    assert client.get("/").status_code == 200
    assert Session.objects.get(session_key=key).expire_date > first + timedelta(minutes=19)


def test_an_expired_session_sends_back_to_login(world, client):
    login(client, "coordinator-a", PASSWORD)
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/nct07063680/sites/dij/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


@pytest.mark.parametrize("url,data", [
    (LOGIN, {"username": "coordinator-a", "password": PASSWORD}),
    ("/accounts/logout/", {}),
    ("/accounts/password_change/", {"old_password": PASSWORD, "new_password1": "x" * 20,
                                    "new_password2": "x" * 20}),
    ("/i18n/setlang/", {"language": "en"}),
])
def test_posts_without_csrf_token_are_refused(world, url, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.coordinator_a)
    response = client.post(url, data)
    assert response.status_code == 403
    world.coordinator_a.refresh_from_db()
    assert world.coordinator_a.check_password(PASSWORD)
