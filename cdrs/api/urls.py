"""OCPI routes of the CDRs module (mounted under /ocpi/ by ocpi_platform/urls.py)."""

from django.urls import re_path

from .receiver import CdrReceiverListView, CdrReceiverObjectView
from .sender import CdrSenderListView

urlpatterns = [
    re_path(r"^cpo/2\.2\.1/cdrs/?$", CdrSenderListView.as_view(), name="cdrs-sender-list"),
    re_path(r"^emsp/2\.2\.1/cdrs/?$", CdrReceiverListView.as_view(), name="cdrs-receiver-list"),
    re_path(r"^emsp/2\.2\.1/cdrs/(?P<cdr_id>[^/]+)/?$", CdrReceiverObjectView.as_view(), name="cdrs-receiver-object"),
]
