"""The public address of TrialDocs (settings.TRIALDOCS_PUBLIC_URL): the one source of the links printed in signed
PDFs and written in e-mails, never the address of the request that happened to cause them."""

from django.conf import settings


def public_url(path: str = "") -> str:
    base = settings.TRIALDOCS_PUBLIC_URL.rstrip("/")
    if not path:
        return base
    return base + (path if path.startswith("/") else "/" + path)
