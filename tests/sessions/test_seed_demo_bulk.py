"""seed_demo --locations N above the bulk threshold: bulk insert (COPY on PostgreSQL), then ANALYZE, with progress;
the rows equal what the services would have stored, and a second run adds nothing."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from locations.api.serializers import LocationSerializer
from locations.models import EVSE, Connector, Location
from sessions import demo

pytestmark = pytest.mark.django_db(transaction=True)  # VACUUM on PostgreSQL runs outside a transaction

N = demo.BULK_THRESHOLD + 30


def test_bulk_seed_inserts_locations_with_evses_and_connectors_then_analyzes() -> None:
    out, err = StringIO(), StringIO()

    with CaptureQueriesContext(connection) as queries:
        call_command("seed_demo", locations=N, stdout=out, stderr=err)

    ours = Location.objects.filter(ocpi_id__startswith="LOC")
    assert ours.count() == N
    expected_evses = sum(1 + i % 4 for i in range(1, N + 1))
    assert EVSE.objects.filter(location__in=ours).count() == expected_evses
    assert Connector.objects.filter(evse__location__in=ours).count() == expected_evses
    assert f"locations {N:>7}/{N} (100%" in err.getvalue()
    assert f"Locations created: {N}" in out.getvalue()
    assert any("ANALYZE" in q["sql"].upper() for q in queries.captured_queries)

    location = Location.objects.get(ocpi_id="LOC000003")  # index 3: a DC fast charger first, 4 EVSEs
    served: dict[str, Any] = LocationSerializer(location).data
    assert len(served["evses"]) == 4
    assert served["evses"][0]["connectors"][0]["power_type"] == "DC"
    assert served.get("facilities", []) == [] and served["opening_times"] == {"twentyfourseven": True}
    assert LocationSerializer(data=served).is_valid(), "a bulk-seeded location is valid OCPI"

    call_command("seed_demo", locations=N, stdout=StringIO(), stderr=StringIO())
    assert Location.objects.filter(ocpi_id__startswith="LOC").count() == N
