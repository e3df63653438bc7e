"""API tokens for programs: issued by an administrator or the trial's sponsor (or an operator at the command line),
shown once, stored hashed, revocable; each issue and revocation is audited."""

import datetime
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regulatory import audit, permissions
from regulatory.models import ApiToken, InvestigationalSite, TrialPage
from regulatory.models.api_tokens import TOKEN_PREFIX, token_digest

MAX_DAYS = 366
DEFAULT_DAYS = 90
MAX_TOKEN_LENGTH = 200  # a longer Authorization value is refused without a lookup


def new_raw_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def api_token_issue(*, actor, user, trial: TrialPage, site: InvestigationalSite | None = None,
                    days: int = DEFAULT_DAYS, label: str = "") -> tuple[ApiToken, str]:
    """A new token and its text (shown once, never stored). `actor` None is the operator at the command line;
    a person must be an administrator or the trial's sponsor. The token's user must already read the trial (or the
    site): a token never reads more than its user."""
    if actor is not None and not permissions.can_issue_api_token(actor, trial):
        raise PermissionDenied
    if site is not None and site.trial_id != trial.pk:
        raise ValidationError(_("Site %(site)s is not a site of %(trial)s.")
                              % {"site": site.code, "trial": trial.nct_number})
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise ValidationError(_("A token lasts 1 to %(max)s days.") % {"max": MAX_DAYS})
    if not user.is_active:
        raise ValidationError(_("The account %(user)s is not active.") % {"user": user.get_username()})
    if not permissions.api_token_may_read_scope(user, trial, site):
        raise ValidationError(_("The account %(user)s does not read %(scope)s: a token never reads more than its "
                                "account.") % {"user": user.get_username(),
                                               "scope": site.code if site else trial.nct_number})
    raw = new_raw_token()
    now = timezone.now()
    token = ApiToken.objects.create(
        digest=token_digest(raw), hint=raw[:10], label=label[:120], user=user, trial=trial, site=site,
        created_at=now, created_by=actor, expires_at=now + datetime.timedelta(days=days))
    audit.record(actor=actor, action="api_token.issued", obj=token, changes={
        "user": [None, user.get_username()], "site": [None, site.code if site else "*"],
        "expires_at": [None, token.expires_at], "hint": [None, token.hint]})
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor, token: ApiToken, reason: str = "") -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if actor is not None and not permissions.can_revoke_api_token(actor, token):
        raise PermissionDenied
    if token.revoked_at is not None:
        raise ValidationError(_("This token is already revoked."))
    token.revoked_at = timezone.now()
    token.revoked_by = actor
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(actor=actor, action="api_token.revoked", obj=token, reason=reason,
                 changes={"revoked_at": [None, token.revoked_at]})
    return token


def api_token_lookup(raw: str) -> ApiToken | None:
    """The token whose text this is (revoked and expired ones too: the caller decides), or None. One query."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH or not raw.isascii() or not raw.isprintable():
        return None
    return (ApiToken.objects.select_related("user", "trial", "site")
            .filter(digest=token_digest(raw)).first())


def api_token_touch(token: ApiToken) -> None:
    """Note its last use (one UPDATE, no audit entry: the call itself is audited by the API)."""
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
