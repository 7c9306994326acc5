"""OCPI routes of this module (mounted under /ocpi/ by ocpi_platform/urls.py)."""

from django.urls import re_path

from .receiver import (
    ConnectorReceiverObjectView,
    EvseReceiverObjectView,
    LocationReceiverBaseView,
    LocationReceiverObjectView,
)
from .sender import ConnectorSenderObjectView, EvseSenderObjectView, LocationSenderListView, LocationSenderObjectView

_CPO = r"^cpo/2\.2\.1/locations"
_EMSP = r"^emsp/2\.2\.1/locations"
_PARTY = r"(?P<country_code>[^/]+)/(?P<party_id>[^/]+)"

urlpatterns = [
    # CPO role: Sender (partner eMSPs pull our published locations).
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
    # eMSP role: Receiver (partner CPOs push their locations).
    re_path(rf"{_EMSP}/?$", LocationReceiverBaseView.as_view(), name="locations-receiver-base"),
    re_path(
        rf"{_EMSP}/{_PARTY}/(?P<location_id>[^/]+)/?$",
        LocationReceiverObjectView.as_view(),
        name="locations-receiver-location",
    ),
    re_path(
        rf"{_EMSP}/{_PARTY}/(?P<location_id>[^/]+)/(?P<evse_uid>[^/]+)/?$",
        EvseReceiverObjectView.as_view(),
        name="locations-receiver-evse",
    ),
    re_path(
        rf"{_EMSP}/{_PARTY}/(?P<location_id>[^/]+)/(?P<evse_uid>[^/]+)/(?P<connector_id>[^/]+)/?$",
        ConnectorReceiverObjectView.as_view(),
        name="locations-receiver-connector",
    ),
]
