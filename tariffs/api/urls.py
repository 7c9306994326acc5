"""OCPI routes of this module (mounted under /ocpi/ by ocpi_platform/urls.py)."""

from django.urls import re_path

from .sender import TariffSenderListView

urlpatterns = [
    re_path(r"^cpo/2\.2\.1/tariffs/?$", TariffSenderListView.as_view(), name="tariffs-sender-list"),
]
