from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from regulatory import permissions

from . import admin_views


@hooks.register("register_admin_urls")
def consent_admin_urls():
    return [
        path("consent/compare/", admin_views.compare_view, name="consent_compare"),
        path("consent/versions/<int:pk>/pdf/", admin_views.version_pdf_view, name="consent_version_pdf"),
        path("consent/versions/<int:pk>/docx/", admin_views.export_view, name="consent_version_docx"),
        path("consent/import/", admin_views.import_view, name="consent_import"),
        path("consent/import/title/", admin_views.import_title_view, name="consent_import_title"),
    ]


class TrialWideMenuItem(MenuItem):
    def is_shown(self, request):
        return permissions.trials_read_trial_wide(request.user).exists()


class ManagerMenuItem(MenuItem):
    def is_shown(self, request):
        return permissions.trials_managed(request.user).exists()


@hooks.register("register_admin_menu_item")
def import_menu_item():
    return ManagerMenuItem(_("Import a Word consent form"), reverse("consent_import"), icon_name="upload", order=215)


@hooks.register("register_admin_menu_item")
def compare_menu_item():
    return TrialWideMenuItem(_("Compare consent forms"), reverse("consent_compare"), icon_name="doc-full",
                             order=220)


@hooks.register("register_page_header_buttons")
def version_pdf_button(page, user, view_name, next_url=None):
    from wagtail.admin.widgets import Button

    from .models import ConsentFormVersionPage

    if isinstance(page.specific, ConsentFormVersionPage):
        yield Button(_("PDF (marked)"), reverse("consent_version_pdf", args=[page.pk]), icon_name="doc-full",
                     priority=60)
        yield Button(_("Word"), reverse("consent_version_docx", args=[page.pk]), icon_name="download", priority=61)
