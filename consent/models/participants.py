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
        SCREEN_FAILURE = "screen_failure", _("Screen failure (not included)")
        REGISTERED_IN_ERROR = "registered_in_error", _("Registered in error")

    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT, related_name="participants",
                             verbose_name=_("site"))
    number = models.PositiveIntegerField(_("number"))
    code = models.CharField(_("code"), max_length=16)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.SCREENING)
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
        # Not a consent (yet, or at all): neither counts as one in status, lists, exports or FHIR.
        PENDING = "pending", _("Awaiting the investigator's countersignature (not a consent yet)")
        DECLINED = "declined", _("Ceremony ended: a required signer declined (no consent)")

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
        TYPED = "typed", _("Full name typed by the signer (keyboard)")
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
    information_shown_at = models.DateTimeField(_("information note shown on the screen at"), null=True, blank=True)
    information_seconds = models.PositiveIntegerField(_("information note read for (seconds)"), null=True,
                                                      blank=True)
    pdf = models.FileField(_("signed PDF"), upload_to="signed/consents/")
    pdf_sha256 = models.CharField(_("SHA-256 of the signed PDF"), max_length=64, unique=True)
    content_sha256 = models.CharField(_("SHA-256 of the form version's content"), max_length=64)
    verification_token = models.CharField(_("verification token"), max_length=24, unique=True)
    pdf_signer = models.CharField(_("PDF signed by"), max_length=255)
    # The ceremony: every signer in order with their manifestation, and the comprehension questions as answered.
    signer_cannot_read = models.BooleanField(_("the signer cannot read (impartial witness required)"),
                                             default=False)
    ceremony = models.JSONField(_("signers of the ceremony"), default=list, blank=True)
    comprehension = models.JSONField(_("comprehension questions and answers"), default=list, blank=True)
    # A consent given remotely by a relative (`consent/services/remote.py`): who invited, when the one-time code
    # was verified and when the relative signed (the addresses and IPs stay with the invitation and the audit trail).
    remote = models.JSONField(_("remote consent"), default=dict, blank=True)
    declined_by = models.CharField(_("declined by"), max_length=255, blank=True)
    declined_at = models.DateTimeField(_("declined at"), null=True, blank=True)
    countersignature_due_by = models.DateTimeField(_("countersignature due by"), null=True, blank=True)
    countersigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                         related_name="+", verbose_name=_("countersigned by"))
    countersigned_at = models.DateTimeField(_("countersigned at"), null=True, blank=True)

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


class ConsentRecordRevision(models.Model):
    """An earlier signed revision of a record's PDF, kept inside the current one (incremental update) and known by
    its hash, so that a copy handed out before a later signature (the countersignature) is still recognised."""

    record = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="revisions",
                               verbose_name=_("consent record"))
    number = models.PositiveIntegerField(_("revision"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    superseded_at = models.DateTimeField(_("superseded at"), auto_now_add=True)
    superseded_because = models.CharField(_("superseded because"), max_length=120)

    class Meta:
        verbose_name = _("earlier revision of a consent PDF")
        verbose_name_plural = _("earlier revisions of consent PDFs")
        ordering = ["record", "number"]
        constraints = [models.UniqueConstraint(fields=["record", "number"], name="consent_revision_unique")]

    def __str__(self):
        return f"{self.record} — r{self.number}"


class ConsentTask(models.Model):
    """Something to do for a participant: a continuation consent after surrogate or emergency inclusion (by the
    patient, or by a representative while the patient cannot consent), the patient's own consent still due after
    a representative's continuation, or a re-consent after a newer version of a form took effect at the site."""

    class Kind(models.TextChoices):
        CONTINUATION = "continuation", _("Continuation consent")
        PATIENT_CONSENT = "patient_consent", _("Patient's own consent, as soon as able")
        RECONSENT = "reconsent", _("Re-consent")
        # A non-substantive change of a form: the participant is told of it, no new signature; closed with a note.
        INFORM = "inform", _("Inform of the new version (no new signature)")

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
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("closed by (person)"))
    closed_note = models.TextField(_("note"), blank=True)

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


class Withdrawal(models.Model):
    """One thing a participant stopped, from a date: study treatment, follow-up visits, further data collection,
    or (an objection, where the law allows it: EU CTR art. 28(3), CSP) the use of data already collected. A scope
    stops the ones before it in `Scope.ORDER` too (no follow-up without stopping the treatment); those are written
    as rows of their own, `implied_by` naming the scope that stopped them. Written once, never changed."""

    class Scope(models.TextChoices):
        TREATMENT = "treatment", _("Study treatment")
        FOLLOW_UP = "follow_up", _("Follow-up visits")
        DATA_COLLECTION = "data_collection", _("Further data collection")
        DATA_USE = "data_use", _("Use of the data already collected (objection)")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="withdrawals",
                                    verbose_name=_("participant"))
    scope = models.CharField(_("what stops"), max_length=16, choices=Scope.choices)
    at = models.DateTimeField(_("from"))
    reason = models.TextField(_("reason or how it was expressed"), blank=True)
    implied_by = models.CharField(_("stopped by the withdrawal from"), max_length=16, choices=Scope.choices,
                                  blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        ordering = ["participant", "at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "scope"], name="one_withdrawal_per_participant_scope"),
        ]

    def __str__(self):
        return f"{self.participant.code} — {self.get_scope_display()}"


# Each scope stops those before it (an objection to using the data collected ends any collection and visit).
WITHDRAWAL_ORDER = (Withdrawal.Scope.TREATMENT, Withdrawal.Scope.FOLLOW_UP, Withdrawal.Scope.DATA_COLLECTION,
                    Withdrawal.Scope.DATA_USE)
# From the withdrawal from follow-up on, the participant no longer takes part (status Withdrawn, tasks closed).
WITHDRAWAL_ENDS_PARTICIPATION = Withdrawal.Scope.FOLLOW_UP
