"""Settings shared by every environment: secure by default, configured from the environment.

`dev.py` and `test.py` relax what they must; `production.py` adds what `check --deploy` asks for.
"""

import os
import socket
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
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cms.middleware.ContentSecurityPolicyMiddleware",
    "cms.middleware.RequestIdMiddleware",
    "cms.middleware.StoredFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "cms.middleware.FrenchFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "regulatory.permissions.AccessCacheMiddleware",
    "cms.middleware.RefuseNulMiddleware",
    "regulatory.middleware.InspectorMiddleware",
    "regulatory.middleware.SignedApprovalMiddleware",
    "cms.middleware.PrivateCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "regulatory.middleware.PageActionGuardMiddleware",
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
                "csp.context_processors.nonce",
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

# Login throttling (regulatory/accounts.py): growing delays per user name and address together, a limit per account
# that only an attack reaches (its owner is told), and a limit per address high enough for a ward behind one NAT.
LOGIN_THROTTLE = {
    "WINDOW_SECONDS": 15 * 60,
    "FREE_FAILURES": 4,
    "FIRST_DELAY_SECONDS": 30,
    "MAX_DELAY_SECONDS": 15 * 60,
    "ACCOUNT_WINDOW_SECONDS": 60 * 60,
    "MAX_FAILURES_PER_ACCOUNT": 50,
    "MAX_FAILURES_PER_ADDRESS": 100,
}
# Reverse proxies whose X-Forwarded-For is believed for the client's address (audit entries, the login throttle):
# a number of proxies every request comes through, or their addresses or networks. Empty: the header is ignored
# and the client's address is REMOTE_ADDR. production.py reads it from the environment (cms/middleware.py).
TRIALDOCS_TRUSTED_PROXIES = []

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
# One date format per language, day first in both (cms/formats/en: "15/12/2025", "15 December 2025"); French keeps
# Django's own.
FORMAT_MODULE_PATH = ["cms.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Europe/Paris"

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "cms" / "static"]
MEDIA_ROOT = Path(os.environ.get("TRIALDOCS_MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media/"
# Stored files (signed consents and masters, TMF documents, exports, Wagtail documents): the local disk above by
# default, an S3-compatible object store when TRIALDOCS_S3_ENDPOINT_URL or TRIALDOCS_S3_BUCKET is set (cms/storage.py,
# README "Configuration").
from cms.storage import storages_from_environment  # noqa: E402

STORAGES = storages_from_environment()
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Guardian: object permissions for per-site roles. No anonymous user object: anonymous has nothing.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
GUARDIAN_MONKEY_PATCH_USER = False

WAGTAIL_SITE_NAME = "TrialDocs"
# The address people reach TrialDocs at: printed for good inside every signed consent PDF (QR code, short link)
# and in every e-mail. One setting; `make demo` sets it from DEMO_ADDR; production defaults to its first host.
TRIALDOCS_PUBLIC_URL = (os.environ.get("TRIALDOCS_PUBLIC_URL") or os.environ.get("WAGTAILADMIN_BASE_URL")
                        or "http://127.0.0.1:8000").rstrip("/")
WAGTAILADMIN_BASE_URL = TRIALDOCS_PUBLIC_URL
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAIL_I18N_ENABLED = False
WAGTAILDOCS_SERVE_METHOD = "serve_view"
# The database backend with every typed query cleaned first (cms/search.py): no search box reaches a 500.
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "cms.search"}}
WAGTAIL_PASSWORD_RESET_ENABLED = False
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES

# Production refuses to start while a demo account keeps the published demo password.
TRIALDOCS_REFUSE_DEMO_PASSWORDS = False
# A site that has not acknowledged an effective amendment after this many days is shown as overdue.
TRIALDOCS_ACKNOWLEDGEMENT_DAYS = 14
# The categories of a QC issue (a TMF document rejected at quality control): (code, label). A deployment may
# shorten or extend the list; an issue keeps its code, shown as is once its category is no longer listed.
TRIALDOCS_QC_CATEGORIES = (
    ("wrong_artifact", _("Wrong artifact")),
    ("missing_signature", _("Missing signature")),
    ("illegible", _("Illegible")),
    ("wrong_version", _("Wrong version")),
    ("missing_pages", _("Missing pages")),
    ("other", _("Other")),
)
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
# The demo PKI's services (TSA, OCSP, CRLs), served by certomancer's Animator (`manage.py pki_services`, started by
# `make demo`); its address is written into the demo certificates when they are made.
TRIALDOCS_PKI_SERVICES_URL = os.environ.get("TRIALDOCS_PKI_SERVICES_URL", "http://127.0.0.1:9101")
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

# --- Verification of uploaded PDFs (consent/verification/, /verify/) ---
# A verification answers within this many seconds, whatever the file (a child process is stopped after it).
TRIALDOCS_VERIFY_SECONDS = 1.5
# Verifications per user within the window (/verify/ answers 429 beyond, without reading the file), counted in
# the cache (CACHES: per process with the default local memory, across processes with a shared cache).
VERIFY_THROTTLE = {"WINDOW_SECONDS": 5 * 60, "MAX_PER_USER": 10}
# Remote consent of a relative (consent/services/remote.py): the link and its code are valid this many hours (the
# relative's e-mail address is erased when the invitation is used, cancelled or expired, at the latest by the hourly
# `erase_remote_consent_emails`); a few wrong codes lock the invitation; per address (IP), attempts on any
# invitation are counted in the cache (shared across app servers when CACHES is Redis).
TRIALDOCS_REMOTE_CONSENT_HOURS = int(os.environ.get("TRIALDOCS_REMOTE_CONSENT_HOURS", "48"))
REMOTE_CONSENT_THROTTLE = {"MAX_WRONG_CODES": 5, "WINDOW_SECONDS": 15 * 60, "MAX_PER_ADDRESS": 20}
# --- end Verification ---

# --- FHIR (consent/fhir, docs/FHIR.md) ---
# Root of the identifier systems of participants, sites, consents and forms (urn:trialdocs:NCT07063680:participant).
TRIALDOCS_FHIR_SYSTEM_BASE = os.environ.get("TRIALDOCS_FHIR_SYSTEM_BASE", "urn:trialdocs")
# The public address of the API (e.g. https://trialdocs.example.org/fhir): Bundle fullUrls and paging links. Empty:
# the address the request came to; the export uses urn:trialdocs:fhir:R5.
TRIALDOCS_FHIR_BASE_URL = os.environ.get("TRIALDOCS_FHIR_BASE_URL", "")
# API calls per token, and calls without a usable token per address, in a fixed window counted in the cache.
FHIR_API_THROTTLE = {"WINDOW_SECONDS": 60, "MAX_PER_TOKEN": 300, "MAX_FAILURES_PER_ADDRESS": 20}  # nosec B105  # counts
# --- end FHIR ---

# --- Several app servers (issue 16; README "Production"): a shared cache, a task queue on Redis ---
# The name of this app server, reported by /healthz ("instance"): which server answered behind the load balancer.
TRIALDOCS_INSTANCE = os.environ.get("TRIALDOCS_INSTANCE") or socket.gethostname()
# Redis for Django's cache: the verification and FHIR API throttles count across every app server (the login and
# signing throttles count audit entries, in the database, and sessions are in the database: both already shared).
# Unset: a local-memory cache per process, right for one server (`make demo`).
TRIALDOCS_REDIS_URL = os.environ.get("TRIALDOCS_REDIS_URL", "")
if TRIALDOCS_REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": TRIALDOCS_REDIS_URL, "KEY_PREFIX": "trialdocs"}}
# Redis for background tasks (django-tasks-rq): jobs wait in Redis and `manage.py rqworker` processes run them, on
# any machine. Unset: the database backend above. A job is tried again (TRIALDOCS_TASK_RETRIES times) when it
# raised or when its worker died (regulatory/task_queue.py); the worker beats every TRIALDOCS_TASK_HEARTBEAT_SECONDS.
TRIALDOCS_TASKS_REDIS_URL = os.environ.get("TRIALDOCS_TASKS_REDIS_URL", "")
TRIALDOCS_TASK_RETRIES = int(os.environ.get("TRIALDOCS_TASK_RETRIES", "3"))
TRIALDOCS_TASK_HEARTBEAT_SECONDS = int(os.environ.get("TRIALDOCS_TASK_HEARTBEAT_SECONDS", "10"))
if TRIALDOCS_TASKS_REDIS_URL:
    INSTALLED_APPS += ["django_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": TRIALDOCS_TASKS_REDIS_URL, "DEFAULT_TIMEOUT": 3600,
                             "QUEUE_CLASS": "regulatory.task_queue.RetryingQueue"}}
# --- end Several app servers ---

# --- Background tasks: what the TMF export page calls stalled ---
# A queued or running export that has not moved for this long is shown as stalled, with a button to run it again.
TRIALDOCS_EXPORT_STALLED_SECONDS = 10 * 60
# The worker (`manage.py db_worker`, regulatory/management/commands/db_worker.py) waits and tries again when the
# database is locked (SQLite while another process writes), at most this long between tries.
TRIALDOCS_WORKER_MAX_LOCKED_WAIT_SECONDS = 30
# --- end Background tasks ---

# --- Content-Security-Policy (django-csp; cms/middleware.py ContentSecurityPolicyMiddleware) ---
# The front end runs only its own static scripts (a nonce is there for an inline one, none is used), its own styles,
# and frames only its own pages (the PDF viewer of the TMF). The Wagtail admin gets `ADMIN_CSP_REPLACE`: its
# templates carry inline scripts and styles, which a nonce cannot reach.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],
        "frame-ancestors": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}
ADMIN_CSP_REPLACE = {
    "script-src": [SELF, "'unsafe-inline'"],
    "style-src": [SELF, "'unsafe-inline'"],
}
ADMIN_CSP_PREFIXES = ("/admin/",)
# --- end Content-Security-Policy ---
