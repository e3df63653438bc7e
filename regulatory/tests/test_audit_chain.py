"""The audit trail's hash chain: tampering with any row (raw SQL) is detected; on PostgreSQL the application's
role cannot change or remove rows at all."""

import io
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from regulatory import audit
from regulatory.models import AuditEntry


@pytest.fixture
def entries(db):
    return [audit.record(actor=None, action=f"test.{n}", object_repr=f"thing {n}", changes={"n": [n, n + 1]})
            for n in range(5)]


def verify() -> tuple[bool, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit_trail", stdout=out)
        return True, out.getvalue()
    except CommandError as error:
        return False, str(error)


def test_each_entry_hash_covers_the_previous_one(entries):
    assert [e.sequence for e in entries] == list(range(entries[0].sequence, entries[0].sequence + 5))
    for previous, entry in zip(entries, entries[1:], strict=False):
        assert entry.previous_hash == previous.entry_hash
    ok, out = verify()
    assert ok and "intact" in out


@pytest.mark.parametrize("column,value", [("action", "'tampered'"), ("actor_label", "'someone else'"),
                                          ("changes", "'{}'"), ("timestamp", "timestamp")])
def test_raw_sql_tampering_is_detected_naming_the_entry(entries, column, value):
    target = entries[2]
    with connection.cursor() as cursor:
        if column == "timestamp":
            cursor.execute("UPDATE regulatory_auditentry SET timestamp = %s WHERE id = %s",
                           [target.timestamp.replace(year=2020), target.pk])
        else:
            cursor.execute(f"UPDATE regulatory_auditentry SET {column} = {value} WHERE id = %s",  # noqa: S608
                           [target.pk])
    ok, message = verify()
    assert not ok and f"entry #{target.sequence}" in message


def test_a_deleted_row_is_detected(entries):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM regulatory_auditentry WHERE id = %s", [entries[1].pk])
    ok, message = verify()
    assert not ok and "missing" in message


def test_a_rehashed_row_still_breaks_the_link(entries):
    target = entries[1]
    target.action = "tampered"
    new_hash = target.compute_hash()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE regulatory_auditentry SET action = 'tampered', entry_hash = %s WHERE id = %s",
                       [new_hash, target.pk])
    ok, message = verify()
    assert not ok and f"entry #{entries[2].sequence}" in message and "link" in message


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database triggers are PostgreSQL's")
def test_the_application_role_cannot_update_delete_or_truncate(entries):
    with connection.cursor() as cursor:
        cursor.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trialdocs_app_test') "
                       "THEN CREATE ROLE trialdocs_app_test NOSUPERUSER; END IF; END $$")
        cursor.execute("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON regulatory_auditentry TO trialdocs_app_test")
    for statement in ("UPDATE regulatory_auditentry SET action = 'x'", "DELETE FROM regulatory_auditentry",
                      "TRUNCATE regulatory_auditentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks: TRUNCATE reaches the trigger
            cursor.execute("SET LOCAL ROLE trialdocs_app_test")
            cursor.execute(statement)
    assert AuditEntry.objects.filter(action="test.0").exists()
    assert verify()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers need PostgreSQL")
def test_parallel_writers_keep_one_unbroken_chain():
    barrier = threading.Barrier(4)

    def write(n):
        barrier.wait()
        for i in range(10):
            audit.record(actor=None, action=f"parallel.{n}.{i}")
        connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert AuditEntry.objects.filter(action__startswith="parallel.").count() == 40
    assert verify()[0]
