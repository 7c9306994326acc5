"""Staff back office for tokens: our eMSP tokens are editable (through services), partners' are read-only."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from ocpi_platform.admin_confirm import confirmed_action
from partners.models import Party, Role

from .models import Token, TokenAuthorization, TokenQuerySet, TokenType, WhitelistType, validate_contract_id
from .selectors import token_get
from .services import (
    EDITABLE_FIELDS,
    token_block,
    token_expire_now,
    token_issue,
    token_set_expiry,
    token_set_whitelist,
    token_unblock,
    token_update,
)

KEY_FIELDS = ("country_code", "party_id", "ocpi_id", "type")
READONLY_ALWAYS = ("last_updated", "received_from")


class TokenIssueForm(forms.ModelForm):
    """Add page: issue a token for one of our eMSP parties."""

    party = forms.ModelChoiceField(queryset=Party.objects.none(), help_text="Our eMSP party issuing the token")
    whitelist = forms.ChoiceField(
        choices=[("", "Default (RFID: ALLOWED, app users: NEVER)"), *WhitelistType.choices], required=False
    )

    class Meta:
        model = Token
        fields = ("ocpi_id", "type", "contract_id", "visual_number", "issuer", "group_id", "valid", "whitelist",
                  "language", "default_profile_type", "energy_contract", "expires_at")  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["party"]).queryset = Party.objects.filter(role=Role.EMSP, active=True)

    def clean_contract_id(self) -> str:
        value = self.cleaned_data["contract_id"]
        validate_contract_id(value)
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        party, uid, token_type = cleaned.get("party"), cleaned.get("ocpi_id"), cleaned.get("type")
        if (
            party
            and uid
            and token_type
            and token_get(country_code=party.country_code, party_id=party.party_id, uid=uid, type=token_type)
        ):
            self.add_error("ocpi_id", f"{party.country_code}/{party.party_id} already has a {token_type} token {uid}")
        return cleaned


class TokenEditForm(forms.ModelForm):
    class Meta:
        model = Token
        fields = (*EDITABLE_FIELDS, "expires_at")

    def clean_contract_id(self) -> str:
        value = self.cleaned_data["contract_id"]
        if "contract_id" in self.changed_data:
            validate_contract_id(value)
        return value


class PartyListFilter(admin.SimpleListFilter):
    title = "party"
    parameter_name = "party"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        pairs = Token.objects.order_by("country_code", "party_id").values_list("country_code", "party_id").distinct()
        return [(f"{cc}/{pid}", f"{cc}/{pid}") for cc, pid in pairs]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Token]) -> QuerySet[Token]:
        value = self.value()
        if not value or "/" not in value:
            return queryset
        country_code, party_id = value.split("/", 1)
        return cast(TokenQuerySet, queryset).for_party(country_code, party_id)  # the changelist's Token.objects


class OwnershipListFilter(admin.SimpleListFilter):
    title = "ownership"
    parameter_name = "ownership"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("ours", "Our eMSP tokens"), ("received", "Received from partners")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Token]) -> QuerySet[Token]:
        if self.value() == "ours":
            return queryset.filter(received_from__isnull=True)
        if self.value() == "received":
            return queryset.filter(received_from__isnull=False)
        return queryset


def _apply(modeladmin: TokenAdmin, request: HttpRequest, queryset: QuerySet[Token], action: Any, label: str) -> None:
    done = skipped = 0
    for token in queryset:
        if not token.is_ours:
            skipped += 1
            continue
        action(token)
        done += 1
    modeladmin.message_user(request, f"{label}: {done} token(s).", messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request, f"Skipped {skipped} token(s) received from partners (read-only).", messages.WARNING
        )


def _whitelist_action(value: str) -> Any:
    def action(modeladmin: TokenAdmin, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        _apply(modeladmin, request, queryset, lambda t: token_set_whitelist(token=t, whitelist=value),
               f"Whitelist set to {value}")  # fmt: skip

    action.__name__ = f"set_whitelist_{value.lower()}"
    return admin.action(description=f"Set whitelist to {value} (our tokens)", permissions=["change"])(action)


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = ("ocpi_id", "type", "country_code", "party_id", "contract_id", "visual_number", "valid",
                    "expires_at", "whitelist", "received_from", "last_updated")  # fmt: skip
    list_filter = (
        OwnershipListFilter,
        PartyListFilter,
        "type",
        "valid",
        ("expires_at", admin.EmptyFieldListFilter),
        "whitelist",
        ("received_from", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("ocpi_id", "contract_id", "visual_number")
    list_select_related = ("received_from",)
    raw_id_fields = ("received_from",)
    ordering = ("-last_updated", "pk")
    actions = [
        "block",
        "unblock",
        "expire_now",
        *(_whitelist_action(value) for value in WhitelistType.values),
    ]

    # --- forms: add = issue, change = edit our own token ---------------------------------------

    def get_form(self, request: HttpRequest, obj: Token | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TokenIssueForm
        elif obj.is_ours:
            kwargs["form"] = TokenEditForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Token | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("party", *TokenIssueForm.Meta.fields)
        return (*KEY_FIELDS, *EDITABLE_FIELDS, "expires_at", *READONLY_ALWAYS)

    def get_readonly_fields(self, request: HttpRequest, obj: Token | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        if obj.is_ours:
            return (*KEY_FIELDS, *READONLY_ALWAYS)
        return (*KEY_FIELDS, *EDITABLE_FIELDS, "expires_at", *READONLY_ALWAYS)

    def has_change_permission(self, request: HttpRequest, obj: Token | None = None) -> bool:
        # Partner tokens are viewable (view permission) but never editable.
        if obj is not None and not obj.is_ours:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Token | None = None) -> bool:
        return False  # tokens are never deleted: block them (valid=false), tokens.md 1

    def save_model(self, request: HttpRequest, obj: Token, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        try:
            if not change:
                party = data["party"]
                saved = token_issue(
                    country_code=party.country_code,
                    party_id=party.party_id,
                    uid=data["ocpi_id"],
                    type=data.get("type") or TokenType.RFID,
                    contract_id=data["contract_id"],
                    issuer=data["issuer"],
                    visual_number=data.get("visual_number", ""),
                    group_id=data.get("group_id", ""),
                    valid=data.get("valid", True),
                    whitelist=data.get("whitelist") or None,
                    language=data.get("language", ""),
                    default_profile_type=data.get("default_profile_type", ""),
                    energy_contract=data.get("energy_contract"),
                    expires_at=data.get("expires_at"),
                )
            else:
                current = Token.objects.get(pk=obj.pk)
                changes = {field: data[field] for field in form.changed_data if field in EDITABLE_FIELDS}
                saved = token_update(token=current, **changes)
                if "expires_at" in form.changed_data:
                    saved = token_set_expiry(token=saved, expires_at=data.get("expires_at"))
        except ValidationError as exc:  # form validation ran first; this is a race or a rule of the service
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            raise
        for field in Token._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    # --- bulk actions (our tokens only, through services) -------------------------------------

    @confirmed_action(description="Block (valid = false) selected tokens (ours)", permissions=["change"])
    def block(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        _apply(self, request, queryset, lambda t: token_block(token=t), "Blocked")

    @confirmed_action(
        description="Expire now selected tokens (ours): authorization answers EXPIRED, valid = false",
        permissions=["change"],
    )
    def expire_now(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        _apply(self, request, queryset, lambda t: token_expire_now(token=t), "Expired")

    @confirmed_action(description="Unblock (valid = true) selected tokens (ours)", permissions=["change"])
    def unblock(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        _apply(self, request, queryset, lambda t: token_unblock(token=t), "Unblocked")


@admin.register(TokenAuthorization)
class TokenAuthorizationAdmin(admin.ModelAdmin):
    """Real-time authorizations our eMSP answered: find the token behind a Session's or CDR's reference."""

    list_display = ("reference", "allowed", "token", "location_id", "partner", "created_at")
    list_filter = ("allowed", ("partner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("reference", "token__ocpi_id", "token__contract_id", "location_id")
    list_select_related = ("token", "partner")
    raw_id_fields = ("token", "partner")
    ordering = ("-created_at", "-pk")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TokenAuthorization | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TokenAuthorization | None = None) -> bool:
        return False
