"""The test suite: fast password hashing, in-memory e-mail, a private media folder."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403

SECRET_KEY = "test-only-key"  # noqa: S105  # nosec B105  # test settings only; production reads the environment
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="trialdocs-test-media-"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Signing (consent/signing.py) ---
# The demo PKI of a test run lives in a throwaway folder, never in var/pki of the working tree.
# (TRIALDOCS_TEST_PKI_DIR: a test's subprocess, e.g. `verify_pdf --at` under faketime, reads the test's own PKI.)
TRIALDOCS_PKI_DIR = Path(os.environ.get("TRIALDOCS_TEST_PKI_DIR") or tempfile.mkdtemp(prefix="trialdocs-test-pki-"))
# Tests never pick up production certificates or a network timestamping authority from the environment.
for _name in [n for n in globals() if n.startswith("TRIALDOCS_SIGNING_P12")]:
    globals()[_name] = ""
TRIALDOCS_TSA_URL = ""
TRIALDOCS_TRUST_ROOTS = []
TRIALDOCS_SIGNING_REFUSE_DEMO_PKI = False
# --- end Signing ---

# Browser tests: the live server shares one in-memory SQLite database, where two requests at once meet a
# table lock; the editor's background ping every 10 s would race the journey's own requests.
WAGTAIL_EDITING_SESSION_PING_INTERVAL = 10 * 60 * 1000

# --- Background tasks ---
# Tasks run at once, in the test's own thread and transaction.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# --- end Background tasks ---

# --- Verification of uploaded PDFs ---
# A loaded test machine must not turn a slow but ordinary verification into a refusal; the deadline itself is
# tested with its own small value (consent/tests/test_verification.py).
TRIALDOCS_VERIFY_SECONDS = 30
# The local-memory cache outlives each test, and ids are reused: a suite-wide count would refuse unrelated tests'
# uploads. The limit itself is tested with its own small value (test_the_verification_page_is_rate_limited_per_user).
VERIFY_THROTTLE = {"WINDOW_SECONDS": 5 * 60, "MAX_PER_USER": 100_000}
# --- end Verification ---

# --- FHIR API throttle ---
# Like the verification throttle: the local-memory cache outlives each test, so the suite's many refused calls from
# 127.0.0.1 would trip the per-address limit in unrelated tests (429 for 401). The limits themselves are tested
# with their own small values (consent/tests/test_fhir_api.py).
FHIR_API_THROTTLE = {"WINDOW_SECONDS": 60, "MAX_PER_TOKEN": 100_000, "MAX_FAILURES_PER_ADDRESS": 100_000}  # nosec B105: counts, not a password
# --- end FHIR API throttle ---
