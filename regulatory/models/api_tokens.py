"""API tokens: a program reads a trial (or one of its sites) through the FHIR API with a bearer token.

The token itself is shown once, when it is issued; only its SHA-256 is stored (a token is 256 random bits, so a plain
hash is as strong as a slow one and lets a request find its row in one indexed lookup). What a token may read is
decided in `regulatory.permissions` (`api_token_usable`, `api_token_sites`): never more than its user may read, never
outside its trial or its site, and nothing once expired or revoked.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "tdk_"  # noqa: S105  # nosec B105  # the prefix of every token, not a secret


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def live(self, at=None):
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=at)


class ApiToken(models.Model):
    """A read-only bearer token for programs, scoped to one trial or to one of its sites, with an expiry date."""

    digest = models.CharField(_("SHA-256 of the token"), max_length=64, unique=True, editable=False)
    hint = models.CharField(_("start of the token"), max_length=12, editable=False,
                            help_text=_("The first characters of the token, to recognise it; never the whole."))
    label = models.CharField(_("label"), max_length=120, blank=True,
                             help_text=_("What the program is, e.g. the EDC of the sponsor."))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fhir_api_tokens",
                             verbose_name=_("reads as"))
    trial = models.ForeignKey("regulatory.TrialPage", on_delete=models.PROTECT, related_name="api_tokens",
                              verbose_name=_("trial"))
    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="fhir_api_tokens", verbose_name=_("site"),
                             help_text=_("None: every site of the trial its user may read."))
    created_at = models.DateTimeField(_("issued at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("issued by"))
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("revoked by"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("FHIR API token")
        verbose_name_plural = _("FHIR API tokens")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")),
                                   name="api_token_expires_after_issue"),
        ]

    def __str__(self):
        scope = self.site.code if self.site_id else "*"
        return f"{self.hint}… ({self.user} · {scope})"

    def is_live(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.expires_at > at
