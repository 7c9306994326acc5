"""URLs: admin, and every OCPI module under /ocpi/ (explicit paths, no routers)."""

from django.contrib import admin
from django.urls import include, path, re_path

from .ocpi.versions import VersionDetailsView, VersionsView

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^ocpi/versions/?$", VersionsView.as_view(), name="ocpi-versions"),
    re_path(r"^ocpi/2\.2\.1/?$", VersionDetailsView.as_view(), name="ocpi-version-details"),
    path("ocpi/", include("partners.api.urls")),
    path("ocpi/", include("locations.api.urls")),
    path("ocpi/", include("tariffs.api.urls")),
    path("ocpi/", include("tokens.api.urls")),
    path("ocpi/", include("sessions.api.urls")),
    path("ocpi/", include("cdrs.api.urls")),
]
