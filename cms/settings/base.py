"""Settings shared by every environment: secure by default, configured from the environment.

`dev.py` and `test.py` relax what they must; `production.py` adds what `check --deploy` asks for.
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h]

INSTALLED_APPS = [
    "cms",
    "regulatory",
    "consent",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "guardian",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cms.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "cms.middleware.FrenchFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "regulatory.permissions.AccessCacheMiddleware",
    "regulatory.middleware.InspectorMiddleware",
    "cms.middleware.PrivateCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "cms.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "cms" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "regulatory.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "cms.wsgi.application"

# SQLite by default so the demo runs anywhere; PostgreSQL when DATABASE_URL is set.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# A session ends after 30 minutes without a request: every request pushes the expiry forward.
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Login throttling: failures counted per user name and per client address over a sliding window.
LOGIN_THROTTLE = {
    "WINDOW_SECONDS": 15 * 60,
    "MAX_FAILURES_PER_USERNAME": 5,
    "MAX_FAILURES_PER_ADDRESS": 20,
}
# Reverse proxies whose X-Forwarded-For is believed for the client's address (audit entries, the login throttle):
# a number of proxies every request comes through, or their addresses or networks. Empty: the header is ignored
# and the client's address is REMOTE_ADDR. production.py reads it from the environment (cms/middleware.py).
TRIALDOCS_TRUSTED_PROXIES = []

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Europe/Paris"

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "cms" / "static"]
MEDIA_ROOT = Path(os.environ.get("TRIALDOCS_MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Guardian: object permissions for per-site roles. No anonymous user object: anonymous has nothing.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
GUARDIAN_MONKEY_PATCH_USER = False

WAGTAIL_SITE_NAME = "TrialDocs"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAIL_I18N_ENABLED = False
WAGTAILDOCS_SERVE_METHOD = "serve_view"
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAIL_PASSWORD_RESET_ENABLED = False
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES

# Production refuses to start while a demo account keeps the published demo password.
TRIALDOCS_REFUSE_DEMO_PASSWORDS = False
# A site that has not acknowledged an effective amendment after this many days is shown as overdue.
TRIALDOCS_ACKNOWLEDGEMENT_DAYS = 14
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "trialdocs@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# One transaction per request: a write and its audit entry land together or not at all.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
WAGTAILADMIN_USER_LOGIN_FORM = "regulatory.forms.AdminLoginForm"

# --- Signing (consent/signing.py) ---
# Dev/demo PKI made by `manage.py create_signing_identity`; keep it out of git (var/ is ignored).
TRIALDOCS_PKI_DIR = Path(os.environ.get("TRIALDOCS_PKI_DIR") or BASE_DIR / "var" / "pki")
# Production: one PKCS#12 for every signature, unless a site has its own TRIALDOCS_SIGNING_P12_<SITECODE>
# (password TRIALDOCS_SIGNING_P12_<SITECODE>_PASSWORD, else the shared one). Once any is set, the demo PKI is unused.
TRIALDOCS_SIGNING_P12 = os.environ.get("TRIALDOCS_SIGNING_P12", "")
TRIALDOCS_SIGNING_P12_PASSWORD = os.environ.get("TRIALDOCS_SIGNING_P12_PASSWORD", "")
for _name, _value in os.environ.items():
    if _name.startswith("TRIALDOCS_SIGNING_P12_") and _name != "TRIALDOCS_SIGNING_P12_PASSWORD":
        globals()[_name] = _value
# Trust anchors (PEM files, separated by os.pathsep) accepted when verifying, beyond self-signed roots in the P12s.
TRIALDOCS_TRUST_ROOTS = [p for p in os.environ.get("TRIALDOCS_TRUST_ROOTS", "").split(os.pathsep) if p]
# RFC 3161 timestamping authority: set, signatures are PAdES B-LT (timestamp + validation data); unset, B-B.
TRIALDOCS_TSA_URL = os.environ.get("TRIALDOCS_TSA_URL", "")
# True refuses to sign with the demo PKI (production.py may set it once real certificates are provisioned).
TRIALDOCS_SIGNING_REFUSE_DEMO_PKI = os.environ.get("TRIALDOCS_SIGNING_REFUSE_DEMO_PKI", "") == "1"
# --- end Signing ---

# --- Background tasks ---
# django-tasks (the backport of Django 6's tasks framework, which Wagtail 8 already uses) with the database
# backend of django-tasks-db: jobs (TMF exports, Wagtail's own tasks) wait in the database until
# `manage.py db_worker` runs them.
INSTALLED_APPS += ["django_tasks", "django_tasks_db"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# --- end Background tasks ---
