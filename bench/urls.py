"""The project's URLs plus one bare view, for the throughput benchmark (`bench/current_forms_throughput.py`).

The bare view goes through the same middleware (session, authentication, CSRF, audit plumbing, one transaction
per request) as every page, and does nothing else: the floor of any page of this server."""

from django.http import HttpResponse
from django.urls import path

from cms.urls import urlpatterns as project_urlpatterns


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare, name="bench_bare"), *project_urlpatterns]
