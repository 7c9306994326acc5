"""Pull of partner CPOs' CDRs (eMSP role, partners/sync.py): how a served CDR is stored. CDRs are never
removed after a FULL pull. Registered with partners.pull_registry in CdrsConfig.ready().
"""

from __future__ import annotations

from typing import Any

from partners.pull_registry import PullContext, pull_validated

from .api.serializers import CdrSerializer
from .services import CdrError, cdr_receive

REFUSALS = (CdrError,)


def cdr_store_pulled(ctx: PullContext, raw: Any) -> int:
    """Store one served CDR through the Receiver service (stored once, replays are the same CDR); its local pk."""
    data = pull_validated(CdrSerializer, raw, lambda: None)
    ctx.owner(data["country_code"], data["party_id"])
    return cdr_receive(partner=ctx.partner, data=data).obj.pk
