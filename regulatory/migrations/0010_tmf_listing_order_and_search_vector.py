"""TMF listings and search at scale (bench/RESULTS.md (b)).

- Listings ordered by the document's own columns, read in the order of `tmf_listing_order_idx`.
- On PostgreSQL only: `search_vector`, a stored generated `tsvector` column (French, title weighted A, searchable
  text B), with the GIN index `tmf_search_vector_gin`; `tmf_filing.search` matches and ranks on it. It is not a
  model field (Django never writes it; SQLite keeps its substring search and has no such column).

Self-contained on purpose (no import of app code).
"""

from django.conf import settings
from django.db import migrations, models

SEARCH_VECTOR = (
    "setweight(to_tsvector('french'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('french'::regconfig, coalesce(search_text, '')), 'B')"
)


def add_search_vector(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE regulatory_tmfdocument ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({SEARCH_VECTOR}) "
        "STORED"
    )
    schema_editor.execute(
        "CREATE INDEX tmf_search_vector_gin ON regulatory_tmfdocument USING gin (search_vector)"
    )


def drop_search_vector(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS tmf_search_vector_gin")
    schema_editor.execute("ALTER TABLE regulatory_tmfdocument DROP COLUMN IF EXISTS search_vector")


class Migration(migrations.Migration):

    dependencies = [
        ('regulatory', '0009_audit_entry_trial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='tmfdocument',
            options={'ordering': ['artifact__number', 'level', 'site_id', 'series', '-document_date', '-pk'], 'verbose_name': 'TMF document', 'verbose_name_plural': 'TMF documents'},
        ),
        migrations.AddIndex(
            model_name='tmfdocument',
            index=models.Index(fields=['trial', 'artifact', 'level', 'site', 'series', '-document_date', '-id'], name='tmf_listing_order_idx'),
        ),
        migrations.RunPython(add_search_vector, drop_search_vector, elidable=False),
    ]
