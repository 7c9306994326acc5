"""The staff dashboard, mounted under /admin/dashboard/ (before the admin site's catch-all)."""

from django.urls import path

from .admin_dashboard import dashboard_view

app_name = "partners_dashboard"

urlpatterns = [
    path("", dashboard_view, name="dashboard"),
]
