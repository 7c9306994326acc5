"""Admin for pull synchronisation progress (PullState): per partner and module, with "pull now" actions.

Not registered here: partners/admin.py registers `PullStateAdmin` for `PullState`.
"""

from __future__ import annotations

from functools import partial

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from ocpi_platform.admin_confirm import confirmed_action

from .models import PullState
from .tasks import partner_pull


class PullStateAdmin(admin.ModelAdmin):
    list_display = (
        "partner",
        "module",
        "mode",
        "status",
        "pages",
        "objects_stored",
        "objects_skipped",
        "objects_removed",
        "last_date_to",
        "started_at",
        "finished_at",
        "interval_minutes",
        "enabled",
        "short_error",
    )
    list_filter = ("module", "status", "mode", "enabled")
    search_fields = ("partner__name", "module")
    list_select_related = ("partner",)
    ordering = ("partner__name", "module")
    fields = (
        "partner",
        "module",
        "interval_minutes",
        "enabled",
        "mode",
        "status",
        "date_from",
        "date_to",
        "last_date_to",
        "pages",
        "last_total",
        "objects_stored",
        "objects_skipped",
        "objects_removed",
        "next_url",
        "page_url",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "last_success_at",
        "queued_at",
        "last_error",
    )
    actions = ("pull_now_full", "pull_now_delta")

    def get_readonly_fields(self, request: HttpRequest, obj: PullState | None = None) -> tuple[str, ...]:
        """Only the schedule is editable; progress is written by the pull."""
        return tuple(f for f in self.fields if f not in ("interval_minutes", "enabled"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are created by the pulls and the beat task

    @admin.display(description="last error")
    def short_error(self, obj: PullState) -> str:
        return obj.last_error[:80]

    def _queue(self, request: HttpRequest, queryset: QuerySet[PullState], *, full: bool) -> None:
        rows = list(queryset.values_list("partner_id", "module"))
        for partner_id, module in rows:
            transaction.on_commit(partial(partner_pull.delay, partner_id=partner_id, module=module, full=full))
        kind = "full" if full else "delta"
        self.message_user(request, f"Queued {len(rows)} {kind} pull(s).", messages.SUCCESS)

    @confirmed_action(description="Pull now (full)", permissions=["change"])
    def pull_now_full(self, request: HttpRequest, queryset: QuerySet[PullState]) -> None:
        self._queue(request, queryset, full=True)

    @confirmed_action(description="Pull now (delta)", permissions=["change"])
    def pull_now_delta(self, request: HttpRequest, queryset: QuerySet[PullState]) -> None:
        self._queue(request, queryset, full=False)
