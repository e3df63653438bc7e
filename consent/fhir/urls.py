from django.urls import path, re_path

from . import api

urlpatterns = [
    path("<str:version>/metadata", api.metadata, name="fhir_metadata"),
    path("<str:version>/<str:resource_type>", api.resource, name="fhir_search"),
    path("<str:version>/<str:resource_type>/<str:resource_id>", api.resource, name="fhir_read"),
    # Anything else under /fhir/ is an OperationOutcome, never the site's HTML 404.
    re_path(r"^(?P<version>[^/]*)/(?P<rest>.*)$", api.unknown, name="fhir_unknown"),
    re_path(r"^(?P<rest>.*)$", api.unknown, name="fhir_unknown_root"),
]
