"""Issue 12: a Content-Security-Policy on every response (django-csp, `cms.middleware.ContentSecurityPolicyMiddleware`,
`CONTENT_SECURITY_POLICY` in `cms/settings/base.py`). The product's pages run only their own static scripts (and an
inline one only with the response's nonce) and their own style sheets; nothing frames them but themselves; no plugin
runs. The Wagtail admin (`ADMIN_CSP_PREFIXES`) also allows its inline scripts and styles, and nothing more."""

import re

from consent import services
from consent.tests.test_records import forms  # noqa: F401  (shared fixture: the four forms in force at DIJ and LIL)

HEADER = "Content-Security-Policy"
UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "*", "data:", "http:", "https:")


def policy(response) -> dict[str, list[str]]:
    """The response's policy as {directive: [sources]} (one header, never report-only in place of it)."""
    assert HEADER in response, (response.wsgi_request.path, dict(response.headers))
    directives = {}
    for part in response[HEADER].split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} twice"
        directives[name] = sources
    return directives


def assert_restricted_frame_plugin_and_base(directives):
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'self'"]  # nothing but the product's own pages frames a page
    assert directives["default-src"] == ["'self'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    for name, sources in directives.items():
        assert "'unsafe-eval'" not in sources and "*" not in sources, (name, sources)


def front_end_pages(world, forms):  # noqa: F811
    participant = services.participant_create(actor=world.coordinator_a, site=world.site_a)
    site = "/nct07063680/sites/dij"
    return [
        (world.coordinator_a, "/"),
        (world.coordinator_a, f"{site}/"),  # the site staff's page
        (world.coordinator_a, f"{site}/consent-forms/"),
        (world.coordinator_a, f"{site}/participants/{participant.code}/"),
        (world.coordinator_a, f"{site}/participants/{participant.code}/consent/{forms['patient'].pk}/"),
        (world.investigator_a, f"{site}/delegation/"),
        (world.sponsor, "/tmf/NCT07063680/"),  # the TMF's home, as the sponsor
        (world.sponsor, "/nct07063680/"),
        (world.coordinator_a, "/verify/"),
        (world.sponsor, "/verify/"),
    ]


def test_the_product_pages_have_a_strict_policy(world, forms, as_user):  # noqa: F811
    for user, path in front_end_pages(world, forms):
        response = as_user(user).get(path)
        assert response.status_code == 200, (path, response.status_code)
        directives = policy(response)
        assert_restricted_frame_plugin_and_base(directives)
        for name in ("script-src", "style-src"):
            assert not set(UNSAFE) & set(directives[name]), (path, name, directives[name])
            assert "'self'" in directives[name], (path, name)
        # Scripts: the product's own files, or an inline one carrying this response's nonce; styles: own files.
        assert set(directives["script-src"]) - {"'self'"} <= {s for s in directives["script-src"]
                                                               if re.fullmatch(r"'nonce-[A-Za-z0-9+/=_-]+'", s)}
        assert directives["style-src"] == ["'self'"]
        body = response.content.decode()
        nonces = {s[len("'nonce-"):-1] for s in directives["script-src"] if s.startswith("'nonce-")}
        for tag in re.findall(r"<script\b[^>]*>", body):
            if "src=" not in tag:  # an inline script runs only with this response's nonce
                found = re.search(r'nonce="([^"]+)"', tag)
                assert found and found.group(1) in nonces, (path, tag)
        # An inline style (element or attribute) would be refused by the browser: there is none.
        assert not re.search(r"<style\b", body), path
        assert not re.search(r"\sstyle=", body), (path, re.search(r".{80}\sstyle=.{80}", body, re.S))
        assert not re.search(r"\son[a-z]+=", body), path  # nor an inline event handler


def test_each_response_gets_its_own_nonce(world, forms, as_user):  # noqa: F811
    """When a page uses the nonce, it is new for each response (a nonce seen once cannot be replayed)."""
    client = as_user(world.coordinator_a)
    seen = []
    for _ in range(2):
        script_src = policy(client.get("/verify/"))["script-src"]
        seen.append([s for s in script_src if s.startswith("'nonce-")])
    assert seen[0] != seen[1] or seen[0] == []


def test_the_login_page_and_an_error_page_have_the_strict_policy(db, client):
    for path, status in (("/accounts/login/", 200), ("/no-such-page/", 404)):
        response = client.get(path)
        assert response.status_code in (status, 302), (path, response.status_code)
        directives = policy(response)
        assert_restricted_frame_plugin_and_base(directives)
        assert "'unsafe-inline'" not in directives["script-src"] + directives["style-src"]


def test_the_wagtail_admin_gets_its_relaxed_policy_and_nothing_more(world, as_user):
    client = as_user(world.sponsor)
    for path in ("/admin/", f"/admin/pages/{world.trial.pk}/", f"/admin/pages/{world.trial.pk}/edit/"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        directives = policy(response)
        # Wagtail's own templates carry inline scripts and styles: only these two directives are relaxed.
        assert directives["script-src"] == ["'self'", "'unsafe-inline'"], path
        assert directives["style-src"] == ["'self'", "'unsafe-inline'"], path
        assert_restricted_frame_plugin_and_base(directives)
        assert directives["img-src"] == ["'self'", "data:", "blob:"]


def test_only_the_admin_is_relaxed(world, as_user):
    """A front-end path that merely starts like the admin's is not relaxed; the admin's prefix is `/admin/`."""
    response = as_user(world.sponsor).get("/adminx/")
    assert "'unsafe-inline'" not in policy(response)["script-src"]
