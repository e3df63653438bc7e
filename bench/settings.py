"""Settings of the benchmarks: the demo settings with DEBUG off (no query log, no debug pages), nothing written
inside the checkout (media, signing keys and e-mail go to the run's temporary folders), and the database given
by DATABASE_URL (the `bench` PostgreSQL database, or a temporary SQLite file).

The password hasher is left as in production (Django's default PBKDF2): the consent benchmark measures the
password re-entry as a user pays it."""

import os
from pathlib import Path

from cms.settings.dev import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = os.environ.get("BENCH_URLCONF", "bench.urls")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = Path(os.environ["TRIALDOCS_MEDIA_ROOT"])
TRIALDOCS_PKI_DIR = Path(os.environ["TRIALDOCS_PKI_DIR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
