"""Staff pages for OCPP charge points (issue 16): connection state, heartbeat, firmware, connectors, message log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from ocpi_platform.admin_confirm import confirmed_action

from .models import ChargePoint, ChargePointConnector, OcppMessage, OcppTransaction


class ChargePointConnectorInline(admin.TabularInline):
    model = ChargePointConnector
    extra = 0
    raw_id_fields = ("evse", "connector")


class SetPasswordForm(forms.Form):
    # OCPP's AuthorizationKey / BasicAuthPassword: 16 to 40 characters; a random one is best.
    password = forms.CharField(widget=forms.PasswordInput, min_length=16, max_length=40)


@admin.register(ChargePoint)
class ChargePointAdmin(admin.ModelAdmin):
    list_display = (
        "identity",
        "online",
        "connected",
        "protocol",
        "last_heartbeat_at",
        "vendor",
        "model",
        "firmware_version",
        "message_log",
    )
    list_filter = ("connected", "protocol")
    search_fields = ("identity", "serial", "vendor", "model")
    readonly_fields = (
        "protocol",
        "connected",
        "server_id",
        "connected_at",
        "last_heartbeat_at",
        "last_seen_at",
        "vendor",
        "model",
        "serial",
        "firmware_version",
        "last_boot_at",
    )
    exclude = ("password_hash",)
    inlines = [ChargePointConnectorInline]
    actions = ["set_password"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChargePoint]:
        return super().get_queryset(request).with_online()  # type: ignore[attr-defined]

    @admin.display(
        description="Online",
        boolean=True,
        ordering="online",
    )
    def online(self, obj: ChargePoint) -> bool:
        """Connected and heard from within OCPP_STALE_HEARTBEATS heartbeat intervals (computed at read time)."""
        return bool(getattr(obj, "online", obj.is_online))

    @admin.display(description="Messages")
    def message_log(self, obj: ChargePoint) -> str:
        url = reverse("admin:chargepoints_ocppmessage_changelist") + f"?charge_point__id__exact={obj.pk}"
        return format_html('<a href="{}">log</a>', url)

    @confirmed_action(
        description="Set the HTTP Basic password (one charge point)",
        permissions=["change"],
        warning="The charge point's current connection stays up; its next connection needs the new password.",
    )
    def set_password(self, request: HttpRequest, queryset: QuerySet[ChargePoint]) -> HttpResponse | None:
        """After the confirmation page (post=yes): the password form, then the new password (hashed)."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one charge point.", messages.ERROR)
            return None
        charge_point = queryset.get()
        form = SetPasswordForm(request.POST if "password" in request.POST else None)
        if form.is_valid():
            charge_point.set_password(form.cleaned_data["password"])
            charge_point.save(update_fields=["password_hash"])
            self.message_user(request, f"Password of {charge_point} set.", messages.SUCCESS)
            return HttpResponseRedirect(request.get_full_path())
        context = {
            **self.admin_site.each_context(request),
            "title": f"Set the password of {charge_point}",
            "form": form,
            "charge_point": charge_point,
            "action": "set_password",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/chargepoints/set_password.html", context)


@admin.register(OcppMessage)
class OcppMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "charge_point", "direction", "message_type", "action", "unique_id")
    list_filter = ("direction", "message_type", "action")
    list_select_related = ("charge_point",)
    search_fields = ("unique_id", "charge_point__identity")
    raw_id_fields = ("charge_point",)
    date_hierarchy = "created_at"

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(OcppTransaction)
class OcppTransactionAdmin(admin.ModelAdmin):
    list_display = ("transaction_id", "charge_point", "id_tag", "started_at", "stopped_at", "session")
    list_select_related = ("charge_point", "session")
    raw_id_fields = ("charge_point", "connector", "session")
    search_fields = ("transaction_id", "id_tag", "charge_point__identity")
