"""OCPI routes of this module (mounted under /ocpi/ by ocpi_platform/urls.py)."""

from django.urls import re_path

from .receiver import TokenReceiverBaseView, TokenReceiverObjectView
from .sender import TokenSenderAuthorizeView, TokenSenderListView

urlpatterns = [
    # CPO role: Receiver (partner eMSPs push their tokens).
    re_path(r"^cpo/2\.2\.1/tokens/?$", TokenReceiverBaseView.as_view(), name="tokens-receiver-base"),
    re_path(
        r"^cpo/2\.2\.1/tokens/(?P<country_code>[^/]+)/(?P<party_id>[^/]+)/(?P<token_uid>[^/]+)/?$",
        TokenReceiverObjectView.as_view(),
        name="tokens-receiver-object",
    ),
    # eMSP role: Sender (CPOs pull our tokens).
    re_path(r"^emsp/2\.2\.1/tokens/?$", TokenSenderListView.as_view(), name="tokens-sender-list"),
    re_path(
        r"^emsp/2\.2\.1/tokens/(?P<token_uid>[^/]+)/authorize/?$",
        TokenSenderAuthorizeView.as_view(),
        name="tokens-sender-authorize",
    ),
]
