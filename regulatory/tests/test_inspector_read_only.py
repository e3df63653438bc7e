"""An inspector's account is read-only through every URL the project routes: each pattern, posted to, is refused
(403) before any view runs, nothing is written but the audit entry of the refusal."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from regulatory.models import AuditEntry, TmfDocument

ALLOWED = {"/accounts/logout/", "/i18n/setlang/", "/verify/"}  # own session, or reading an uploaded PDF
SAMPLE = {"int": "1", "str": "x", "slug": "x", "path": "x/y", "uuid": "00000000-0000-0000-0000-000000000000"}


def concrete(route: str) -> str:
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), route)
    route = route.lstrip("^").rstrip("$").replace("\\Z", "")
    return re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)


def walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + concrete(str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + route


@pytest.fixture
def every_path():
    paths = sorted({p.replace("//", "/") for p in walk(get_resolver().url_patterns)})
    assert len(paths) > 100  # the Wagtail admin included
    return paths + ["/nct07063680/", "/nct07063680/sites/dij/participants/", "/tmf/NCT07063680/upload/"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_url_refuses_an_inspectors_write(world, as_user, every_path, method):
    client = as_user(world.inspector)
    before = (AuditEntry.objects.exclude(action="inspection.write_refused").count(), TmfDocument.objects.count())
    refused = 0
    for path in every_path:
        if path in ALLOWED:
            continue
        response = getattr(client, method)(path)
        assert response.status_code == 403, path
        refused += 1
    assert (AuditEntry.objects.exclude(action="inspection.write_refused").count(),
            TmfDocument.objects.count()) == before
    assert AuditEntry.objects.filter(action="inspection.write_refused").count() == refused


def test_the_same_urls_let_the_sponsor_through_to_the_views(world, as_user, every_path):
    """The refusal is the inspector's: the sponsor's posts reach the views (whatever they answer)."""
    client = as_user(world.sponsor)
    ours = [p for p in every_path if p.startswith(("/tmf/", "/nct07063680/", "/audit/"))]
    statuses = {client.post(path).status_code for path in ours}
    assert statuses - {403}
