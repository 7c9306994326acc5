"""OCPI routes of this module (mounted under /ocpi/ by ocpi_platform/urls.py)."""

from django.urls import re_path

from .chargingprofiles import ChargingProfileReceiverBaseView, ChargingProfileReceiverView
from .commands import CommandReceiverBaseView, CommandReceiverView, CommandResultView, CommandSenderBaseView
from .receiver import SessionReceiverBaseView, SessionReceiverObjectView
from .sender import SessionSenderChargingPreferencesView, SessionSenderListView

urlpatterns = [
    # CPO role: Sender (partner eMSPs pull the sessions of their tokens, set charging preferences).
    re_path(r"^cpo/2\.2\.1/sessions/?$", SessionSenderListView.as_view(), name="sessions-sender-list"),
    re_path(
        r"^cpo/2\.2\.1/sessions/(?P<session_id>[^/]+)/charging_preferences/?$",
        SessionSenderChargingPreferencesView.as_view(),
        name="sessions-sender-charging-preferences",
    ),
    # eMSP role: Receiver (partner CPOs push the sessions of our tokens).
    re_path(r"^emsp/2\.2\.1/sessions/?$", SessionReceiverBaseView.as_view(), name="sessions-receiver-base"),
    re_path(
        r"^emsp/2\.2\.1/sessions/(?P<country_code>[^/]+)/(?P<party_id>[^/]+)/(?P<session_id>[^/]+)/?$",
        SessionReceiverObjectView.as_view(),
        name="sessions-receiver-object",
    ),
    # CPO role: Commands Receiver (partner eMSPs send commands) and Charging Profiles Receiver.
    re_path(r"^cpo/2\.2\.1/commands/?$", CommandReceiverBaseView.as_view(), name="commands-receiver-base"),
    re_path(
        r"^cpo/2\.2\.1/commands/(?P<command>[^/]+)/?$", CommandReceiverView.as_view(), name="commands-receiver-command"
    ),
    re_path(
        r"^cpo/2\.2\.1/chargingprofiles/?$",
        ChargingProfileReceiverBaseView.as_view(),
        name="chargingprofiles-receiver-base",
    ),
    re_path(
        r"^cpo/2\.2\.1/chargingprofiles/(?P<session_id>[^/]+)/?$",
        ChargingProfileReceiverView.as_view(),
        name="chargingprofiles-receiver-object",
    ),
    # eMSP role: Commands Sender (partner CPOs POST the CommandResult to the response_url we gave).
    re_path(r"^emsp/2\.2\.1/commands/?$", CommandSenderBaseView.as_view(), name="commands-sender-base"),
    re_path(
        r"^emsp/2\.2\.1/commands/(?P<command>[^/]+)/(?P<uid>[^/]+)/?$",
        CommandResultView.as_view(),
        name="commands-sender-result",
    ),
]
