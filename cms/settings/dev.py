"""Local development and the demo: DEBUG on, a fixed throwaway key, loopback hosts only."""

from .base import *  # noqa: F403

DEBUG = True
SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105  # nosec B105  # dev/demo only
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
# E-mails of the demo land as files in var/mail/ (one file per message), readable and out of the way.
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"  # noqa: F405

# The demo's SQLite file is shared by the web server and the task worker (`db_worker`): write-ahead logging lets
# readers and one writer proceed together, and IMMEDIATE transactions wait for the write lock (up to `timeout`
# seconds) instead of failing at once with "database is locked" when a read transaction tries to write.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {}).update({  # noqa: F405
        "timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"})
