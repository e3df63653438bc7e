"""Issue 19: running counts of the TMF kept by PostgreSQL (`regulatory.models.tallies`), the QC page's indexes.

- `TmfDocumentCount`, `TmfQcTally`, `TmfQcIssueCount` (PostgreSQL only: `required_db_vendor`), filled from the
  existing rows, then kept by statement-level triggers (transition tables) on `regulatory_tmfdocument` and
  `regulatory_tmfqcissue`: each INSERT, UPDATE or DELETE adds its new rows to their groups and takes its old rows
  away, in one upsert per table, groups in key order (two statements take the rows of a table in the same order).
  Concurrent writers of the same group (same trial, artifact, place, status and QC status) wait for each other's
  commit on its tally row. A TRUNCATE of the documents or issues empties the tallies (Django's flush).
- `tmf_qc_duration_idx` (PostgreSQL only): the decided documents in order of their time to QC, for the exact
  median and 90th percentile (`regulatory.tmf.tallies.durations`).
- `tmf_pending_qc_idx`, `tmf_open_qc_issue_idx`: the QC page's lists, a page at a time (both databases).

The filing day of the "lag" tally is the calendar day of `filed_at` in `settings.TIME_ZONE` as it is when this
migration runs (Europe/Paris); a later change of TIME_ZONE must re-create the functions (`install_triggers`) and
refill the tallies (`fill`). Self-contained on purpose (no import of app code).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# `regulatory.audit.CHAIN_LOCK`, the audit chain's advisory lock, taken by each trigger before its tally rows: every
# writer of documents appends to the audit chain in the same transaction anyway, and taking the chain first makes
# the order of the two locks the same in every transaction (a writer holding a tally row while waiting for the chain,
# and another holding the chain while waiting for that row, would deadlock). A test checks the two numbers agree.
AUDIT_CHAIN_LOCK = 7_310_000_001

TALLY_TABLES = ("regulatory_tmfdocumentcount", "regulatory_tmfqctally", "regulatory_tmfqcissuecount")


def _document_statements(source: str, tz: str, *, issues: bool) -> str:
    """The upserts for a set of document rows `source` (columns of regulatory_tmfdocument and `d`, +1 or -1)."""
    groups = "trial_id, artifact_id, level, country, site_id, status, qc_status"
    tally = "trial_id, kind, level, country, site_id, value"
    statements = f"""
        INSERT INTO regulatory_tmfdocumentcount AS t ({groups}, n)
        SELECT {groups}, sum(d) FROM ({source}) AS c
        GROUP BY {groups} HAVING sum(d) <> 0 ORDER BY {groups}
        ON CONFLICT ({groups}) DO UPDATE SET n = t.n + EXCLUDED.n;
        INSERT INTO regulatory_tmfqctally AS t ({tally}, n)
        SELECT {tally}, sum(d) FROM (
            SELECT d, trial_id, 'lag' AS kind, level, country, site_id,
                   ((filed_at AT TIME ZONE '{tz}')::date - document_date) AS value
            FROM ({source}) AS c WHERE source_type = ''
            UNION ALL
            SELECT d, trial_id, 'hours' AS kind, level, country, site_id,
                   greatest(0, floor(extract(epoch FROM (qc_at - filed_at)) / 3600))::integer AS value
            FROM ({source}) AS c WHERE qc_at IS NOT NULL AND (qc_by_id IS NOT NULL OR source_type = '')
        ) AS v
        GROUP BY {tally} HAVING sum(d) <> 0 ORDER BY {tally}
        ON CONFLICT ({tally}) DO UPDATE SET n = t.n + EXCLUDED.n;"""  # nosec B608  # SQL from constants of this module (and integers); no value from outside
    if issues:  # a document that changes place moves its QC issues with it
        statements += f"""
        {_issue_statement(source, documents_changed=True)}"""
    return statements


def _issue_statement(source: str, *, documents_changed: bool = False) -> str:
    """The upsert of QC issue counts: `source` holds document rows (joined to their issues) or issue rows (joined
    to their document), with `d`."""
    groups = "trial_id, level, country, site_id, category, open"
    if documents_changed:
        rows = (f"SELECT c.d, c.trial_id, c.level, c.country, c.site_id, i.category, i.closed_at IS NULL AS open "
                f"FROM ({source}) AS c JOIN regulatory_tmfqcissue AS i ON i.document_id = c.id")  # nosec B608  # SQL from constants of this module (and integers); no value from outside
    else:
        rows = (f"SELECT c.d, doc.trial_id, doc.level, doc.country, doc.site_id, c.category, "
                f"c.closed_at IS NULL AS open "
                f"FROM ({source}) AS c JOIN regulatory_tmfdocument AS doc ON doc.id = c.document_id")  # nosec B608  # SQL from constants of this module (and integers); no value from outside
    return f"""INSERT INTO regulatory_tmfqcissuecount AS t ({groups}, n)
        SELECT {groups}, sum(d) FROM ({rows}) AS r
        GROUP BY {groups} HAVING sum(d) <> 0 ORDER BY {groups}
        ON CONFLICT ({groups}) DO UPDATE SET n = t.n + EXCLUDED.n;"""  # nosec B608  # SQL from constants of this module (and integers); no value from outside


SOURCES = {
    "insert": "SELECT 1 AS d, * FROM new_rows",
    "delete": "SELECT -1 AS d, * FROM old_rows",
    "update": "SELECT 1 AS d, * FROM new_rows UNION ALL SELECT -1 AS d, * FROM old_rows",
}
REFERENCING = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def install_triggers(schema_editor, tz: str) -> None:
    for event, source in SOURCES.items():
        body = _document_statements(source, tz, issues=event != "insert")
        schema_editor.execute(f"""
            CREATE OR REPLACE FUNCTION regulatory_tmf_tally_documents_{event}() RETURNS trigger
            LANGUAGE plpgsql AS $body$
            BEGIN PERFORM pg_advisory_xact_lock({AUDIT_CHAIN_LOCK}); {body}
                RETURN NULL;
            END $body$""")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS tmf_tally_{event} ON regulatory_tmfdocument")
        schema_editor.execute(f"""
            CREATE TRIGGER tmf_tally_{event} AFTER {event.upper()} ON regulatory_tmfdocument
            {REFERENCING[event]} FOR EACH STATEMENT
            EXECUTE FUNCTION regulatory_tmf_tally_documents_{event}()""")
        schema_editor.execute(f"""
            CREATE OR REPLACE FUNCTION regulatory_tmf_tally_issues_{event}() RETURNS trigger
            LANGUAGE plpgsql AS $body$
            BEGIN PERFORM pg_advisory_xact_lock({AUDIT_CHAIN_LOCK}); {_issue_statement(source)}
                RETURN NULL;
            END $body$""")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS tmf_tally_{event} ON regulatory_tmfqcissue")
        schema_editor.execute(f"""
            CREATE TRIGGER tmf_tally_{event} AFTER {event.upper()} ON regulatory_tmfqcissue
            {REFERENCING[event]} FOR EACH STATEMENT
            EXECUTE FUNCTION regulatory_tmf_tally_issues_{event}()""")
    deletes = " ".join(f"DELETE FROM {table};" for table in TALLY_TABLES)  # nosec B608  # this module's tables
    schema_editor.execute(f"""
        CREATE OR REPLACE FUNCTION regulatory_tmf_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            {deletes}
            RETURN NULL;
        END $body$""")  # nosec B608  # SQL from constants of this module (and integers); no value from outside
    for table in ("regulatory_tmfdocument", "regulatory_tmfqcissue"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS tmf_tally_truncate ON {table}")
        schema_editor.execute(f"CREATE TRIGGER tmf_tally_truncate AFTER TRUNCATE ON {table} FOR EACH STATEMENT "
                              "EXECUTE FUNCTION regulatory_tmf_tally_truncate()")


def fill(schema_editor, tz: str) -> None:
    """The tallies counted anew from every document and issue."""
    for table in TALLY_TABLES:
        schema_editor.execute(f"DELETE FROM {table}")  # nosec B608  # SQL from constants of this module (and integers); no value from outside
    schema_editor.execute(_document_statements("SELECT 1 AS d, * FROM regulatory_tmfdocument", tz, issues=False))
    schema_editor.execute(_issue_statement("SELECT 1 AS d, * FROM regulatory_tmfqcissue"))


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    tz = settings.TIME_ZONE
    if not tz.replace("/", "").replace("_", "").replace("-", "").replace("+", "").isalnum():
        raise ValueError(f"Unexpected TIME_ZONE {tz!r}")
    install_triggers(schema_editor, tz)  # first: it locks the tables against writes until the end of the migration
    fill(schema_editor, tz)
    schema_editor.execute(
        "CREATE INDEX tmf_qc_duration_idx ON regulatory_tmfdocument (trial_id, (qc_at - filed_at)) "
        "INCLUDE (level, country, site_id, qc_at, filed_at) "  # an index-only scan reads the time to QC itself
        "WHERE qc_at IS NOT NULL AND (qc_by_id IS NOT NULL OR source_type = '')")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS tmf_qc_duration_idx")
    for table, kind in (("regulatory_tmfdocument", "documents"), ("regulatory_tmfqcissue", "issues")):
        for event in SOURCES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS tmf_tally_{event} ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS regulatory_tmf_tally_{kind}_{event}()")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS tmf_tally_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS regulatory_tmf_tally_truncate()")


class Migration(migrations.Migration):

    dependencies = [
        ('regulatory', '0020_merge_20261203_2251'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='TmfDocumentCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('level', models.CharField(max_length=8)),
                ('country', models.CharField(max_length=2)),
                ('status', models.CharField(max_length=12)),
                ('qc_status', models.CharField(max_length=8)),
                ('n', models.IntegerField(default=0)),
            ],
            options={
                'verbose_name': 'TMF document count',
                'required_db_vendor': 'postgresql',
            },
        ),
        migrations.CreateModel(
            name='TmfQcIssueCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('level', models.CharField(max_length=8)),
                ('country', models.CharField(max_length=2)),
                ('category', models.CharField(max_length=40)),
                ('open', models.BooleanField()),
                ('n', models.IntegerField(default=0)),
            ],
            options={
                'verbose_name': 'TMF QC issue count',
                'required_db_vendor': 'postgresql',
            },
        ),
        migrations.CreateModel(
            name='TmfQcTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('level', models.CharField(max_length=8)),
                ('country', models.CharField(max_length=2)),
                ('kind', models.CharField(max_length=5)),
                ('value', models.IntegerField()),
                ('n', models.IntegerField(default=0)),
            ],
            options={
                'verbose_name': 'TMF QC tally',
                'required_db_vendor': 'postgresql',
            },
        ),
        migrations.AddIndex(
            model_name='tmfdocument',
            index=models.Index(condition=models.Q(('qc_status', 'pending')), fields=['trial', 'filed_at', 'id'], name='tmf_pending_qc_idx'),
        ),
        migrations.AddIndex(
            model_name='tmfqcissue',
            index=models.Index(condition=models.Q(('closed_at__isnull', True)), fields=['-raised_at', '-id'], name='tmf_open_qc_issue_idx'),
        ),
        migrations.AddField(
            model_name='tmfdocumentcount',
            name='artifact',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='regulatory.tmfartifact'),
        ),
        migrations.AddField(
            model_name='tmfdocumentcount',
            name='site',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='regulatory.investigationalsite'),
        ),
        migrations.AddField(
            model_name='tmfdocumentcount',
            name='trial',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='regulatory.trialpage'),
        ),
        migrations.AddField(
            model_name='tmfqcissuecount',
            name='site',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='regulatory.investigationalsite'),
        ),
        migrations.AddField(
            model_name='tmfqcissuecount',
            name='trial',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='regulatory.trialpage'),
        ),
        migrations.AddField(
            model_name='tmfqctally',
            name='site',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='regulatory.investigationalsite'),
        ),
        migrations.AddField(
            model_name='tmfqctally',
            name='trial',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='regulatory.trialpage'),
        ),
        migrations.AddConstraint(
            model_name='tmfdocumentcount',
            constraint=models.UniqueConstraint(fields=('trial', 'artifact', 'level', 'country', 'site', 'status', 'qc_status'), name='tmf_document_count_group', nulls_distinct=False),
        ),
        migrations.AddConstraint(
            model_name='tmfqcissuecount',
            constraint=models.UniqueConstraint(fields=('trial', 'level', 'country', 'site', 'category', 'open'), name='tmf_qc_issue_count_group', nulls_distinct=False),
        ),
        migrations.AddConstraint(
            model_name='tmfqctally',
            constraint=models.UniqueConstraint(fields=('trial', 'kind', 'level', 'country', 'site', 'value'), name='tmf_qc_tally_group', nulls_distinct=False),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
