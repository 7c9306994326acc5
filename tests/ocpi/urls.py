"""A test-only URLconf: views that exercise the shared layer without any module."""

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.pagination import filter_last_updated, page_params, paginated_response
from ocpi_platform.ocpi.views import OcpiView
from partners.models import MessageLog


class BoomView(OcpiView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("boom")


class LogListView(OcpiView):
    """Paginates the message log by created_at, as a stand-in Sender list."""

    def get(self, request: Request) -> Response:
        params = page_params(request)
        rows = filter_last_updated(MessageLog.objects.filter(method="X"), params, field="created_at").order_by(
            "created_at", "pk"
        )
        return paginated_response(request, rows, lambda page: [m.url for m in page], params)


urlpatterns = [
    path("ocpi/test/boom", BoomView.as_view()),
    path("ocpi/test/list", LogListView.as_view()),
    path("", include("ocpi_platform.urls")),
]
