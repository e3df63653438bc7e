"""The CDISC/DIA TMF Reference Model v3.3.1 taxonomy: zones, sections and artifacts, loaded by a data migration.

Reference data, identical on every installation: documents are filed to an artifact (`regulatory.tmf.artifact`),
and rows are never edited by hand, hence no admin and PROTECT on every foreign key.
"""

from django.conf import settings
from django.db import NotSupportedError, models
from django.db.models import Expression, F, Q
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


class TmfLevel(models.TextChoices):
    TRIAL = "trial", _("Trial")
    COUNTRY = "country", _("Country")
    SITE = "site", _("Site")


class QcStatus(models.TextChoices):
    PENDING = "pending", _("Pending QC")
    APPROVED = "approved", _("QC approved")
    REJECTED = "rejected", _("QC rejected")


# The order of the documents of one artifact (the artifact page), on the document's own columns only, as
# tmf_listing_order_idx: sites come in the order they were created, not by code ("site_id", since ordering by "site"
# would follow InvestigationalSite's own ordering through a join).
LISTING_ORDER = ("level", "site_id", "series", "-document_date", "-pk")


class TmfDocument(models.Model):
    """One document filed in a trial's TMF, at trial, country or site level.

    Filed automatically (`regulatory.tmf.filing`: the source object is named by `source_type`/`source_id`, and its
    content is produced from it) or uploaded by hand (`file`). Rows are never deleted: a newer version of the
    same `series` marks the older one superseded.

    On PostgreSQL the table also has `search_vector`, a stored generated column (French `tsvector` of `title`,
    weight A, and `search_text`, weight B) with the GIN index `tmf_search_vector_gin` (migration 0010). It is not
    a model field, so Django never writes it (inserts and `bulk_create` leave it to PostgreSQL) and SQLite has
    none; queries read it through `SearchVectorColumn`. PostgreSQL refuses to change the type of a column a
    generated column reads: a migration altering `title` or `search_text` must drop `search_vector` first and
    add it again after (the SQL of migration 0010).
    """

    class Status(models.TextChoices):
        CURRENT = "current", _("Current")
        APPROVED = "approved", _("Approved, not yet in force")
        SUPERSEDED = "superseded", _("Superseded")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        DRAFT = "draft", _("Draft")

    trial = models.ForeignKey("regulatory.TrialPage", on_delete=models.PROTECT, related_name="tmf_documents",
                              verbose_name=_("trial"))
    artifact = models.ForeignKey(TmfArtifact, on_delete=models.PROTECT, related_name="documents",
                                 verbose_name=_("artifact"))
    level = models.CharField(_("level"), max_length=8, choices=TmfLevel.choices)
    country = models.CharField(_("country"), max_length=2, blank=True,
                               help_text=_("Two-letter ISO code, for country- and site-level documents."))
    site = models.ForeignKey("regulatory.InvestigationalSite", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="tmf_documents", verbose_name=_("site"))
    title = models.CharField(_("title"), max_length=255)
    document_date = models.DateField(_("document date"))
    version = models.CharField(_("version"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.CURRENT)
    series = models.CharField(_("series"), max_length=120, blank=True,
                              help_text=_("Versions of one document share a series."))
    source_type = models.CharField(_("source type"), max_length=100, blank=True, editable=False)
    source_id = models.CharField(_("source id"), max_length=64, blank=True, editable=False)
    source_part = models.CharField(_("source part"), max_length=40, blank=True, editable=False)
    file = models.FileField(_("file"), upload_to="tmf/%Y/%m/", blank=True)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256 of the uploaded file"), max_length=64, blank=True)
    search_text = models.TextField(_("searchable text"), blank=True, editable=False)
    filed_at = models.DateTimeField(_("filed at"), auto_now_add=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("filed by"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Quality control (`regulatory.tmf.qc`): every writer sets it (a document filed by hand or imported is
    # pending, hidden from inspectors until approved). Automatic filings a trial does not QC are approved with no
    # `qc_by`, as are the documents filed before QC existed (migrations 0018-0019).
    qc_status = models.CharField(_("QC status"), max_length=8, choices=QcStatus.choices, default=QcStatus.APPROVED)
    qc_at = models.DateTimeField(_("QC decided at"), null=True, blank=True)
    qc_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("QC by"))

    class Meta:
        verbose_name = _("TMF document")
        verbose_name_plural = _("TMF documents")
        # After the artifact's number, the document's own columns (LISTING_ORDER), no join: an artifact's listing is
        # read in the order of tmf_listing_order_idx, a listing across artifacts is sorted one artifact at a time.
        ordering = ["artifact__number", *LISTING_ORDER]
        constraints = [
            models.UniqueConstraint(fields=["source_type", "source_id", "source_part", "artifact", "site"],
                                    condition=~Q(source_type=""), name="tmf_one_filing_per_source_part"),
            models.UniqueConstraint(fields=["source_type", "source_id", "source_part", "artifact"],
                                    condition=~Q(source_type="") & Q(site__isnull=True),
                                    name="tmf_one_unsited_filing_per_source_part"),
            models.CheckConstraint(condition=Q(level="site", site__isnull=False) | (~Q(level="site")
                                   & Q(site__isnull=True)), name="tmf_site_level_has_a_site"),
            models.CheckConstraint(condition=Q(level="trial") | ~Q(country=""), name="tmf_country_given"),
        ]
        indexes = [
            models.Index(fields=["trial", "artifact"], name="tmf_trial_artifact_idx"),
            models.Index(fields=["trial", "site", "status"], name="tmf_trial_site_status_idx"),
            models.Index(fields=["source_type", "source_id"], name="tmf_source_idx"),
            models.Index(fields=["trial", "artifact", "level", "site", "series", "-document_date", "-id"],
                         name="tmf_listing_order_idx"),
            models.Index(fields=["trial", "qc_status"], name="tmf_trial_qc_idx"),
            # The QC page's list of documents pending QC, oldest filing first, read a page at a time (issue 19).
            models.Index(fields=["trial", "filed_at", "id"], condition=Q(qc_status="pending"),
                         name="tmf_pending_qc_idx"),
            # The investigator site file's sections, newest first, QC-approved and not withdrawn documents only, a
            # page at a time (issue 19, consent/isf.py): per artifact of the site, and the site's in date order
            # (the artifact last, for the sections' filter in an index-only scan).
            models.Index(fields=["trial", "site", "artifact", "-document_date", "-id"],
                         condition=Q(qc_status="approved") & ~Q(status="withdrawn"), name="tmf_isf_artifact_idx"),
            models.Index(fields=["trial", "site", "-document_date", "-id", "artifact"],
                         condition=Q(qc_status="approved") & ~Q(status="withdrawn"), name="tmf_isf_site_idx"),
        ]

    def __str__(self):
        version = f" v{self.version}" if self.version else ""
        return f"{self.artifact.number} {self.title}{version}"

    @property
    def is_uploaded(self) -> bool:
        return not self.source_type

    @property
    def place(self) -> str:
        if self.level == TmfLevel.SITE:
            return self.site.code
        if self.level == TmfLevel.COUNTRY:
            return self.country
        return str(_("Trial"))


class SearchVectorColumn(Expression):
    """`regulatory_tmfdocument.search_vector`, the PostgreSQL-only generated column (see `TmfDocument`), for
    `django.contrib.postgres.search` lookups and `SearchRank`: `.alias(search=SearchVectorColumn())
    .filter(search=SearchQuery(...))`, in a queryset of `TmfDocument` only. Resolved like a column of the query's
    document table, so it follows that table's alias when the query becomes a subquery. On any other database it
    refuses to compile.
    """

    column = "search_vector"

    def __init__(self, pk_column=None):
        super().__init__()
        self.pk_column = pk_column  # the resolved primary-key column: it carries the table's alias in the query

    def _resolve_output_field(self):
        from django.contrib.postgres.search import SearchVectorField

        return SearchVectorField()

    def get_source_expressions(self):
        return [] if self.pk_column is None else [self.pk_column]

    def set_source_expressions(self, exprs):
        (self.pk_column,) = exprs or (None,)

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        if query is None or query.model is not TmfDocument:
            raise ValueError("SearchVectorColumn is a column of TmfDocument: use it in a TmfDocument queryset.")
        clone = self.copy()
        clone.pk_column = F("pk").resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return clone

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            raise NotSupportedError("TmfDocument.search_vector exists only on PostgreSQL.")
        column = connection.ops.quote_name(self.column)
        alias = getattr(self.pk_column, "alias", None)
        return (f"{compiler.quote_name_unless_alias(alias)}.{column}" if alias else column), []


class TmfExpectation(models.Model):
    """The sponsor's choice for one artifact at one level of a trial: expected or not (overriding the default,
    which expects every Core artifact at each level the Reference Model allows)."""

    trial = models.ForeignKey("regulatory.TrialPage", on_delete=models.PROTECT, related_name="tmf_expectations")
    artifact = models.ForeignKey(TmfArtifact, on_delete=models.PROTECT, related_name="+")
    level = models.CharField(_("level"), max_length=8, choices=TmfLevel.choices)
    expected = models.BooleanField(_("expected"))

    class Meta:
        verbose_name = _("expected TMF artifact")
        verbose_name_plural = _("expected TMF artifacts")
        constraints = [models.UniqueConstraint(fields=["trial", "artifact", "level"], name="one_expectation")]

    def __str__(self):
        return f"{self.trial_id} {self.artifact_id} {self.level} {self.expected}"


class TmfExportJob(models.Model):
    """A TMF export (eTMF Exchange Mechanism package) run in the background, with its progress."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    trial = models.ForeignKey("regulatory.TrialPage", on_delete=models.PROTECT, related_name="tmf_exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.QUEUED)
    done = models.PositiveIntegerField(_("documents written"), default=0)
    total = models.PositiveIntegerField(_("documents to write"), default=0)
    file = models.FileField(_("package"), upload_to="tmf/exports/", blank=True)
    sha256 = models.CharField(_("SHA-256 of the package"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Last sign of life: queued, started, a document written. A queued or running export that has not moved for
    # `TRIALDOCS_EXPORT_STALLED_SECONDS` is shown as stalled, with a button to run it again.
    moved_at = models.DateTimeField(_("last progress at"), null=True, blank=True)

    class Meta:
        verbose_name = _("TMF export")
        verbose_name_plural = _("TMF exports")
        ordering = ["-requested_at"]

    def __str__(self):
        return f"{self.trial_id} {self.requested_at:%Y-%m-%d %H:%M} {self.state}"

    @property
    def stalled(self) -> bool:
        from django.conf import settings
        from django.utils import timezone

        if self.state not in (self.State.QUEUED, self.State.RUNNING):
            return False
        last = self.moved_at or self.requested_at
        return last is not None and (timezone.now() - last).total_seconds() > settings.TRIALDOCS_EXPORT_STALLED_SECONDS

    @property
    def percent(self) -> int:
        return 100 if self.state == self.State.DONE else (100 * self.done // self.total if self.total else 0)


class FixityRun(models.Model):
    """A fixity check of a trial's stored files (`manage.py verify_archive` started from the web), run in the
    background; the TMF home shows the last one."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    trial = models.ForeignKey("regulatory.TrialPage", on_delete=models.PROTECT, related_name="fixity_runs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.QUEUED)
    done = models.PositiveIntegerField(_("files checked"), default=0)
    total = models.PositiveIntegerField(_("files to check"), default=0)
    signatures = models.PositiveIntegerField(_("signatures validated"), default=0)
    problems = models.PositiveIntegerField(_("problems"), default=0)
    summary = models.TextField(_("summary"), blank=True)
    report = models.FileField(_("report (CSV)"), upload_to="fixity/", blank=True)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("fixity check")
        verbose_name_plural = _("fixity checks")
        ordering = ["-requested_at"]

    def __str__(self):
        return f"{self.trial_id} {self.requested_at:%Y-%m-%d %H:%M} {self.state}"
