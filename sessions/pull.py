"""Pull of partner CPOs' Sessions (eMSP role, partners/sync.py): how a served Session is stored. Sessions are
never removed after a FULL pull. Registered with partners.pull_registry in SessionsConfig.ready().
"""

from __future__ import annotations

from typing import Any

from partners.pull_registry import PullContext, pull_validated

from .api.serializers import SessionSerializer
from .services import SessionPartyNotAllowedError, session_receive

REFUSALS = (SessionPartyNotAllowedError,)


def session_store_pulled(ctx: PullContext, raw: Any) -> int:
    """Store one served Session through the Receiver service (a whole object, like a PUT); its local pk."""
    data = pull_validated(SessionSerializer, raw, lambda: None)
    cc, pid = ctx.owner(data["country_code"], data["party_id"])
    session = session_receive(
        partner=ctx.partner, country_code=cc, party_id=pid, session_id=data["ocpi_id"], data=data, partial=False
    ).obj
    return session.pk
