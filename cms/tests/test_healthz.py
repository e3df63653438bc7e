"""/healthz through the real stack, including a database that is down and one with pending migrations."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json; django.setup();"
    "from django.test import Client;"
    "r = Client().get('/healthz');"
    "print(json.dumps({'status': r.status_code, 'body': json.loads(r.content)}))"
)


def healthz_with(database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "cms.settings.test"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_healthz_answers_200_with_json(db, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "instance": settings.TRIALDOCS_INSTANCE, "database": "ok",
                               "pending_migrations": 0, "storage": "filesystem", "storage_status": "ok",
                               "tasks": "immediate"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_refuses_writes(db, client):
    assert client.post("/healthz").status_code == 405


def test_healthz_answers_503_when_the_database_is_unreachable():
    result = healthz_with("postgres://postgres@127.0.0.1:1/unreachable?connect_timeout=2")
    assert result["status"] == 503
    assert result["body"]["database"] == "unreachable"


def test_healthz_answers_503_when_migrations_are_pending(tmp_path):
    result = healthz_with(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert result["status"] == 503
    assert result["body"]["database"] == "ok" and result["body"]["pending_migrations"] > 0


@pytest.mark.parametrize("path", ["/healthz"])
def test_healthz_needs_no_login(db, client, path):
    assert client.get(path).status_code == 200


def test_healthz_answers_503_when_the_file_store_is_gone(db, client, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "gone")}}}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["storage_status"] == "unreachable" and response.json()["database"] == "ok"


def test_healthz_answers_503_when_redis_is_unreachable(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cms.settings.test",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
           "TRIALDOCS_REDIS_URL": "redis://127.0.0.1:1/0", "TRIALDOCS_INSTANCE": "probe-7"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 503
    assert result["body"]["redis"] == {"cache": "unreachable"} and result["body"]["instance"] == "probe-7"
