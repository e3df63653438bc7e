from django.urls import include, path

from . import delegation_views, export_views, fixity_views, record_views, remote_views, tablet_views, views

urlpatterns = [
    path("verify/", views.verify, name="verify_pdf"),
    path("tmf/<str:nct>/fixity/", fixity_views.start, name="fixity_start"),
    path("tmf/<str:nct>/fixity/<int:pk>/report/", fixity_views.report, name="fixity_report"),
    path("fhir/", include("consent.fhir.urls")),
    path("v/<str:token>/", record_views.short_link, name="consent_short_link"),
    # A relative's remote consent: no account, a one-time link and a one-time code (`consent.remote_views`).
    path("remote/<str:token>/", remote_views.remote_code, name="remote_consent"),
    path("remote/<str:token>/consent/", remote_views.remote_consent, name="remote_consent_form"),
    path("remote/<str:token>/done/", remote_views.remote_done, name="remote_consent_done"),
    # Under the trial's page URL, like the trial's other sub-pages, but routed by Django (see `views.current_forms`).
    path("<slug:trial_slug>/sites/<str:code>/consent-forms/", views.current_forms, name="current_forms"),
]


def _on_trial(module, name: str):
    """`module.name(request, trial=…, **kwargs)` as a route of the trial's page: Wagtail's routing binds it to the
    trial page it serves, after the checks it makes of every page (`before_serve_page`: reading the trial)."""

    def route(trial, request, **kwargs):
        return getattr(module, name)(request, trial=trial, **kwargs)

    route.__name__ = name
    return route


# The trial's sub-pages consent serves, under the trial page's URL (/<trial>/sites/<code>/…): `ConsentConfig.ready`
# adds them to `TrialPage`'s routes, so they are reversed with `trial.reverse_subpage(name)` / `routablepageurl`.
trial_page_urlpatterns = [
    path("sites/<str:code>/consent-forms/all/pdf/", _on_trial(views, "print_bulk"), name="print_bulk"),
    path("sites/<str:code>/consent-forms/<int:version_id>/pdf/", _on_trial(views, "print_current"),
         name="print_current"),
    path("sites/<str:code>/participants/", _on_trial(record_views, "participants"), name="participants"),
    path("sites/<str:code>/consent-records/export/", _on_trial(export_views, "consent_records_export"),
         name="consent_records_export"),
    path("sites/<str:code>/participants/<str:participant_code>/", _on_trial(record_views, "participant_detail"),
         name="participant_detail"),
    path("sites/<str:code>/participants/<str:participant_code>/consent/<int:version_id>/",
         _on_trial(tablet_views, "consent_new"), name="consent_new"),
    path("sites/<str:code>/participants/<str:participant_code>/withdraw/", _on_trial(record_views, "withdraw"),
         name="withdraw"),
    path("sites/<str:code>/participants/<str:participant_code>/tasks/<int:task_id>/informed/",
         _on_trial(record_views, "inform_task_close"), name="inform_task_close"),
    path("sites/<str:code>/participants/<str:participant_code>/death/", _on_trial(record_views, "record_death"),
         name="record_death"),
    path("sites/<str:code>/participants/<str:participant_code>/not-included/",
         _on_trial(record_views, "close_screening"), name="close_screening"),
    # Telling the sites about consent-form versions, as about amendments (`consent/services/notices.py`).
    path("sites/<str:code>/acknowledge-form/<int:period_id>/", _on_trial(record_views, "acknowledge_form"),
         name="acknowledge_form"),
    path("acknowledgements/forms/<int:period_id>/remind/", _on_trial(record_views, "remind_form"),
         name="remind_form"),
    path("sites/<str:code>/participants/<str:participant_code>/consents/<int:sequence>/pdf/",
         _on_trial(record_views, "consent_pdf"), name="consent_pdf"),
    path("sites/<str:code>/participants/<str:participant_code>/consents/<int:sequence>/countersign/",
         _on_trial(record_views, "countersign"), name="countersign"),
    path("sites/<str:code>/participants/<str:participant_code>/remote/invite/",
         _on_trial(remote_views, "remote_invite"), name="remote_invite"),
    path("sites/<str:code>/participants/<str:participant_code>/remote/<int:invitation_id>/cancel/",
         _on_trial(remote_views, "remote_cancel"), name="remote_cancel"),
    path("sites/<str:code>/participants/<str:participant_code>/remote/<int:invitation_id>/countersign/",
         _on_trial(remote_views, "remote_countersign"), name="remote_countersign"),
    path("sites/<str:code>/tasks/", _on_trial(record_views, "tasks"), name="site_tasks"),
    # The principal investigator's delegation log and the investigator site file (`consent.delegation_views`).
    path("sites/<str:code>/delegation/", _on_trial(delegation_views, "delegation_log"), name="delegation_log"),
    path("sites/<str:code>/delegation/<int:entry_id>/acknowledge/",
         _on_trial(delegation_views, "delegation_acknowledge"), name="delegation_acknowledge"),
    path("sites/<str:code>/delegation/<int:number>/pdf/", _on_trial(delegation_views, "delegation_pdf"),
         name="delegation_pdf"),
    path("sites/<str:code>/isf/", _on_trial(delegation_views, "isf_view"), name="isf"),
    path("sites/<str:code>/isf/export/", _on_trial(delegation_views, "isf_export"), name="isf_export"),
    path("sites/<str:code>/isf/documents/<int:document_id>/", _on_trial(delegation_views, "isf_document"),
         name="isf_document"),
]
