"""URLs: admin, and every OCPI module under /ocpi/ (explicit paths, no routers)."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from .ocpi.paths import versioned
from .ocpi.versions import VersionDetailsView, VersionsView

handler404 = "backoffice.not_found.page_not_found"  # our page, never the debug one (issue 13)

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    path("admin/finance/", include("cdrs.urls_finance")),
    path("admin/dashboard/", include("backoffice.urls")),
    path("admin/", admin.site.urls),
    # OpenAPI description of every OCPI endpoint (public, no envelope): YAML, or JSON with ?format=json.
    path("ocpi/schema/", SpectacularAPIView.as_view(), name="ocpi-schema"),
    path("ocpi/schema/docs/", SpectacularSwaggerView.as_view(url_name="ocpi-schema"), name="ocpi-schema-docs"),
    path("ocpi/schema/redoc/", SpectacularRedocView.as_view(url_name="ocpi-schema"), name="ocpi-schema-redoc"),
    re_path(r"^ocpi/versions/?$", VersionsView.as_view(), name="ocpi-versions"),
    re_path(r"^ocpi/2\.2\.1/?$", VersionDetailsView.as_view(), name="ocpi-version-details"),
    re_path(r"^ocpi/(?P<version>2\.1\.1|2\.3\.0)/?$", VersionDetailsView.as_view()),
    path("ocpi/", include(versioned("partners.api.urls"))),
    path("ocpi/", include(versioned("locations.api.urls"))),
    path("ocpi/", include(versioned("tariffs.api.urls"))),
    path("ocpi/", include(versioned("tokens.api.urls"))),
    path("ocpi/", include(versioned("sessions.api.urls"))),
    path("ocpi/", include(versioned("cdrs.api.urls"))),
]
