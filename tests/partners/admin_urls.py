"""A test-only admin site with PullStateAdmin (partners/admin.py registers it on the real site)."""

from django.contrib.admin import AdminSite
from django.urls import path

from partners.admin_sync import PullStateAdmin
from partners.models import PullState

site = AdminSite(name="admin")
site.register(PullState, PullStateAdmin)

urlpatterns = [path("admin/", site.urls)]
