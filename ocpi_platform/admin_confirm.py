"""Admin actions that change money or state run only after an intermediate confirmation page (issue 13),
like Django's own "Delete selected" action: the first POST shows the page, the second (``post=yes``) runs it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

Action = Callable[[Any, HttpRequest, QuerySet[Any]], Any]


def confirmed_action(*, description: str, permissions: list[str], warning: str = "") -> Callable[[Action], Action]:
    """``@admin.action`` plus a confirmation page listing the selected objects; ``permissions`` as in Django."""

    def decorate(func: Action) -> Action:
        @wraps(func)
        def wrapper(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
            if request.POST.get("post") == "yes":
                return func(modeladmin, request, queryset)
            opts = modeladmin.model._meta
            context = {
                **modeladmin.admin_site.each_context(request),
                "title": "Are you sure?",
                "subtitle": description,
                "description": description,
                "warning": warning,
                "objects": list(queryset[:200]),
                "count": queryset.count(),
                "queryset": queryset,
                "opts": opts,
                "action": func.__name__,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/backoffice/action_confirmation.html", context)

        return admin.action(description=description, permissions=permissions)(wrapper)

    return decorate
