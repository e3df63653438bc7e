from django.db import models
from django.utils.translation import gettext_lazy as _


class TrialCollection(models.Model):
    """A Wagtail document collection that belongs to one trial, readable by one audience of that trial.

    Documents are served only through Wagtail's serve view, which asks `regulatory.permissions`.
    """

    class Audience(models.TextChoices):
        TRIAL = "trial", _("Everyone with a role in the trial (protocol documents)")
        TRIAL_WIDE = "trial_wide", _("Sponsor, quality assurance and inspectors (regulatory correspondence)")

    collection = models.OneToOneField("wagtailcore.Collection", on_delete=models.PROTECT, related_name="trial_scope")
    trial = models.ForeignKey("regulatory.TrialPage", on_delete=models.PROTECT, related_name="collections")
    audience = models.CharField(_("audience"), max_length=12, choices=Audience.choices)

    class Meta:
        verbose_name = _("trial collection")
        verbose_name_plural = _("trial collections")
        ordering = ["trial", "audience"]
        constraints = [models.UniqueConstraint(fields=["trial", "audience"], name="one_collection_per_audience")]

    def __str__(self):
        return f"{self.trial.nct_number} — {self.get_audience_display()}"
