"""The queryset every party-owned OCPI object shares (Location, Tariff, Token, ChargingSession, Cdr).

Each of those models keys its rows by the owning party's `country_code`/`party_id`, carries `last_updated`
and `received_from` (the partner that pushed the row; null for rows we issued). The filters over those
fields live here once; each app's queryset inherits them and keeps its own filters (and, where the owner
is not a CPO or the rows are not stored upper case, says so with `owner_role` or an override).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Self

from django.db import models
from django.db.models import Exists, OuterRef

from .models import Party, Role


class PartyOwnedQuerySet(models.QuerySet):
    """Filters over country_code/party_id (stored upper case), last_updated and received_from."""

    owner_role: ClassVar[str] = Role.CPO  # the role of our parties that own (issue) these objects

    def owned_by_us(self) -> Self:
        """Rows of one of our own active `owner_role` parties (one SQL query, no Party fetch)."""
        ours = Party.objects.filter(
            role=self.owner_role, active=True, country_code=OuterRef("country_code"), party_id=OuterRef("party_id")
        )
        return self.filter(Exists(ours))

    def issued(self) -> Self:
        """Rows we issued ourselves (no partner pushed them)."""
        return self.filter(received_from__isnull=True)

    def received(self) -> Self:
        """Rows a partner pushed to our Receiver."""
        return self.filter(received_from__isnull=False)

    def for_party(self, country_code: str, party_id: str) -> Self:
        """Rows of one party (country_code/party_id are stored upper case)."""
        return self.filter(country_code=country_code.upper(), party_id=party_id.upper())

    def changed_between(self, date_from: datetime | None, date_to: datetime | None) -> Self:
        """OCPI list window: date_from inclusive, date_to exclusive (transport.md 7.1); None = open."""
        queryset = self
        if date_from is not None:
            queryset = queryset.filter(last_updated__gte=date_from)
        if date_to is not None:
            queryset = queryset.filter(last_updated__lt=date_to)
        return queryset
