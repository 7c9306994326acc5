"""The staff dashboard, mounted under /admin/dashboard/ (before the admin site's catch-all)."""

from django.urls import path

from .dashboard import dashboard_view

app_name = "partners_dashboard"  # the URL names predate the backoffice app: templates reverse them

urlpatterns = [
    path("", dashboard_view, name="dashboard"),
]
