from django.urls import path

from . import record_views, views

urlpatterns = [
    path("verify/", views.verify, name="verify_pdf"),
    path("v/<str:token>/", record_views.short_link, name="consent_short_link"),
    # Under the trial's page URL, like the trial's other sub-pages, but routed by Django (see `views.current_forms`).
    path("<slug:trial_slug>/sites/<str:code>/consent-forms/", views.current_forms, name="current_forms"),
]
