"""OCPI routes of this module (mounted under /ocpi/ by ocpi_platform/urls.py)."""

from django.urls import re_path

from .receiver import TariffReceiverBaseView, TariffReceiverObjectView
from .sender import TariffSenderListView

urlpatterns = [
    # CPO role: Sender (partner eMSPs pull our tariffs).
    re_path(r"^cpo/2\.2\.1/tariffs/?$", TariffSenderListView.as_view(), name="tariffs-sender-list"),
    # eMSP role: Receiver (partner CPOs push their tariffs).
    re_path(r"^emsp/2\.2\.1/tariffs/?$", TariffReceiverBaseView.as_view(), name="tariffs-receiver-base"),
    re_path(
        r"^emsp/2\.2\.1/tariffs/(?P<country_code>[^/]+)/(?P<party_id>[^/]+)/(?P<tariff_id>[^/]+)/?$",
        TariffReceiverObjectView.as_view(),
        name="tariffs-receiver-object",
    ),
]
