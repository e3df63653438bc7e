"""TMF search finds words whatever their accents ("hyponatremie" finds "hyponatrémie"), on PostgreSQL.

The `unaccent` extension (trusted: the database owner may create it) and a text search configuration
`trialdocs_french` (French stemming after `unaccent`) that the stored `search_vector` column is rebuilt with, and
that `tmf_filing.search` parses queries with. SQLite folds accents through a function registered on each
connection (`regulatory.apps`). Self-contained on purpose (no import of app code).
"""

from django.db import migrations

SEARCH_VECTOR = (
    "setweight(to_tsvector('trialdocs_french'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('trialdocs_french'::regconfig, coalesce(search_text, '')), 'B')"
)
OLD_SEARCH_VECTOR = (
    "setweight(to_tsvector('french'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('french'::regconfig, coalesce(search_text, '')), 'B')"
)


def _rebuild(schema_editor, expression):
    schema_editor.execute("DROP INDEX IF EXISTS tmf_search_vector_gin")
    schema_editor.execute("ALTER TABLE regulatory_tmfdocument DROP COLUMN IF EXISTS search_vector")
    schema_editor.execute(
        f"ALTER TABLE regulatory_tmfdocument ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({expression}) "
        "STORED")
    schema_editor.execute("CREATE INDEX tmf_search_vector_gin ON regulatory_tmfdocument USING gin (search_vector)")


def fold_accents(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    schema_editor.execute(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'trialdocs_french') THEN "
        "CREATE TEXT SEARCH CONFIGURATION trialdocs_french (COPY = french); "
        "ALTER TEXT SEARCH CONFIGURATION trialdocs_french ALTER MAPPING FOR hword, hword_part, word "
        "WITH unaccent, french_stem; "
        "END IF; END $$")
    _rebuild(schema_editor, SEARCH_VECTOR)


def keep_accents(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _rebuild(schema_editor, OLD_SEARCH_VECTOR)
    schema_editor.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS trialdocs_french")


class Migration(migrations.Migration):

    dependencies = [
        ('regulatory', '0014_tmf_status_approved_not_yet_in_force'),
    ]

    operations = [
        migrations.RunPython(fold_accents, keep_accents, elidable=False),
    ]
