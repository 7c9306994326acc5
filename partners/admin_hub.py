"""Back office: the parties behind Hub partners, as the Hubs report them (HubClientInfo)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import ClientInfo


@admin.register(ClientInfo)
class ClientInfoAdmin(admin.ModelAdmin):
    """What the Hubs report (read-only: the Hub is the data owner)."""

    list_display = ("country_code", "party_id", "role", "status", "partner", "last_updated", "received_at")
    list_filter = ("status", "role", "partner")
    search_fields = ("=country_code", "=party_id", "partner__name")
    list_select_related = ("partner",)
    ordering = ("partner", "country_code", "party_id", "role")
    readonly_fields = ("partner", "country_code", "party_id", "role", "status", "last_updated", "received_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
