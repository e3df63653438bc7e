from django.conf import settings
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from cms.views import healthz
from regulatory.views import LoginView

handler500 = "cms.views.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("regulatory.urls")),
    path("", include("consent.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("audit/", include("regulatory.audit_urls")),
    path("tmf/", include("regulatory.tmf.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

# Wagtail's front-end login (for pages with a view restriction) goes through the project's login, with its throttling.
urlpatterns += [path("_util/login/", LoginView.as_view(), name="wagtailcore_login")]

# Wagtail's page tree last: it answers every other path.
urlpatterns += [path("", include(wagtail_urls))]
