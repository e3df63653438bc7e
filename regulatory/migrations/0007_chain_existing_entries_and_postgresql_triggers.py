import datetime
import hashlib
import json

from django.db import migrations

GENESIS = "0" * 64


def _content(entry, sequence, previous):
    # A frozen copy of AuditEntry.chained_content(): migrations must not depend on code that may change.
    return json.dumps({
        "sequence": sequence, "previous": previous,
        "timestamp": entry.timestamp.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor_id, "actor_label": entry.actor_label, "action": entry.action,
        "object_type": entry.object_type, "object_id": entry.object_id, "object_repr": entry.object_repr,
        "changes": entry.changes, "reason": entry.reason, "request_id": entry.request_id,
        "ip_address": entry.ip_address,
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_existing(apps, schema_editor):
    """Entries written before the chain existed are chained once, in their order of writing."""
    AuditEntry = apps.get_model("regulatory", "AuditEntry")
    previous = GENESIS
    for sequence, entry in enumerate(AuditEntry.objects.order_by("timestamp", "pk").iterator(), start=1):
        digest = hashlib.sha256(_content(entry, sequence, previous).encode()).hexdigest()
        AuditEntry.objects.filter(pk=entry.pk).update(sequence=sequence, previous_hash=previous, entry_hash=digest)
        previous = digest


TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION trialdocs_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- A superuser (the database administrator restoring a backup, a test run flushing its database) may
    -- still maintain the table; the application's own role may only append.
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS trialdocs_audit_no_change ON regulatory_auditentry;
CREATE TRIGGER trialdocs_audit_no_change BEFORE UPDATE OR DELETE ON regulatory_auditentry
    FOR EACH ROW EXECUTE FUNCTION trialdocs_audit_append_only();
DROP TRIGGER IF EXISTS trialdocs_audit_no_truncate ON regulatory_auditentry;
CREATE TRIGGER trialdocs_audit_no_truncate BEFORE TRUNCATE ON regulatory_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION trialdocs_audit_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS trialdocs_audit_no_change ON regulatory_auditentry;
DROP TRIGGER IF EXISTS trialdocs_audit_no_truncate ON regulatory_auditentry;
DROP FUNCTION IF EXISTS trialdocs_audit_append_only();
"""


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)  # the SQL holds a literal %


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("regulatory", "0006_audit_hash_chain")]

    operations = [
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
