"""Per-process caches of the OCPI hot path: the credentials token -> partner lookup of every request (issue 17).

Every OCPI request authenticates the caller's credentials token (partners.selectors.partner_token_resolve). Its
answer changes only when a Partner, one of its PartnerTokens or PartnerRoles is written, so each web process keeps
it for OCPI_CREDENTIALS_CACHE_SECONDS (default 2; 0 switches the cache off):

* Kept: immutable values only (the partner's column values, the token's kind and the role facts), keyed by the
  token's SHA-256, never the token; and only for a REGISTERED partner's CURRENT token. A handshake under way
  changes the partner and its token's kind in whichever process handles it: kept here, a PENDING token rejected
  the partner's first pushes in the other processes until it expired. Each request gets a Partner instance of its
  own built from them, so nothing a request sets on its partner reaches another thread.
* Invalidated in this process by any save or delete of those models (signals below) and by the services' queryset
  writes that send no signal (partners.services calls `credentials_cache_invalidate`): at once, and again when the
  transaction commits, because a request of another thread may read the old rows until then. An entry read
  before an invalidation is not stored after it (`TtlCache.generation`).
* Other processes see a change when their entry expires: a revoked or rotated token stops working at once in the
  process that made the change and within OCPI_CREDENTIALS_CACHE_SECONDS everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from ocpi_platform.ocpi.ttlcache import TtlCache

from .models import Partner, PartnerRole, PartnerToken


@dataclass(frozen=True, slots=True)
class CachedCredentials:
    """What authenticating a credentials token found: immutable, shared by the threads of a process."""

    partner_values: tuple[Any, ...]  # Partner's concrete field values (attname order), as Model.from_db takes them
    kind: str  # TokenKind
    is_hub: bool
    has_cpo_role: bool


# credentials token's SHA-256 -> CachedCredentials (partners.selectors.partner_token_resolve)
credentials_cache = TtlCache()


def credentials_cache_invalidate(using: str = DEFAULT_DB_ALIAS) -> None:
    """Forget every cached credentials lookup of this process, now and again when the current transaction commits
    (until then other threads still read the old rows; on_commit runs at once outside a transaction)."""
    credentials_cache.clear()
    transaction.on_commit(credentials_cache.clear, using=using)


@receiver(post_save, sender=Partner, dispatch_uid="credentials_cache_partner_saved")
@receiver(post_delete, sender=Partner, dispatch_uid="credentials_cache_partner_deleted")
@receiver(post_save, sender=PartnerToken, dispatch_uid="credentials_cache_token_saved")
@receiver(post_delete, sender=PartnerToken, dispatch_uid="credentials_cache_token_deleted")
@receiver(post_save, sender=PartnerRole, dispatch_uid="credentials_cache_role_saved")
@receiver(post_delete, sender=PartnerRole, dispatch_uid="credentials_cache_role_deleted")
def _credentials_written(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    credentials_cache_invalidate(using)
