import pytest

from regulatory import audit
from regulatory.models import AuditEntry
from regulatory.models.audit import AppendOnlyError


@pytest.fixture
def entry(db):
    return audit.record(actor=None, action="test.action", object_repr="thing", changes={"a": [1, 2]})


def test_entry_cannot_be_saved_again(entry):
    entry.action = "tampered"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"


def test_entry_cannot_be_deleted(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().update(action="tampered")
    assert AuditEntry.objects.filter(pk=entry.pk, action="test.action").exists()


def test_system_actions_are_labelled_system(entry):
    assert entry.actor is None and entry.actor_label == "system"


def test_diff_keeps_only_changed_fields_in_json_form():
    import datetime

    changes = audit.diff({"a": 1, "b": datetime.date(2026, 1, 31), "c": "x"},
                         {"a": 1, "b": datetime.date(2026, 2, 1), "d": "new"})
    assert changes == {"b": ["2026-01-31", "2026-02-01"], "c": ["x", None], "d": [None, "new"]}


def test_response_echoes_request_id_used_in_audit(world, client):
    response = client.post("/accounts/login/", {"username": "nobody", "password": "bad"},
                           HTTP_X_REQUEST_ID="abc12345-request")
    assert response["X-Request-ID"] == "abc12345-request"
    assert AuditEntry.objects.get(action="auth.login_failed").request_id == "abc12345-request"


def test_malformed_request_id_is_replaced(world, client):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>" and len(response["X-Request-ID"]) == 32
