from django.urls import re_path

from .hubclientinfo import HubClientInfoReceiverBaseView, HubClientInfoReceiverObjectView
from .views import CredentialsView

urlpatterns = [
    re_path(r"^2\.2\.1/credentials/?$", CredentialsView.as_view(), name="credentials"),
    # HubClientInfo Receiver (hubclientinfo.md 3): a Hub partner reports the parties it connects.
    re_path(r"^2\.2\.1/hubclientinfo/?$", HubClientInfoReceiverBaseView.as_view(), name="hubclientinfo-receiver-base"),
    re_path(
        r"^2\.2\.1/hubclientinfo/(?P<country_code>[^/]+)/(?P<party_id>[^/]+)/?$",
        HubClientInfoReceiverObjectView.as_view(),
        name="hubclientinfo-receiver-object",
    ),
]
