"""OCPI routes of this module (mounted under /ocpi/ by ocpi_platform/urls.py)."""

from django.urls import re_path

from .sender import ConnectorSenderObjectView, EvseSenderObjectView, LocationSenderListView, LocationSenderObjectView

_CPO = r"^cpo/2\.2\.1/locations"

urlpatterns = [
    re_path(rf"{_CPO}/?$", LocationSenderListView.as_view(), name="locations-sender-list"),
    re_path(rf"{_CPO}/(?P<location_id>[^/]+)/?$", LocationSenderObjectView.as_view(), name="locations-sender-location"),
    re_path(
        rf"{_CPO}/(?P<location_id>[^/]+)/(?P<evse_uid>[^/]+)/?$",
        EvseSenderObjectView.as_view(),
        name="locations-sender-evse",
    ),
    re_path(
        rf"{_CPO}/(?P<location_id>[^/]+)/(?P<evse_uid>[^/]+)/(?P<connector_id>[^/]+)/?$",
        ConnectorSenderObjectView.as_view(),
        name="locations-sender-connector",
    ),
]
