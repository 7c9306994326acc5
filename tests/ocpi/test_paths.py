"""ocpi_path(): the absolute URLs of our own OCPI endpoints, from the route table of the version details."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import re_path

from ocpi_platform.ocpi.paths import mounted_endpoints, ocpi_path, version_details_url, versions_url
from ocpi_platform.ocpi.views import RECEIVER, SENDER, OcpiView


class _CdrsElsewhere(OcpiView):
    ocpi_endpoint = ("cdrs", RECEIVER)


urlpatterns = [re_path(r"^other/2\.2\.1/cdrs/?$", _CdrsElsewhere.as_view())]  # ROOT_URLCONF of the last test


def test_module_base_urls_are_the_version_details_urls() -> None:
    endpoints = mounted_endpoints()
    assert endpoints
    for endpoint in endpoints:
        assert ocpi_path(endpoint["identifier"], endpoint["role"]) == endpoint["url"]


@override_settings(OCPI_BASE_URL="https://ocpi.example.com")
def test_paths_below_a_module_keep_todays_urls() -> None:
    base = "https://ocpi.example.com"
    assert ocpi_path("commands", SENDER, "START_SESSION", "abc123") == (
        f"{base}/ocpi/emsp/2.2.1/commands/START_SESSION/abc123"
    )
    assert ocpi_path("cdrs", RECEIVER, 42) == f"{base}/ocpi/emsp/2.2.1/cdrs/42"
    assert ocpi_path("locations", SENDER, "LOC1", "EVSE1") == f"{base}/ocpi/cpo/2.2.1/locations/LOC1/EVSE1"
    assert ocpi_path("credentials", SENDER) == f"{base}/ocpi/2.2.1/credentials"
    assert versions_url() == f"{base}/ocpi/versions"
    assert version_details_url() == f"{base}/ocpi/2.2.1"


def test_each_segment_is_quoted_as_one_path_segment() -> None:
    url = ocpi_path("commands", SENDER, "START_SESSION", "a/b c?d#e%")
    assert url.endswith("/ocpi/emsp/2.2.1/commands/START_SESSION/a%2Fb%20c%3Fd%23e%25")


def test_a_module_role_that_is_not_mounted_is_an_error() -> None:
    with pytest.raises(LookupError, match="No chargingprofiles SENDER endpoint"):
        ocpi_path("chargingprofiles", SENDER)
    with pytest.raises(LookupError):
        ocpi_path("nosuchmodule", RECEIVER)


@override_settings(ROOT_URLCONF="tests.ocpi.test_paths")
def test_the_route_table_is_the_urlconf_in_use() -> None:
    assert ocpi_path("cdrs", RECEIVER, 7) == f"{settings.OCPI_BASE_URL}/other/2.2.1/cdrs/7"
    with pytest.raises(LookupError):
        ocpi_path("commands", SENDER)
