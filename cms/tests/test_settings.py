"""Production settings: secrets required, deploy checks clean, demo passwords refused at start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cms.startup import refuse_to_start_on_errors
from regulatory.checks import check_demo_passwords
from regulatory.demo_accounts import DEMO_PASSWORD
from regulatory.tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "test-only-8f3k2m9q-production-check-key-4b7c1d6e0a5f",
    "DJANGO_ALLOWED_HOSTS": "trialdocs.example.org",
}


def manage(*args, env=None):
    unset = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_to_run_without_a_secret_key():
    result = manage("check", "--settings=cms.settings.production")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_passes_the_deploy_checks(tmp_path):
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}"}
    result = manage("check", "--deploy", "--settings=cms.settings.production", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@override_settings(TRIALDOCS_REFUSE_DEMO_PASSWORDS=True)
def test_production_refuses_to_start_while_a_demo_account_keeps_the_demo_password(db):
    user = make_user("coordinator-dij")
    user.set_password(DEMO_PASSWORD)
    user.save()
    errors = check_demo_passwords(None)
    assert [e.id for e in errors] == ["trialdocs.E001"] and "coordinator-dij" in errors[0].msg
    with pytest.raises(ImproperlyConfigured, match="coordinator-dij"):
        refuse_to_start_on_errors()
    user.set_password("a real private passphrase")
    user.save()
    assert check_demo_passwords(None) == []
    refuse_to_start_on_errors()


@override_settings(TRIALDOCS_REFUSE_DEMO_PASSWORDS=True)
def test_other_accounts_with_that_password_are_not_demo_accounts(db):
    user = make_user("someone-else")
    user.set_password(DEMO_PASSWORD)
    user.save()
    assert check_demo_passwords(None) == []


def test_development_does_not_refuse_demo_passwords(db):
    user = make_user("sponsor")
    user.set_password(DEMO_PASSWORD)
    user.save()
    assert check_demo_passwords(None) == []


# --- The public address (issue 13): one setting for the links in signed PDFs and e-mails -------------------------

def _public_url(settings_module: str, env: dict) -> str:
    unset = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "TRIALDOCS_PUBLIC_URL", "WAGTAILADMIN_BASE_URL")
    base = {k: v for k, v in os.environ.items() if k not in unset}
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.TRIALDOCS_PUBLIC_URL, settings.WAGTAILADMIN_BASE_URL)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**base, "DJANGO_SETTINGS_MODULE": settings_module, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_public_address_comes_from_one_setting():
    assert _public_url("cms.settings.dev", {}) == "http://127.0.0.1:8000 http://127.0.0.1:8000"
    assert _public_url("cms.settings.dev", {"TRIALDOCS_PUBLIC_URL": "http://10.0.0.5:8103/"}) == \
        "http://10.0.0.5:8103 http://10.0.0.5:8103"
    assert _public_url("cms.settings.production", PRODUCTION_ENV) == \
        "https://trialdocs.example.org https://trialdocs.example.org"
    assert _public_url("cms.settings.production", {**PRODUCTION_ENV, "TRIALDOCS_PUBLIC_URL": "https://essais.chu.fr"}) \
        == "https://essais.chu.fr https://essais.chu.fr"


def test_make_demo_takes_the_public_address_from_demo_addr():
    env = {k: v for k, v in os.environ.items() if k not in ("TRIALDOCS_PUBLIC_URL", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", "--eval", "show-url: ; @echo $$TRIALDOCS_PUBLIC_URL",
                             "show-url", "DEMO_ADDR=127.0.0.1:8103"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "http://127.0.0.1:8103", result.stdout + result.stderr
