"""Participants (pseudonymous codes only), their consent records with signed PDFs, and their consent tasks."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from regulatory.models import ConsentKind


class Participant(models.Model):
    """A participant of one site, known here by a code only (DIJ-0001): no name, no date of birth."""

    class Status(models.TextChoices):
        SCREENING = "screening", _("Screening")
        INCLUDED = "included", _("Included")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        COMPLETED = "completed", _("Completed")
        DECEASED = "deceased", _("Deceased")

    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT, related_name="participants",
                             verbose_name=_("site"))
    number = models.PositiveIntegerField(_("number"))
    code = models.CharField(_("code"), max_length=16)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCREENING)
    inclusion_path = models.CharField(_("included through"), max_length=16, choices=ConsentKind.choices, blank=True)
    included_at = models.DateTimeField(_("included at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("participation ended at"), null=True, blank=True)
    end_reason = models.TextField(_("why participation ended"), blank=True)
    objects_to_data_use = models.BooleanField(
        _("objects to the use of data already collected"), null=True, blank=True)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("registered by"))

    ACTIVE = (Status.SCREENING, Status.INCLUDED)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["site", "number"]
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="participant_number_unique_per_site"),
            models.UniqueConstraint(fields=["site", "code"], name="participant_code_unique_per_site"),
        ]

    def __str__(self):
        return self.code

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class ParticipantCounter(models.Model):
    """The last number given at a site; locked while a new participant is registered, so codes have no gaps."""

    site = models.OneToOneField("regulatory.InvestigationalSite", on_delete=models.PROTECT, primary_key=True,
                                related_name="participant_counter")
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("participant counter")
        verbose_name_plural = _("participant counters")

    def __str__(self):
        return f"{self.site_id}: {self.last_number}"


class ConsentRecord(models.Model):
    """Who consented (or refused), to which frozen version, when, in what capacity, obtained by whom; with the
    signed PDF that proves it. Written once, never changed: a later event is a new record."""

    class Outcome(models.TextChoices):
        CONSENTED = "consented", _("Consented")
        REFUSED = "refused", _("Refused")

    class SignerRole(models.TextChoices):
        PARTICIPANT = "participant", _("Participant")
        SURROGATE = "surrogate", _("Surrogate")
        # A relative or the trusted person who consents to continuation for a patient still unable to consent
        # (EU CTR art. 35(2), CSP L1122-1-2); the patient's own consent is then still due.
        REPRESENTATIVE = "representative", _("Representative (relative or trusted person), for a patient unable "
                                             "to consent")
        INVESTIGATOR = "investigator", _("Investigator (emergency inclusion)")

    class SignatureSource(models.TextChoices):
        DRAWN = "drawn", _("Drawn on the screen")
        SCAN = "scan", _("Scan of the signed paper form")
        NONE = "none", _("None (attestation by the investigator)")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="consents",
                                    verbose_name=_("participant"))
    sequence = models.PositiveIntegerField(_("sequence"))
    version = models.ForeignKey("consent.ConsentFormVersionPage", on_delete=models.PROTECT, related_name="records",
                                verbose_name=_("form version"))
    kind = models.CharField(_("kind"), max_length=16, choices=ConsentKind.choices)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    signed_at = models.DateTimeField(_("signed at"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    obtained_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("obtained by"))
    obtained_by_name = models.CharField(_("obtained by (printed name)"), max_length=255)
    obtained_by_role = models.CharField(_("obtained by (role)"), max_length=64)
    signer_role = models.CharField(_("signer"), max_length=16, choices=SignerRole.choices)
    surrogate_relationship = models.CharField(_("relationship to the participant"), max_length=120, blank=True)
    independence_attested = models.BooleanField(_("independent of investigator and sponsor"), default=False)
    emergency_conditions_attested = models.BooleanField(_("emergency conditions attested"), default=False)
    patient_unable_attested = models.BooleanField(_("patient still unable to consent (attested)"), default=False)
    no_prior_objection_attested = models.BooleanField(_("no known prior objection"), default=False)
    witness_name = models.CharField(_("witness"), max_length=255, blank=True)
    statements = models.JSONField(_("statements and answers"), default=list)
    objects_to_data_use = models.BooleanField(_("objects to the use of data already collected"), null=True,
                                              blank=True)
    signature_source = models.CharField(_("hand signature"), max_length=8, choices=SignatureSource.choices)
    pdf = models.FileField(_("signed PDF"), upload_to="signed/consents/")
    pdf_sha256 = models.CharField(_("SHA-256 of the signed PDF"), max_length=64, unique=True)
    content_sha256 = models.CharField(_("SHA-256 of the form version's content"), max_length=64)
    verification_token = models.CharField(_("verification token"), max_length=24, unique=True)
    pdf_signer = models.CharField(_("PDF signed by"), max_length=255)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["participant", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "sequence"], name="consent_sequence_unique"),
        ]

    def __str__(self):
        return f"{self.participant.code} — {self.get_kind_display()} v{self.version.version_number} " \
               f"({self.get_outcome_display()})"


class ConsentTask(models.Model):
    """Something to do for a participant: a continuation consent after surrogate or emergency inclusion (by the
    patient, or by a representative while the patient cannot consent), the patient's own consent still due after
    a representative's continuation, or a re-consent after a newer version of a form took effect at the site."""

    class Kind(models.TextChoices):
        CONTINUATION = "continuation", _("Continuation consent")
        PATIENT_CONSENT = "patient_consent", _("Patient's own consent, as soon as able")
        RECONSENT = "reconsent", _("Re-consent")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="tasks",
                                    verbose_name=_("participant"))
    kind = models.CharField(_("task"), max_length=16, choices=Kind.choices)
    form_kind = models.CharField(_("form"), max_length=16, choices=ConsentKind.choices)
    target_version = models.ForeignKey("consent.ConsentFormVersionPage", on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="+", verbose_name=_("version to consent to"))
    opens_at = models.DateTimeField(_("to do from"))
    due_at = models.DateTimeField(_("due by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by_record = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, null=True, blank=True,
                                         related_name="closed_tasks", verbose_name=_("closed by"))
    closed_reason = models.CharField(_("why closed"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("consent task")
        verbose_name_plural = _("consent tasks")
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "kind", "form_kind"], condition=Q(closed_at__isnull=True),
                                    name="one_open_task_per_participant_kind_form"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.participant.code}"

    @property
    def is_reminder(self) -> bool:
        """The patient's own consent after a representative's is asked as soon as the patient is able, which no
        date can say: its date is when to reassess the patient's capacity again, never a missed deadline."""
        return self.kind == self.Kind.PATIENT_CONSENT
