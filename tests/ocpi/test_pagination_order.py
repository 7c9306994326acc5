"""The paginator refuses an unordered queryset: offset paging over an undefined order skips or repeats rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from ocpi_platform.ocpi.pagination import paginated_response
from partners.models import MessageLog

pytestmark = pytest.mark.django_db


def _request() -> Request:
    return Request(APIRequestFactory().get("/ocpi/test/list"))


def test_unordered_queryset_is_a_programming_error() -> None:
    unordered = MessageLog.objects.order_by()  # clears the model's default ordering
    assert not unordered.ordered
    with pytest.raises(ImproperlyConfigured, match="ordered queryset"):
        paginated_response(_request(), unordered, lambda page: [m.url for m in page])


@pytest.mark.parametrize(
    "queryset",
    [
        pytest.param(lambda: MessageLog.objects.all(), id="model-default-ordering"),
        pytest.param(lambda: MessageLog.objects.order_by("created_at", "pk"), id="explicit-order-by"),
    ],
)
def test_ordered_queryset_is_paged(queryset: Callable[[], QuerySet[MessageLog]]) -> None:
    MessageLog.objects.create(direction="IN", method="X", url="u0")
    response = paginated_response(_request(), queryset(), lambda page: [m.url for m in page])
    assert response.data["data"] == ["u0"]
    assert response["X-Total-Count"] == "1"


def test_plain_sequence_is_taken_as_given() -> None:
    response = paginated_response(_request(), ["a", "b"], lambda page: list(page))
    assert response.data["data"] == ["a", "b"]
