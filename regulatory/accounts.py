"""Login throttling: failed logins are audit entries, and the audit trail is what gets counted.

Brute force is kept out without handing anyone a way to lock a colleague out (21 CFR 11.300(d)):

- per user name *and* client address together, a few failures are free, then each further one makes that pair wait
  longer before the next try (30 s, 1 min, 2 min… up to 15 min): a guesser gets a handful of tries an hour, while
  the same user on another workstation, and everyone else behind the same address (a ward's NAT), log in as usual;
- per account, from every address together, a limit high enough that only an attack reaches it (50 failures in an
  hour): then the account is suspended everywhere until the hour has passed, and its owner is told by e-mail;
- per address, for every user name together, a limit high enough for a ward (100 failures in 15 minutes), against
  one machine spraying passwords over many accounts.

A successful login clears the failures of its user name before it. Every refusal is audited
(`auth.login_throttled`), and the first throttle of an account in an hour e-mails its owner and is audited
(`auth.throttle_notified`). Signing a consent, and approving a version in the review workflow, ask for the user
name and password again (`signature_components_match`) and follow the same rules: wrong passwords typed at signing
count, and signing is refused while the pair or the account is throttled (`signing_suspended`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from .models import AuditEntry

LOGIN = "auth.login"
LOGIN_FAILED = "auth.login_failed"
LOGIN_THROTTLED = "auth.login_throttled"
THROTTLE_NOTIFIED = "auth.throttle_notified"

DEFAULTS = {
    "WINDOW_SECONDS": 15 * 60,  # failures of a user name from an address count over this window
    "FREE_FAILURES": 4,  # failures of a user name from an address before delays start
    "FIRST_DELAY_SECONDS": 30,  # the wait after the first failure beyond them, doubled at each further one
    "MAX_DELAY_SECONDS": 15 * 60,
    "ACCOUNT_WINDOW_SECONDS": 60 * 60,
    "MAX_FAILURES_PER_ACCOUNT": 50,  # from every address together: only an attack reaches it
    "MAX_FAILURES_PER_ADDRESS": 100,  # for every user name together, within WINDOW_SECONDS
}


def limits() -> dict:
    return {**DEFAULTS, **settings.LOGIN_THROTTLE}


@dataclass(frozen=True)
class Throttle:
    """Why attempts are refused now, and until when."""

    reason: str  # "pair", "account" or "address"
    until: datetime

    @property
    def seconds_left(self) -> int:
        return max(1, int((self.until - timezone.now()).total_seconds()) + 1)


def current_address() -> str | None:
    """The client address of the request being served (as the audit trail records it), or None."""
    from cms.middleware import current_request

    info = current_request.get()
    return info.ip_address if info else None


def delay_after(failures: int) -> timedelta:
    """The wait imposed after `failures` failures of one user name from one address (none while they are few)."""
    rules = limits()
    beyond = failures - rules["FREE_FAILURES"]
    if beyond <= 0:
        return timedelta(0)
    return timedelta(seconds=min(rules["FIRST_DELAY_SECONDS"] * 2 ** (beyond - 1), rules["MAX_DELAY_SECONDS"]))


def throttle(*, username: str, ip_address: str | None, by_address: bool = True) -> Throttle | None:
    """The throttle in force for this user name from this address, or None when an attempt may be made.

    `by_address=False` leaves out the limit per address (signing: a colleague's typos at the same workstation
    must not stop a consent being recorded)."""
    rules = limits()
    now = timezone.now()
    failures = AuditEntry.objects.filter(action=LOGIN_FAILED)
    if username:
        last_success = AuditEntry.objects.filter(
            action=LOGIN, object_repr__iexact=username,
            timestamp__gte=now - timedelta(seconds=rules["ACCOUNT_WINDOW_SECONDS"]),
        ).aggregate(at=Max("timestamp"))["at"]
        mine = failures.filter(object_repr__iexact=username)
        if last_success:
            mine = mine.filter(timestamp__gt=last_success)
        account = mine.filter(timestamp__gte=now - timedelta(seconds=rules["ACCOUNT_WINDOW_SECONDS"]))
        account_count = account.count()
        if account_count >= rules["MAX_FAILURES_PER_ACCOUNT"]:
            # Suspended until enough of these failures have left the window.
            oldest = account.order_by("-timestamp").values_list("timestamp", flat=True)[
                rules["MAX_FAILURES_PER_ACCOUNT"] - 1]
            return Throttle("account", oldest + timedelta(seconds=rules["ACCOUNT_WINDOW_SECONDS"]))
        pair = mine.filter(timestamp__gte=now - timedelta(seconds=rules["WINDOW_SECONDS"] + rules["MAX_DELAY_SECONDS"]))
        pair = pair.filter(ip_address=ip_address) if ip_address else pair.filter(ip_address__isnull=True)
        stats = pair.aggregate(last=Max("timestamp"))
        count = pair.count()
        if count and now < stats["last"] + delay_after(count):
            return Throttle("pair", stats["last"] + delay_after(count))
    if by_address and ip_address:
        since = now - timedelta(seconds=rules["WINDOW_SECONDS"])
        from_address = failures.filter(ip_address=ip_address, timestamp__gte=since)
        if from_address.count() >= rules["MAX_FAILURES_PER_ADDRESS"]:
            oldest = from_address.order_by("-timestamp").values_list("timestamp", flat=True)[
                rules["MAX_FAILURES_PER_ADDRESS"] - 1]
            return Throttle("address", oldest + timedelta(seconds=rules["WINDOW_SECONDS"]))
    return None


def login_throttled(*, username: str, ip_address: str | None) -> bool:
    """True when an attempt to log in as `username` from `ip_address` is refused now (see `throttle`)."""
    return throttle(username=username, ip_address=ip_address) is not None


def record_failure(*, username: str, account=None, actor=None, reason: str = "") -> None:
    """Audit a failed login (or a wrong password at signing) and, if it throttles the account for the first time
    in the account window, tell the account's owner by e-mail (once the transaction commits) and audit it."""
    from . import audit

    username = (username or "")[:150]
    audit.record(actor=actor, action=LOGIN_FAILED, obj=account, object_repr=username, reason=reason)
    if account is None or not username:
        return
    found = throttle(username=username, ip_address=current_address(), by_address=False)
    if found is None:
        return
    rules = limits()
    since = timezone.now() - timedelta(seconds=rules["ACCOUNT_WINDOW_SECONDS"])
    if AuditEntry.objects.filter(action=THROTTLE_NOTIFIED, object_repr__iexact=username, timestamp__gte=since).exists():
        return
    failures = AuditEntry.objects.filter(action=LOGIN_FAILED, object_repr__iexact=username, timestamp__gte=since)
    audit.record(actor=None, action=THROTTLE_NOTIFIED, obj=account, object_repr=username,
                 changes={"failures": [None, failures.count()], "throttle": [None, found.reason],
                          "e-mail": [None, bool(account.email)]})
    if account.email:
        _tell_owner(account, failures=failures.count(), address=current_address(), throttle=found)


def _tell_owner(account, *, failures: int, address: str | None, throttle: Throttle) -> None:
    from django.core.mail import send_mail
    from django.db import transaction
    from django.utils import translation
    from django.utils.translation import gettext as _

    from .mail import formal, user_language

    with translation.override(user_language(account)):  # the owner's language, whatever the request's
        subject = _("TrialDocs: failed attempts to log in to your account")
        body = formal([_(
            "There were %(count)s failed attempts to log in as %(username)s in the last hour, the last one from the "
            "address %(address)s.\n\n"
            "%(what)s\n\n"
            "If it was you, wait and try again. If it was not, tell your administrator: your password may be known "
            "to someone else, and should be changed."
        ) % {"count": failures, "username": account.get_username(), "address": address or _("unknown"),
             "what": _("Logging in and signing are suspended for this account until %(until)s.")
             % {"until": timezone.localtime(throttle.until).strftime("%d/%m/%Y %H:%M")}
             if throttle.reason == "account" else
             _("Attempts from that address wait a little longer after each failure; from anywhere else, you log in "
               "as usual.")}])
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [account.email],
                                            fail_silently=True))


def signing_suspended(user) -> bool:
    """The login throttle is in force for this user name from this workstation, or for the account everywhere
    (too many wrong passwords, at login or at signing): signing is refused as logging in is. The limit per address
    is left out: other users' typos behind the hospital's proxy do not stop signing."""
    return throttle(username=user.get_username(), ip_address=current_address(), by_address=False) is not None


def signature_components_match(actor, username: str, password: str, *, what: str = "signing") -> bool:
    """Both components of an electronic signature (21 CFR 11.200(a)(1)) belong to the logged-in account.

    A wrong password is a failed login of this account (Django's `user_login_failed`, audited by
    `regulatory.receivers`) and counts towards its throttle. Another user name, even another user's right one,
    is a failed signing too: audited as a failed login of this account, and the password is then not tried."""
    from django.contrib.auth import authenticate

    if (username or "").strip() != actor.get_username():
        record_failure(username=actor.get_username(), account=actor, actor=actor,
                       reason=f"{what}: the user name typed is not the logged-in account's")
        return False
    return authenticate(username=actor.get_username(), password=password or "") == actor
