"""The Trial Master File of one trial: /tmf/<NCT number>/…"""

from django.urls import path

from . import completeness_views, export_views, qc_views, views

urlpatterns = [
    path("<str:nct>/", views.home, name="tmf_home"),
    path("<str:nct>/zone/<str:zone>/", views.zone, name="tmf_zone"),
    path("<str:nct>/artifact/<str:number>/", views.artifact, name="tmf_artifact"),
    path("<str:nct>/search/", views.search, name="tmf_search"),
    path("<str:nct>/documents/<int:pk>/", views.document, name="tmf_document"),
    path("<str:nct>/documents/<int:pk>/view/", views.document_file, {"inline": True}, name="tmf_document_view"),
    path("<str:nct>/documents/<int:pk>/download/", views.document_file, {"inline": False},
         name="tmf_document_download"),
    path("<str:nct>/upload/", views.upload, name="tmf_upload"),
    path("<str:nct>/inspections/", views.inspections, name="tmf_inspections"),
    path("<str:nct>/inspections/<int:pk>/close/", views.inspection_close, name="tmf_inspection_close"),
]

urlpatterns += [
    path("<str:nct>/completeness/", completeness_views.completeness, name="tmf_completeness"),
    path("<str:nct>/completeness/settings/", completeness_views.completeness_settings,
         name="tmf_completeness_settings"),
]

urlpatterns += [
    path("<str:nct>/exports/", export_views.exports, name="tmf_exports"),
    path("<str:nct>/exports/<int:pk>/status/", export_views.export_status, name="tmf_export_status"),
    path("<str:nct>/exports/<int:pk>/download/", export_views.export_download, name="tmf_export_download"),
    path("<str:nct>/exports/<int:pk>/retry/", export_views.export_retry, name="tmf_export_retry"),
]

urlpatterns += [
    path("<str:nct>/qc/", qc_views.qc, name="tmf_qc"),
    path("<str:nct>/qc/settings/", qc_views.qc_settings, name="tmf_qc_settings"),
    path("<str:nct>/documents/<int:pk>/qc/", qc_views.qc_decide, name="tmf_qc_decide"),
    path("<str:nct>/milestones/", qc_views.milestones, name="tmf_milestones"),
]
