"""The Hub's ClientInfo Sender list (hubclientinfo.md 4), pulled like the object modules' lists (partners/sync.py)."""

from __future__ import annotations

import logging

from ocpi_platform.ocpi.views import SENDER

from .client import partner_client
from .hubclientinfo import MODULE, client_info_store
from .models import Partner
from .selectors import partner_endpoint_url
from .serializers import ClientInfoSerializer

logger = logging.getLogger(__name__)


def client_info_pull(*, hub: Partner) -> int:
    """GET the Hub's ClientInfo list (its hubclientinfo Sender, paginated; hubclientinfo.md 4) and store it all.

    Used at start-up or when unsure (not for operational flow). Returns how many ClientInfo objects were read;
    invalid objects are logged and skipped. No routing headers (Configuration module).
    """
    url = partner_endpoint_url(partner=hub, identifier=MODULE, role=SENDER)
    if not url:
        raise ValueError(f"Partner {hub} has no hubclientinfo SENDER endpoint")
    client = partner_client(hub)
    read = 0
    for page in client.iter_pages(url, params={"limit": hub.page_limit}, routing=False):
        for item in page.data or []:
            read += 1
            serializer = ClientInfoSerializer(data=item)
            if not serializer.is_valid():
                logger.warning("Hub %s sent an invalid ClientInfo %r: %s", hub.pk, item, serializer.errors)
                continue
            client_info_store(hub=hub, data=serializer.validated_data)
    return read
