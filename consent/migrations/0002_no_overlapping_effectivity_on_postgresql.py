from django.db import migrations

CONSTRAINT = "consent_formeffectivity_no_overlap"


def add_exclusion(apps, schema_editor):
    """On PostgreSQL, the database itself refuses two periods of one form (site, kind, language) that overlap.

    SQLite has no exclusion constraints: there the partial unique constraint (one open period) and the
    service's row locks hold the rule.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE consent_formeffectivity ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(site_id WITH =, kind WITH =, language WITH =, "
        "tstzrange(effective_from, effective_until, '[)') WITH &&)"
    )


def drop_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE consent_formeffectivity DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(add_exclusion, drop_exclusion)]
