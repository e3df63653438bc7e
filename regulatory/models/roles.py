from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    SPONSOR = "sponsor", _("Sponsor")
    SPONSOR_QA = "sponsor_qa", _("Sponsor quality assurance")
    TMF_QC = "tmf_qc", _("TMF quality control")
    INSPECTOR = "inspector", _("Inspector")
    INVESTIGATOR = "investigator", _("Investigator")
    COORDINATOR = "coordinator", _("Study coordinator")


TRIAL_ROLES = (Role.SPONSOR, Role.SPONSOR_QA, Role.TMF_QC, Role.INSPECTOR)
SITE_ROLES = (Role.INVESTIGATOR, Role.COORDINATOR)


class RoleGroup(models.Model):
    """The Django group that carries one role on one trial (sponsor, inspector) or one site (site staff).

    Holding the role is being a member of the group; what the role allows is the guardian object
    permissions given to the group, decided in `regulatory.permissions`.
    """

    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="trial_role")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    trial = models.ForeignKey(
        "regulatory.TrialPage", on_delete=models.PROTECT, related_name="role_groups", verbose_name=_("trial")
    )
    site = models.ForeignKey(
        "regulatory.InvestigationalSite", on_delete=models.PROTECT, null=True, blank=True,
        related_name="role_groups", verbose_name=_("site"),
    )

    class Meta:
        verbose_name = _("role group")
        verbose_name_plural = _("role groups")
        ordering = ["trial", "site", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "role"], condition=Q(site__isnull=True), name="one_group_per_trial_role"
            ),
            models.UniqueConstraint(fields=["site", "role"], name="one_group_per_site_role"),
            models.CheckConstraint(
                condition=(Q(role__in=[r.value for r in TRIAL_ROLES]) & Q(site__isnull=True))
                | (Q(role__in=[r.value for r in SITE_ROLES]) & Q(site__isnull=False)),
                name="site_roles_have_a_site",
            ),
        ]

    def __str__(self):
        return self.group.name
