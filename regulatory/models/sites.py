from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

site_code_validator = RegexValidator(
    r"^[A-Z]{2,6}$", _("A site code is 2 to 6 capital letters, e.g. DIJ.")
)
country_validator = RegexValidator(r"^[A-Z]{2}$", _("Use the two-letter ISO 3166 country code, e.g. FR."))


class InvestigationalSite(models.Model):
    """A hospital that recruits participants for a trial (not Wagtail's `Site`)."""

    class Status(models.TextChoices):
        PENDING = "PENDING", _("Pending activation")
        ACTIVE = "ACTIVE", _("Active")
        ON_HOLD = "ON_HOLD", _("On hold")
        CLOSED = "CLOSED", _("Closed")

    trial = models.ForeignKey(
        "regulatory.TrialPage", on_delete=models.PROTECT, related_name="sites", verbose_name=_("trial")
    )
    code = models.CharField(
        _("code"), max_length=6, validators=[site_code_validator],
        help_text=_("Prefix of participant codes at this site, e.g. DIJ gives DIJ-0001."),
    )
    name = models.CharField(_("name"), max_length=200)
    city = models.CharField(_("city"), max_length=120)
    country = models.CharField(_("country"), max_length=2, default="FR", validators=[country_validator])
    principal_investigator = models.CharField(_("principal investigator"), max_length=200)
    principal_investigator_account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("principal investigator's account"),
        help_text=_("The investigator of the site who signs its delegation log."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    activation_date = models.DateField(_("activation date"), null=True, blank=True)
    is_demo = models.BooleanField(
        _("demonstration site"), default=False,
        help_text=_("Fictional site shown in the demonstration only."),
    )

    class Meta:
        verbose_name = _("investigational site")
        verbose_name_plural = _("investigational sites")
        ordering = ["trial", "code"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "code"], name="site_code_unique_per_trial"),
        ]
        permissions = [
            ("access_site", _("Consult the site, its team and its records")),
            ("acknowledge_amendment", _("Acknowledge the amendments that take effect at the site")),
            ("record_consent", _("Register participants and record their consents at the site")),
        ]

    def __str__(self):
        return f"{self.code} — {self.name}"


class SiteUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(InvestigationalSite, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("user permission on a site")
        verbose_name_plural = _("user permissions on sites")


class SiteGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(InvestigationalSite, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("group permission on a site")
        verbose_name_plural = _("group permissions on sites")
