"""The CDISC/DIA TMF Reference Model v3.3.1 taxonomy: zones, sections and artifacts, loaded by a data migration.

Reference data, identical on every installation: documents are filed to an artifact (`regulatory.tmf.artifact`),
and rows are never edited by hand, hence no admin and PROTECT on every foreign key.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TmfZone(models.Model):
    number = models.CharField(_("number"), max_length=2, unique=True, help_text=_("For example 02."))
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("TMF zone")
        verbose_name_plural = _("TMF zones")
        ordering = ["number"]

    def __str__(self):
        return f"{self.number} {self.name}"


class TmfSection(models.Model):
    zone = models.ForeignKey(TmfZone, on_delete=models.PROTECT, related_name="sections", verbose_name=_("zone"))
    number = models.CharField(_("number"), max_length=5, unique=True, help_text=_("For example 02.01."))
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("TMF section")
        verbose_name_plural = _("TMF sections")
        ordering = ["number"]

    def __str__(self):
        return f"{self.number} {self.name}"


class TmfArtifact(models.Model):
    section = models.ForeignKey(
        TmfSection, on_delete=models.PROTECT, related_name="artifacts", verbose_name=_("section")
    )
    number = models.CharField(_("number"), max_length=8, unique=True, help_text=_("For example 02.01.02."))
    name = models.CharField(_("name"), max_length=200)
    definition = models.TextField(_("definition"))
    is_core = models.BooleanField(_("core"), help_text=_("Core rather than recommended for inclusion in the TMF."))
    unique_id = models.PositiveIntegerField(_("unique ID"), unique=True)
    trial_level = models.BooleanField(_("filed at trial level"))
    country_level = models.BooleanField(_("filed at country level"))
    site_level = models.BooleanField(_("filed at site level"))

    class Meta:
        verbose_name = _("TMF artifact")
        verbose_name_plural = _("TMF artifacts")
        ordering = ["number"]

    def __str__(self):
        return f"{self.number} {self.name}"
