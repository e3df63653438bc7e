"""The audit trail viewer, under /audit/ (see `audit_views`)."""

from django.urls import path

from . import audit_views

urlpatterns = [
    path("", audit_views.audit_list, name="audit_list"),
    path("object/<str:object_type>/<str:object_id>/", audit_views.audit_object, name="audit_object"),
    path("user/<int:user_id>/", audit_views.audit_user, name="audit_user"),
]
