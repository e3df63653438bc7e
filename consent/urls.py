from django.urls import path

from . import record_views, views

urlpatterns = [
    path("verify/", views.verify, name="verify_pdf"),
    path("v/<str:token>/", record_views.short_link, name="consent_short_link"),
]
