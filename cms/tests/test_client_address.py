"""The client's address behind a reverse proxy (`cms/middleware.py`): X-Forwarded-For is read only from a proxy the
settings trust, from the right, so audit entries and the per-address login throttle see the client, never the proxy,
and never an address a client wrote itself."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from cms.middleware import RequestIdMiddleware, client_address, parse_trusted_proxies
from regulatory.models import AuditEntry
from regulatory.tests.factories import PASSWORD

LOGIN = "/accounts/login/"
PROXY = "10.0.0.2"
CLIENT = "203.0.113.9"
SPOOFED = "198.51.100.66"
ROOT = Path(__file__).resolve().parents[2]


def login(username, password, *, remote=PROXY, forwarded=None, client=None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return (client or Client()).post(LOGIN, {"username": username, "password": password}, **headers)


def last_entry(action="auth.login_failed") -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("sequence")


# --- No proxy configured (the default): the header is ignored ------------------------------------------------------

def test_by_default_no_proxy_is_trusted():
    from django.conf import settings

    assert not settings.TRIALDOCS_TRUSTED_PROXIES


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(world):
    response = login("coordinator-a", "wrong password", remote=PROXY, forwarded=f"{SPOOFED}, {CLIENT}")
    assert response.status_code == 200
    assert last_entry().ip_address == PROXY
    assert login("coordinator-a", PASSWORD, remote=PROXY, forwarded=CLIENT).status_code == 302
    assert last_entry("auth.login").ip_address == PROXY


@override_settings(LOGIN_THROTTLE={"WINDOW_SECONDS": 900, "MAX_FAILURES_PER_USERNAME": 100,
                                   "MAX_FAILURES_PER_ADDRESS": 3})
def test_without_a_trusted_proxy_a_forged_header_does_not_escape_the_address_throttle(world):
    for n in range(3):
        login(f"guess-{n}", "wrong", remote=CLIENT, forwarded=f"192.0.2.{n}")
    assert {e.ip_address for e in AuditEntry.objects.filter(action="auth.login_failed")} == {CLIENT}
    response = login("coordinator-a", PASSWORD, remote=CLIENT, forwarded="192.0.2.200")
    assert response.status_code == 200 and "_auth_user_id" not in response.wsgi_request.session
    assert last_entry("auth.login_throttled").ip_address == CLIENT


# --- A trusted proxy: the client's address is recorded and throttled ----------------------------------------------

@override_settings(TRIALDOCS_TRUSTED_PROXIES=[PROXY])
def test_behind_a_trusted_proxy_the_audit_entry_records_the_client(world):
    # The client wrote an address of its own; the proxy appended the one it saw: only the latter counts.
    response = login("coordinator-a", "wrong password", remote=PROXY, forwarded=f"{SPOOFED}, {CLIENT}")
    assert response.status_code == 200
    assert last_entry().ip_address == CLIENT
    assert response.wsgi_request.META["TRIALDOCS_PROXY_ADDR"] == PROXY
    assert login("coordinator-a", PASSWORD, remote=PROXY, forwarded=CLIENT).status_code == 302
    assert last_entry("auth.login").ip_address == CLIENT


@override_settings(TRIALDOCS_TRUSTED_PROXIES=[PROXY])
def test_a_request_that_bypasses_the_proxy_is_not_believed(world):
    login("coordinator-a", "wrong password", remote=SPOOFED, forwarded=CLIENT)
    assert last_entry().ip_address == SPOOFED


@override_settings(TRIALDOCS_TRUSTED_PROXIES="1")
def test_a_number_of_proxies_takes_the_entry_the_nearest_proxy_appended(world):
    login("coordinator-a", "wrong password", remote="127.0.0.1", forwarded=f"{SPOOFED}, {CLIENT}")
    assert last_entry().ip_address == CLIENT


@override_settings(TRIALDOCS_TRUSTED_PROXIES=[PROXY], LOGIN_THROTTLE={
    "WINDOW_SECONDS": 900, "MAX_FAILURES_PER_USERNAME": 100, "MAX_FAILURES_PER_ADDRESS": 3})
def test_behind_a_trusted_proxy_the_address_throttle_counts_each_client_apart(world):
    for n in range(3):  # the client varies what it writes in the header: it still lands on its own address
        login(f"guess-{n}", "wrong", remote=PROXY, forwarded=f"192.0.2.{n}, {CLIENT}")
    assert {e.ip_address for e in AuditEntry.objects.filter(action="auth.login_failed")} == {CLIENT}
    throttled = login("coordinator-a", PASSWORD, remote=PROXY, forwarded=CLIENT)
    assert throttled.status_code == 200 and "_auth_user_id" not in throttled.wsgi_request.session
    assert last_entry("auth.login_throttled").ip_address == CLIENT
    # Another client through the same proxy is not blocked by the first one's failures.
    assert login("coordinator-a", PASSWORD, remote=PROXY, forwarded="203.0.113.10").status_code == 302


@override_settings(TRIALDOCS_TRUSTED_PROXIES=[PROXY])
def test_the_request_id_and_every_other_entry_of_the_request_carry_the_client(world):
    login("coordinator-a", PASSWORD, remote=PROXY, forwarded=CLIENT)
    entry = last_entry("auth.login")
    assert entry.ip_address == CLIENT and entry.request_id


# --- The rule itself ------------------------------------------------------------------------------------------------

NETS = parse_trusted_proxies("10.0.0.0/24, 2001:db8:1::/64")


@pytest.mark.parametrize(("remote", "forwarded", "trusted", "expected"), [
    # Nothing trusted: REMOTE_ADDR, whatever the header says.
    ("10.0.0.2", "203.0.113.9", (), "10.0.0.2"),
    ("10.0.0.2", "203.0.113.9", 0, "10.0.0.2"),
    # A trusted proxy: the rightmost entry that is not a trusted proxy.
    ("10.0.0.2", "203.0.113.9", NETS, "203.0.113.9"),
    ("10.0.0.2", "198.51.100.66, 203.0.113.9", NETS, "203.0.113.9"),
    ("10.0.0.2", "198.51.100.66, 203.0.113.9, 10.0.0.7", NETS, "203.0.113.9"),  # two proxies of the network
    ("10.0.0.2", "10.0.0.5, 10.0.0.7", NETS, "10.0.0.5"),  # every hop a proxy: the leftmost
    ("10.0.0.2", "", NETS, "10.0.0.2"),  # a request made by the proxy itself
    ("10.0.0.2", None, NETS, "10.0.0.2"),
    ("192.0.2.1", "203.0.113.9", NETS, "192.0.2.1"),  # not from the proxy: header ignored
    ("10.0.0.2", "203.0.113.9, unknown", NETS, "10.0.0.2"),  # not an address: stop at the last trusted hop
    ("10.0.0.2", "garbage, 203.0.113.9", NETS, "203.0.113.9"),  # the client's own garbage is never read
    ("10.0.0.2", " 203.0.113.9:51234 ", NETS, "203.0.113.9"),  # with a port
    ("10.0.0.2", "[2001:db8::5]:443", NETS, "2001:db8::5"),
    ("2001:db8:1::2", "2001:db8::5", NETS, "2001:db8::5"),
    ("::ffff:10.0.0.2", "203.0.113.9", NETS, "203.0.113.9"),  # IPv4-mapped proxy address
    ("10.0.0.2", "203.0.113.9,,", NETS, "203.0.113.9"),
    # A number of proxies: the N-th entry from the right; fewer entries, REMOTE_ADDR.
    ("127.0.0.1", "198.51.100.66, 203.0.113.9", 1, "203.0.113.9"),
    ("127.0.0.1", "198.51.100.66, 203.0.113.9, 10.0.0.7", 2, "203.0.113.9"),
    ("127.0.0.1", "203.0.113.9", 2, "127.0.0.1"),
    ("127.0.0.1", "", 1, "127.0.0.1"),
    ("127.0.0.1", "not-an-address", 1, "127.0.0.1"),
    ("", "203.0.113.9", 1, "203.0.113.9"),  # proxy on a Unix socket
])
def test_client_address(remote, forwarded, trusted, expected):
    assert client_address(remote, forwarded, trusted) == expected


@pytest.mark.parametrize(("value", "parsed"), [
    ("", ()), ([], ()), ("0", 0), ("2", 2), (1, 1),
    ("10.0.0.2", ("10.0.0.2/32",)), ("10.0.0.2, 10.1.0.0/16 ::1", ("10.0.0.2/32", "10.1.0.0/16", "::1/128")),
    (["10.0.0.2", "fd00::/8"], ("10.0.0.2/32", "fd00::/8")),
])
def test_setting_values(value, parsed):
    result = parse_trusted_proxies(value)
    assert (result if isinstance(result, int) else tuple(str(n) for n in result)) == parsed


@pytest.mark.parametrize("value", ["proxy.example.org", ["10.0.0.300"], -1, True, "10.0.0.2;10.0.0.3"])
def test_a_malformed_setting_is_refused_at_start(value):
    with pytest.raises(ImproperlyConfigured, match="TRIALDOCS_TRUSTED_PROXIES"):
        parse_trusted_proxies(value)
    with override_settings(TRIALDOCS_TRUSTED_PROXIES=value), pytest.raises(ImproperlyConfigured):
        RequestIdMiddleware(lambda request: None)


def test_production_reads_the_trusted_proxies_from_the_environment(tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "TRIALDOCS_TRUSTED_PROXIES")}
    env = {**base, "DJANGO_SECRET_KEY": "test-only-8f3k2m9q-production-check-key-4b7c1d6e0a5f",
           "DJANGO_ALLOWED_HOSTS": "trialdocs.example.org", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"}
    code = "from cms.middleware import trusted_proxies; print(repr(trusted_proxies()))"

    def shell(extra):
        command = [sys.executable, "manage.py", "shell", "--settings=cms.settings.production", "--no-imports",
                   "-c", code]
        return subprocess.run(command, cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=120)

    unset = shell({})
    assert unset.returncode == 0 and unset.stdout.strip() == "()", unset.stderr
    listed = shell({"TRIALDOCS_TRUSTED_PROXIES": "10.0.0.2, 10.0.1.0/24"})
    assert listed.stdout.strip() == "(IPv4Network('10.0.0.2/32'), IPv4Network('10.0.1.0/24'))", listed.stderr
    assert shell({"TRIALDOCS_TRUSTED_PROXIES": "1"}).stdout.strip() == "1"
