"""Services: every write, last_updated maintenance (spec: children move their parents) and the push hook."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from locations.api.serializers import ConnectorSerializer, EvseSerializer, LocationSerializer
from locations.constants import EVSEStatus
from locations.models import EVSE, Connector, Location
from locations.services import (
    connector_put,
    connector_update,
    evse_put,
    evse_set_status,
    evse_update,
    location_create,
    location_publish,
    location_push_now,
    location_put,
    location_update,
)

from .factories import T0, ConnectorFactory, EvseFactory, location_with_evses
from .ocpi_data import example, full_location

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace outbox_enqueue with a recorder; also checks the call happens inside the transaction."""
    calls: list[dict[str, Any]] = []

    def outbox_enqueue(*, module: str, object_id: int, hint: dict[str, Any]) -> None:
        assert transaction.get_connection().in_atomic_block
        calls.append({"module": module, "object_id": object_id, "hint": hint})

    # Patched where the service finds it: partners.outbox (imported per call) or locations.services (module level).
    monkeypatch.setattr("partners.outbox.outbox_enqueue", outbox_enqueue)
    monkeypatch.setattr("locations.services.outbox_enqueue", outbox_enqueue, raising=False)
    return calls


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


def _validated(serializer_class: type, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@pytest.mark.django_db
def test_location_create_ours_stamps_now_and_pushes_full(pushes, frozen_now):
    location = location_create(data=_validated(LocationSerializer, full_location()))

    assert location.last_updated == NOW
    evse = location.evses.get()
    assert evse.last_updated == NOW
    assert evse.connectors.get().last_updated == NOW
    assert (evse.country_code, evse.party_id) == ("NL", "EXA")
    assert pushes == [{"module": "locations", "object_id": location.pk, "hint": {"full": True}}]


@pytest.fixture
def ticking_now(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """A clock that moves 1 ms on every reading, as the real one does between two statements."""
    readings: list[dt.datetime] = []

    def now() -> dt.datetime:
        readings.append(NOW + dt.timedelta(milliseconds=len(readings)))
        return readings[-1]

    monkeypatch.setattr(timezone, "now", now)
    return readings


@pytest.mark.django_db
def test_location_create_is_never_older_than_its_evses_and_connectors(pushes, ticking_now):
    """locations.md: a Location's last_updated is the latest change of it or any EVSE/connector, on creation too."""
    data = full_location()
    data["evses"].append({**copy.deepcopy(data["evses"][0]), "uid": "EVSE-2", "evse_id": "NL*EXA*E2"})
    location = location_create(data=_validated(LocationSerializer, data))

    location.refresh_from_db()
    stamps = [evse.last_updated for evse in location.evses.all()]
    stamps += [c.last_updated for c in Connector.objects.filter(evse__location=location)]
    assert len(stamps) == 4
    assert all(location.last_updated >= stamp for stamp in stamps), (location.last_updated, stamps)


@pytest.mark.django_db
def test_location_update_with_evses_is_never_older_than_them(pushes, ticking_now):
    location = location_create(data=_validated(LocationSerializer, full_location()))
    evses = [{**copy.deepcopy(full_location()["evses"][0]), "uid": "EVSE-NEW", "evse_id": "NL*EXA*E9"}]
    location_update(
        location=location,
        data=_validated(LocationSerializer, {"evses": evses, "last_updated": "2025-03-01T12:00:00Z"}, partial=True),
    )

    location.refresh_from_db()
    newest = max(e.last_updated for e in location.evses.all())
    assert location.last_updated >= newest


@pytest.mark.django_db
def test_location_create_rejects_existing_id_case_insensitively(pushes):
    location_create(data=_validated(LocationSerializer, full_location()))
    with pytest.raises(ValidationError):
        location_create(data=_validated(LocationSerializer, full_location(id="loc-full")))


@pytest.mark.django_db
def test_location_put_partner_row_keeps_partner_last_updated_and_does_not_push(pushes):
    data = example("location_example.json")
    location, created = location_put(data=_validated(LocationSerializer, data))

    assert created is True
    assert location.last_updated == dt.datetime(2015, 6, 29, 20, 39, 9, tzinfo=dt.UTC)
    assert location.evses.get(uid="3256").last_updated == dt.datetime(2015, 6, 28, 8, 12, 1, tzinfo=dt.UTC)
    assert pushes == []


@pytest.mark.django_db
def test_location_put_replaces_and_marks_unlisted_evses_removed(pushes, frozen_now):
    data = example("location_example.json") | {"country_code": "NL", "party_id": "EXA"}
    location, _ = location_put(data=_validated(LocationSerializer, data))
    pushes.clear()
    data["name"] = None  # PUT: omitted/null optional fields revert to their default
    data["evses"] = data["evses"][:1]
    data["evses"][0]["connectors"] = data["evses"][0]["connectors"][:1]

    location, created = location_put(data=_validated(LocationSerializer, data))

    assert created is False
    assert location.name == ""
    assert location.evses.get(uid="3257").status == EVSEStatus.REMOVED
    assert list(location.evses.get(uid="3256").connectors.values_list("ocpi_id", flat=True)) == ["1"]
    assert pushes == [{"module": "locations", "object_id": location.pk, "hint": {"full": True}}]


@pytest.mark.django_db
def test_location_put_unchanged_ours_changes_nothing(pushes, monkeypatch):
    data = full_location()
    location_put(data=_validated(LocationSerializer, data))
    before = Location.objects.get().last_updated
    pushes.clear()
    monkeypatch.setattr(timezone, "now", lambda: NOW + dt.timedelta(days=1))

    location_put(data=_validated(LocationSerializer, data))

    assert Location.objects.get().last_updated == before
    assert pushes == []


@pytest.mark.django_db
def test_location_update_changes_given_fields_only_and_hints_them(pushes, frozen_now):
    location = location_with_evses(evses=1)
    location_update(location=location, data={"name": "Renamed", "latitude": "52.00000", "longitude": "4.00000"})

    location.refresh_from_db()
    assert location.name == "Renamed"
    assert location.city == "Amsterdam"
    assert location.last_updated == NOW
    assert location.evses.get().last_updated == T0  # a Location change does not touch its EVSEs
    assert pushes[-1]["hint"] == {"fields": ["name", "coordinates"]}


@pytest.mark.django_db
def test_location_update_without_change_is_noop(pushes):
    location = location_with_evses(evses=1)
    before = location.last_updated
    location_update(location=location, data={"name": location.name})
    assert Location.objects.get().last_updated == before
    assert pushes == []


@pytest.mark.django_db
def test_location_update_rejects_invalid_values(pushes):
    location = location_with_evses(evses=0)
    with pytest.raises(ValidationError) as error:
        location_update(location=location, data={"time_zone": "Nowhere/City", "latitude": "95.00000"})
    assert set(error.value.message_dict) == {"time_zone", "latitude"}
    assert pushes == []


@pytest.mark.django_db
def test_evse_set_status_bumps_evse_and_location_and_pushes_status(pushes, frozen_now):
    location = location_with_evses(evses=2)
    evse = location.evses.first()

    evse_set_status(evse=evse, status=EVSEStatus.CHARGING)

    evse.refresh_from_db()
    location.refresh_from_db()
    assert evse.status == EVSEStatus.CHARGING
    assert evse.last_updated == NOW
    assert location.last_updated == NOW
    assert location.evses.exclude(pk=evse.pk).get().last_updated == T0
    assert evse.connectors.first().last_updated == T0
    assert pushes == [
        {"module": "locations", "object_id": location.pk, "hint": {"evse_uid": evse.uid, "fields": ["status"]}}
    ]


@pytest.mark.django_db
def test_evse_set_status_same_status_is_noop(pushes):
    evse = EvseFactory(status=EVSEStatus.AVAILABLE)
    evse_set_status(evse=evse, status=EVSEStatus.AVAILABLE)
    assert EVSE.objects.get().last_updated == T0
    assert pushes == []


@pytest.mark.django_db
def test_evse_set_status_rejects_unknown_status(pushes):
    with pytest.raises(ValidationError):
        evse_set_status(evse=EvseFactory(), status="BROKEN")


@pytest.mark.django_db
def test_evse_update_partner_row_uses_patch_last_updated_for_parents(pushes):
    data = example("location_example.json")
    location, _ = location_put(data=_validated(LocationSerializer, data))
    patch = _validated(EvseSerializer, example("location_patch_example_status.json"), partial=True)

    evse = evse_update(evse=location.evses.get(uid="3256"), data=patch)

    stamp = dt.datetime(2019, 6, 24, 12, 39, 9, tzinfo=dt.UTC)
    assert evse.status == "CHARGING"
    assert evse.last_updated == stamp
    assert Location.objects.get().last_updated == stamp
    assert pushes == []


@pytest.mark.django_db
def test_evse_put_creates_with_connectors_and_rejects_uid_of_other_location(pushes, frozen_now):
    first = location_with_evses(evses=0)
    other = location_with_evses(evses=1)
    data = _validated(EvseSerializer, full_location()["evses"][0])

    evse, created = evse_put(location=first, data=data)

    assert created is True
    assert evse.connectors.count() == 1
    assert Location.objects.get(pk=first.pk).last_updated == NOW
    assert pushes[-1]["hint"] == {"evse_uid": "FULL-1", "full": True}
    clash = data | {"uid": other.evses.get().uid.lower()}
    with pytest.raises(ValidationError):
        evse_put(location=first, data=clash)


@pytest.mark.django_db
def test_connector_update_bumps_evse_and_location(pushes, frozen_now):
    connector = ConnectorFactory(tariff_ids=["T1"])
    patch = {"tariff_ids": ["15"], "last_updated": dt.datetime(2019, 1, 1, tzinfo=dt.UTC)}

    connector_update(connector=connector, data=patch)

    connector.refresh_from_db()
    assert connector.tariff_ids == ["15"]
    assert connector.last_updated == NOW  # ours: the server clock, not the body
    assert EVSE.objects.get().last_updated == NOW
    assert Location.objects.get().last_updated == NOW
    evse = connector.evse
    assert pushes == [
        {
            "module": "locations",
            "object_id": evse.location_id,
            "hint": {"evse_uid": evse.uid, "connector_id": connector.ocpi_id, "fields": ["tariff_ids"]},
        }
    ]


@pytest.mark.django_db
def test_connector_put_creates_second_connector(pushes, frozen_now):
    evse = EvseFactory()
    ConnectorFactory(evse=evse, ocpi_id="1")
    data = full_location()["evses"][0]["connectors"][0] | {"id": "2"}
    connector, created = connector_put(evse=evse, data=_validated(ConnectorSerializer, data))

    assert created is True
    assert Connector.objects.filter(evse=evse).count() == 2
    assert pushes[-1]["hint"] == {"evse_uid": evse.uid, "connector_id": "2", "full": True}
    assert connector.last_updated == EVSE.objects.get().last_updated == NOW


@pytest.mark.django_db
def test_location_publish_and_push_now(pushes, frozen_now):
    location = location_with_evses(evses=1, publish=False, publish_allowed_to=[{"group_id": "G1"}])

    location_publish(location=location, publish=True)
    location.refresh_from_db()
    assert location.publish is True
    assert location.publish_allowed_to == []
    assert pushes[-1]["hint"] == {"fields": ["publish", "publish_allowed_to"]}

    location_push_now(location=location)
    assert pushes[-1]["hint"] == {"full": True}
    assert Location.objects.get().last_updated == NOW


@pytest.mark.django_db
def test_partner_rows_are_never_pushed_even_through_push_now(pushes):
    location, _ = location_put(data=_validated(LocationSerializer, example("location_example.json")))
    location_push_now(location=location)
    evse_set_status(evse=location.evses.first(), status=EVSEStatus.BLOCKED)
    assert pushes == []
