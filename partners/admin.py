"""Back-office admin: our parties, partners (roles, endpoints, state, message log) and the OCPI message log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ocpi_platform.admin_confirm import confirmed_action
from ocpi_platform.admin_format import truncated
from ocpi_platform.ocpi.client import OcpiClientError
from ocpi_platform.ocpi.exceptions import OcpiError
from ocpi_platform.ocpi.versions import versions_url

from . import admin_hub, services  # noqa: F401 - admin_hub registers the ClientInfo admin
from .admin_outbox import OutboxPartnerColumns
from .admin_sync import PullStateAdmin
from .models import (
    MessageLog,
    Ocpi211Role,
    OutboxState,
    Partner,
    PartnerEndpoint,
    PartnerRole,
    PartnerState,
    PartnerToken,
    Party,
    PullState,
    VersionPin,
)
from .onboarding import REMOVABLE_STATES, partner_holdings, partner_sync_progress, partner_sync_totals
from .outbox import partner_initial_sync, partner_list_with_outbox_counts
from .selectors import partner_module_role_table


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ("role", "country_code", "party_id", "name", "active")
    list_filter = ("role", "active", "country_code")
    search_fields = ("name", "party_id", "country_code")


class PartnerRoleInline(admin.TabularInline):
    model = PartnerRole
    extra = 0
    fields = ("role", "country_code", "party_id", "business_details")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PartnerEndpointInline(admin.TabularInline):
    model = PartnerEndpoint
    extra = 0
    fields = ("identifier", "role", "url")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PartnerTokenInline(admin.TabularInline):
    model = PartnerToken
    extra = 0
    fields = ("kind", "created_at")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "credentials tokens issued by us (stored hashed)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RegisterForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="How this partner is called in the back office")
    versions_url = forms.URLField(max_length=255, assume_scheme="https", help_text="The partner's OCPI versions URL")
    token_a = forms.CharField(max_length=64, help_text="The token A the partner gave you for registration")
    version_pin = forms.ChoiceField(
        label="OCPI version",
        choices=VersionPin.choices,
        required=False,
        help_text=Partner._meta.get_field("version_pin").help_text,
    )
    ocpi211_role = forms.ChoiceField(
        label="OCPI 2.1.1 role",
        choices=Ocpi211Role.choices,
        required=False,
        help_text=Partner._meta.get_field("ocpi211_role").help_text,
    )


class RetryRegistrationForm(forms.Form):
    """A failed registration, tried again: token A was dropped with the failure, so staff give it again."""

    versions_url = RegisterForm.base_fields["versions_url"]
    token_a = RegisterForm.base_fields["token_a"]
    version_pin = RegisterForm.base_fields["version_pin"]
    ocpi211_role = RegisterForm.base_fields["ocpi211_role"]


class InviteForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="How this partner is called in the back office")
    version_pin = RegisterForm.base_fields["version_pin"]
    ocpi211_role = RegisterForm.base_fields["ocpi211_role"]


@admin.register(Partner)
class PartnerAdmin(OutboxPartnerColumns, admin.ModelAdmin):
    # The key columns fit 1400 px (issue 13); the message log link and the rest are on the partner's page.
    list_display = (
        "partner_name",
        "connection_status",
        "version",
        "role_list",
        "outbox_pending",
        "outbox_failed_dead",
        "outbox_last_success",
    )
    list_filter = ("state", "version", "token_encoding")
    search_fields = ("name", "versions_url", "roles__party_id")
    readonly_fields = (
        "state",
        "versions_url",
        "version",
        "version_url",
        "registered_at",
        "last_error",
        "messages_link",
        "module_role_table",
        "onboarding",
        "sync_progress",
        "holdings",
    )
    fields = (
        "name",
        "state",
        "versions_url",
        "version",
        "version_pin",
        "ocpi211_role",
        "version_url",
        "registered_at",
        "last_error",
        "token_encoding",
        "page_limit",
        "timeout_seconds",
        "rate_limit_per_second",
        "messages_link",
        "onboarding",
        "sync_progress",
        "holdings",
        "module_role_table",
    )
    inlines = (PartnerRoleInline, PartnerEndpointInline, PartnerTokenInline)
    actions = (
        "action_update_credentials",
        "action_unregister",
        "action_push_everything",
        "action_push_locations",
        "action_push_tariffs",
        "action_push_tokens",
    )
    change_list_template = "admin/partners/partner/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        queryset = super().get_queryset(request).prefetch_related("roles")
        if request.resolver_match and request.resolver_match.url_name == "partners_partner_changelist":
            queryset = partner_list_with_outbox_counts(queryset)
        return queryset

    @admin.display(description="status", ordering="state")
    def connection_status(self, obj: Partner) -> str:
        status = services.partner_status(obj)
        colour = {"connected": "#2e7d32", "error": "#c62828"}.get(status, "#757575")
        return format_html('<strong style="color:{}">{}</strong>', colour, status)

    @admin.display(description="name", ordering="name")
    def partner_name(self, obj: Partner) -> str:
        return truncated(obj.name, 32)

    @admin.display(description="roles")
    def role_list(self, obj: Partner) -> str:
        return truncated(", ".join(f"{r.role} {r.country_code}/{r.party_id}" for r in obj.roles.all()), 40)

    @admin.display(description="message log")
    def messages_link(self, obj: Partner) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:partners_messagelog_changelist") + f"?partner__id__exact={obj.pk}"
        return format_html('<a href="{}">messages</a>', url)

    @admin.display(description="modules and roles")
    def module_role_table(self, obj: Partner) -> str:
        """The seed's table for this partner: rows modules, columns its roles, cells Sender/Receiver/Both."""
        if not obj.pk:
            return "-"
        roles, rows = partner_module_role_table(partner=obj)
        if not roles:
            return "no roles registered"
        head = format_html_join("", "<th>{}</th>", ((role,) for role in roles))
        body = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            ((module, format_html_join("", "<td>{}</td>", ((c or "-",) for c in cells))) for module, cells in rows),
        )
        return format_html('<table class="module-role-table"><tr><th>module</th>{}</tr>{}</table>', head, body)

    # --- Onboarding (issue 13): what we sent, what it holds, retry or remove a failed registration -----

    @admin.display(description="registration")
    def onboarding(self, obj: Partner) -> str:
        if not obj.pk:
            return "-"
        if obj.state == PartnerState.REGISTERED:
            since = timezone.localtime(obj.registered_at).strftime("%Y-%m-%d %H:%M") if obj.registered_at else "?"
            return format_html("Connected since {} (OCPI {})", since, obj.version or "?")
        links = []
        if obj.state != PartnerState.REGISTERING:
            retry = reverse("admin:partners_partner_retry_registration", args=[obj.pk])
            links.append(
                format_html('<a class="button" id="retry-registration" href="{}">Retry registration</a>', retry)
            )
        if obj.state in REMOVABLE_STATES:
            remove = reverse("admin:partners_partner_remove", args=[obj.pk])
            links.append(format_html('<a class="button" id="remove-partner" href="{}">Remove partner</a>', remove))
        error = format_html('<p class="errornote">{}</p>', obj.last_error) if obj.last_error else ""
        return format_html(
            "<p>{}</p>{}<p>{}</p>", obj.get_state_display(), error, format_html_join(" ", "{}", ((a,) for a in links))
        )

    @admin.display(description="sent to it since registration")
    def sync_progress(self, obj: Partner) -> str:
        """Per module: deliveries queued / delivered / skipped / failed / pending, and the objects it holds."""
        if not obj.pk:
            return "-"
        rows = partner_sync_progress(obj)
        if not rows:
            return "nothing sent yet" + (" (not connected)" if obj.state != PartnerState.REGISTERED else "")
        outbox = reverse("admin:partners_outboxdelivery_changelist")

        def link(module: str, state: str, count: int) -> str:
            query = f"?partner__id__exact={obj.pk}" + (f"&module__exact={module}" if module != "all" else "")
            query += f"&state__exact={state}" if state else ""
            return format_html('<a href="{}{}">{}</a>', outbox, query, count) if count else "0"

        body = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td></tr>",
            (
                (
                    r.module,
                    link(r.module, "", r.queued),
                    link(r.module, OutboxState.DELIVERED, r.delivered),
                    r.skipped,
                    link(r.module, OutboxState.FAILED, r.failed),
                    link(r.module, OutboxState.PENDING, r.pending),
                    r.held,
                    r.percent,
                )
                for r in [*rows, partner_sync_totals(rows)]
            ),
        )
        return format_html(
            '<table id="sync-progress"><tr><th>module</th><th>queued</th><th>delivered</th><th>skipped</th>'
            "<th>failed / dead</th><th>pending</th><th>objects it holds</th><th>done</th></tr>{}</table>",
            body,
        )

    @admin.display(description="what it holds with us")
    def holdings(self, obj: Partner) -> str:
        """Counts of the objects referencing the partner, each a link to the filtered admin list (one query)."""
        if not obj.pk:
            return "-"
        rows = []
        for accessor, label, count, model, param in partner_holdings(obj):
            try:
                url = reverse(f"admin:{model.replace('.', '_')}_changelist") + f"?{param}={obj.pk}"
            except NoReverseMatch:
                url = ""
            cell = format_html('<a href="{}">{}</a>', url, count) if url else str(count)
            rows.append((accessor, label, cell))
        body = format_html_join("", '<tr id="holding-{}"><th>{}</th><td>{}</td></tr>', rows)
        return format_html('<table id="holdings">{}</table>', body)

    def get_urls(self) -> list[Any]:
        extra = [
            path("register/", self.admin_site.admin_view(self.register_view), name="partners_partner_register"),
            path("invite/", self.admin_site.admin_view(self.invite_view), name="partners_partner_invite"),
            path(
                "<int:pk>/retry-registration/",
                self.admin_site.admin_view(self.retry_registration_view),
                name="partners_partner_retry_registration",
            ),
            path("<int:pk>/remove/", self.admin_site.admin_view(self.remove_view), name="partners_partner_remove"),
        ]
        return extra + super().get_urls()

    def retry_registration_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Run the credentials handshake again for a partner whose registration failed; confirmed by posting
        the form (token A is asked again: a failed handshake drops it)."""
        partner = get_object_or_404(Partner, pk=pk)
        if not self.has_change_permission(request, partner):
            raise PermissionDenied
        initial = {
            "versions_url": partner.versions_url,
            "version_pin": partner.version_pin,
            "ocpi211_role": partner.ocpi211_role,
        }
        form = RetryRegistrationForm(request.POST or None, initial=initial)
        if partner.state in (PartnerState.REGISTERED, PartnerState.REGISTERING):
            form.add_error(None, f"{partner.name} is {partner.get_state_display().lower()}: nothing to retry.")
        elif request.method == "POST" and form.is_valid():
            try:
                partner = services.partner_register(
                    versions_url_=form.cleaned_data["versions_url"],
                    token_a=form.cleaned_data["token_a"],
                    name=partner.name,
                    version_pin=form.cleaned_data["version_pin"],
                    ocpi211_role=form.cleaned_data["ocpi211_role"],
                )
            except (OcpiClientError, OcpiError, ValueError) as exc:
                form.add_error(None, f"Registration failed again: {exc}")
            else:
                self.message_user(
                    request, f"Registered with {partner.name} (OCPI {partner.version}).", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:partners_partner_change", args=[partner.pk]))
        partner.refresh_from_db()
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "partner": partner,
            "opts": self.model._meta,
            "title": f"Retry registration with {partner.name}",
        }
        return TemplateResponse(request, "admin/partners/partner/retry_registration.html", context)

    def remove_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Remove a partner whose registration failed: a confirmation page, then the partner and its
        credentials (services.partner_remove); nothing else."""
        partner = get_object_or_404(Partner, pk=pk)
        if not self.has_delete_permission(request, partner):
            raise PermissionDenied
        refusal = ""
        if request.method == "POST" and request.POST.get("post") == "yes":
            try:
                services.partner_remove(partner=partner)
            except services.PartnerNotRemovable as exc:
                refusal = str(exc)
            else:
                self.message_user(request, f"Partner {partner.name} removed.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:partners_partner_changelist"))
        else:
            try:
                services.partner_remove_check(partner=partner)
            except services.PartnerNotRemovable as exc:
                refusal = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "partner": partner,
            "opts": self.model._meta,
            "refusal": refusal,
            "roles": partner.roles.count(),
            "endpoints": partner.endpoints.count(),
            "tokens": partner.tokens.count(),
            "title": f"Remove {partner.name}?",
        }
        return TemplateResponse(request, "admin/partners/partner/remove.html", context)

    def register_view(self, request: HttpRequest) -> HttpResponse:
        """We start the credentials handshake with a partner (we are the Sender of the registration)."""
        if not self.has_add_permission(request):
            raise PermissionDenied  # a new partner needs partners.add_partner (issue 13)
        form = RegisterForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                partner = services.partner_register(
                    versions_url_=form.cleaned_data["versions_url"],
                    token_a=form.cleaned_data["token_a"],
                    name=form.cleaned_data["name"],
                    version_pin=form.cleaned_data["version_pin"],
                    ocpi211_role=form.cleaned_data["ocpi211_role"],
                )
            except (OcpiClientError, OcpiError, ValueError) as exc:
                form.add_error(None, f"Registration failed: {exc}")
            else:
                self.message_user(
                    request, f"Registered with {partner.name} (OCPI {partner.version}).", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:partners_partner_change", args=[partner.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "title": "Register with a partner platform"}
        return TemplateResponse(request, "admin/partners/partner/register.html", context)

    def invite_view(self, request: HttpRequest) -> HttpResponse:
        """The partner starts the handshake: we issue token A and show our versions URL once."""
        if not self.has_add_permission(request):
            raise PermissionDenied  # a new partner needs partners.add_partner (issue 13)
        form = InviteForm(request.POST or None)
        invitation = None
        if request.method == "POST" and form.is_valid():
            try:
                partner, token = services.partner_invite(
                    name=form.cleaned_data["name"],
                    version_pin=form.cleaned_data["version_pin"],
                    ocpi211_role=form.cleaned_data["ocpi211_role"],
                )
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                invitation = {"partner": partner, "token": token, "versions_url": versions_url()}
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "invitation": invitation,
            "title": "Invite a partner platform",
        }
        return TemplateResponse(request, "admin/partners/partner/invite.html", context)

    @confirmed_action(description="Update credentials (rotate tokens, refresh endpoints)", permissions=["change"])
    def action_update_credentials(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset:
            try:
                services.partner_update_credentials(partner=partner)
            except (OcpiClientError, OcpiError, ValueError) as exc:
                self.message_user(request, f"{partner}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{partner}: credentials updated", messages.SUCCESS)

    @confirmed_action(description="Unregister (DELETE credentials, revoke tokens)", permissions=["change"])
    def action_unregister(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset.filter(state=PartnerState.REGISTERED):
            services.partner_unregister(partner=partner)
            self.message_user(request, f"{partner}: unregistered", messages.SUCCESS)

    def _push_now(self, request: HttpRequest, queryset: QuerySet[Partner], modules: list[str] | None) -> None:
        """Initial sync on demand: one full push of every object the partner should hold, through the outbox."""
        for partner in queryset.order_by("pk"):
            if partner.state != PartnerState.REGISTERED:
                self.message_user(request, f"{partner}: not registered, nothing queued", messages.WARNING)
                continue
            queued = partner_initial_sync(partner=partner, modules=modules)
            if not queued:
                wanted = ", ".join(modules or ["locations", "tariffs", "tokens"])
                self.message_user(request, f"{partner}: receives none of {wanted}, nothing queued", messages.WARNING)
                continue
            detail = ", ".join(f"{module} {count}" for module, count in queued.items())
            self.message_user(
                request, f"{partner}: {sum(queued.values())} deliveries queued ({detail})", messages.SUCCESS
            )

    @confirmed_action(description="Push everything now (locations, tariffs, tokens)", permissions=["change"])
    def action_push_everything(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._push_now(request, queryset, None)

    @confirmed_action(description="Push all locations now", permissions=["change"])
    def action_push_locations(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._push_now(request, queryset, ["locations"])

    @confirmed_action(description="Push all tariffs now", permissions=["change"])
    def action_push_tariffs(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._push_now(request, queryset, ["tariffs"])

    @confirmed_action(description="Push all tokens now", permissions=["change"])
    def action_push_tokens(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._push_now(request, queryset, ["tokens"])


@admin.register(MessageLog)
class MessageLogAdmin(admin.ModelAdmin):
    # Statuses before the (shortened) URL: they stay visible at 1400 px (issue 13); the full URL is the title.
    list_display = (
        "time",
        "direction",
        "partner_name",
        "method",
        "http_status",
        "ocpi_status",
        "short_url",
        "duration_ms",
    )
    list_filter = ("direction", "method", "http_status", "ocpi_status", "partner")
    search_fields = ("=request_id", "=correlation_id", "url")
    list_select_related = ("partner",)
    show_full_result_count = False
    readonly_fields = [f.name for f in MessageLog._meta.fields]
    list_per_page = 100

    @admin.display(description="time", ordering="created_at")
    def time(self, obj: MessageLog) -> str:
        """With seconds, in the staff time zone (issue 13): messages of one exchange are seconds apart."""
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M:%S %Z")

    @admin.display(description="partner", ordering="partner__name")
    def partner_name(self, obj: MessageLog) -> str:
        return truncated(obj.partner, 24) if obj.partner else "-"

    @admin.display(description="URL")
    def short_url(self, obj: MessageLog) -> str:
        """The path (the host is the partner's or ours), its end kept: that is where the object ids are."""
        parts = urlsplit(obj.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "") if parts.netloc else obj.url
        return truncated(path, 56, keep_end=True)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.register(PullState, PullStateAdmin)
