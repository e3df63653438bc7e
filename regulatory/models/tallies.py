"""Running counts of a trial's TMF documents, kept by PostgreSQL itself (issue 19: 10^6 documents).

The TMF pages show counts over every document of a trial (the home's per zone, completeness and milestones per
artifact and place, the QC page's pending, timeliness, time to QC and rejections): read from the documents, they
cost a scan of the trial's rows (or of an index on them), 50 ms at 10^5 documents, half a second at 10^6
(bench/RESULTS.md, (h) issue 19). These tables hold the same counts, grouped by what the pages group by, so that a
page reads a few hundred rows whatever the number of documents.

They are written by triggers only (migration 0021, `regulatory.tmf.tallies` documents them): statement-level
triggers on `regulatory_tmfdocument` and `regulatory_tmfqcissue` add each statement's rows to their groups and
take away the old ones, in the same transaction, so a count is always the count of the rows the same snapshot
sees; nothing in Python writes them (`save`, `update`, `bulk_create`, raw SQL and data migrations are all
counted). A group whose count falls to 0 keeps its row (read as 0).

PostgreSQL only (`required_db_vendor`): on SQLite (development, tests) the tables do not exist and the readers of
`regulatory.tmf.tallies` count the documents directly, with the same result.

The foreign keys have no database constraint: the rows are derived data, written inside the writers'
transactions, and must not lock the trial, artifact or site rows they name.
"""

from django.db import models


def _derived(to: str, **kwargs) -> models.ForeignKey:
    return models.ForeignKey(to, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+",
                             **kwargs)


class TmfDocumentCount(models.Model):
    """Documents of a trial per artifact, place (level, country, site), status and QC status."""

    trial = _derived("regulatory.TrialPage")
    artifact = _derived("regulatory.TmfArtifact")
    level = models.CharField(max_length=8)
    country = models.CharField(max_length=2)
    site = _derived("regulatory.InvestigationalSite", null=True)
    status = models.CharField(max_length=12)
    qc_status = models.CharField(max_length=8)
    n = models.IntegerField(default=0)

    class Meta:
        required_db_vendor = "postgresql"
        verbose_name = "TMF document count"
        constraints = [models.UniqueConstraint(
            fields=["trial", "artifact", "level", "country", "site", "status", "qc_status"],
            nulls_distinct=False, name="tmf_document_count_group")]

    def __str__(self):
        return f"{self.trial_id} {self.artifact_id} {self.level} {self.country} {self.site_id} {self.status} " \
               f"{self.qc_status}: {self.n}"


class TmfQcTally(models.Model):
    """For the QC metrics, per place of a trial:

    - `kind` "lag": documents filed by hand (`source_type` empty), per `value` = days from the document's date to
      its filing (calendar day of `filed_at` in `settings.TIME_ZONE` at the time of migration 0021);
    - `kind` "hours": documents decided at QC as the metrics count them (`qc_at` set, and `qc_by` set or filed by
      hand), per `value` = whole hours from filing to the decision (0 for a decision recorded before the filing).
    """

    trial = _derived("regulatory.TrialPage")
    level = models.CharField(max_length=8)
    country = models.CharField(max_length=2)
    site = _derived("regulatory.InvestigationalSite", null=True)
    kind = models.CharField(max_length=5)
    value = models.IntegerField()
    n = models.IntegerField(default=0)

    class Meta:
        required_db_vendor = "postgresql"
        verbose_name = "TMF QC tally"
        constraints = [models.UniqueConstraint(fields=["trial", "kind", "level", "country", "site", "value"],
                                               nulls_distinct=False, name="tmf_qc_tally_group")]

    def __str__(self):
        return f"{self.trial_id} {self.level} {self.country} {self.site_id} {self.kind} {self.value}: {self.n}"


class TmfQcIssueCount(models.Model):
    """QC issues per place of their document, category, and open (not yet closed by a new version) or not."""

    trial = _derived("regulatory.TrialPage")
    level = models.CharField(max_length=8)
    country = models.CharField(max_length=2)
    site = _derived("regulatory.InvestigationalSite", null=True)
    category = models.CharField(max_length=40)
    open = models.BooleanField()
    n = models.IntegerField(default=0)

    class Meta:
        required_db_vendor = "postgresql"
        verbose_name = "TMF QC issue count"
        constraints = [models.UniqueConstraint(fields=["trial", "level", "country", "site", "category", "open"],
                                               nulls_distinct=False, name="tmf_qc_issue_count_group")]

    def __str__(self):
        return f"{self.trial_id} {self.level} {self.country} {self.site_id} {self.category} {self.open}: {self.n}"


__all__ = ["TmfDocumentCount", "TmfQcIssueCount", "TmfQcTally"]
