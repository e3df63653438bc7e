"""Production: every secret from the environment, HTTPS only, demo passwords refused."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} is required in production.")
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = _required("DJANGO_ALLOWED_HOSTS").split(",")
CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS]
TRIALDOCS_PUBLIC_URL = (os.environ.get("TRIALDOCS_PUBLIC_URL") or f"https://{ALLOWED_HOSTS[0]}").rstrip("/")
WAGTAILADMIN_BASE_URL = TRIALDOCS_PUBLIC_URL

SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")

# The reverse proxy in front: "1" (one proxy, every request through it), or its addresses or networks separated by
# commas ("10.0.0.2,10.0.1.0/24"). Unset or empty: X-Forwarded-For is ignored and REMOTE_ADDR is recorded.
TRIALDOCS_TRUSTED_PROXIES = os.environ.get("TRIALDOCS_TRUSTED_PROXIES", "").strip()

TRIALDOCS_REFUSE_DEMO_PASSWORDS = True

# Never sign with, nor trust, the demo PKI of `create_signing_identity`: production uses its PKCS#12 files.
TRIALDOCS_SIGNING_REFUSE_DEMO_PKI = True
