"""Querysets and selectors: ownership, publication, time windows, stable order."""

from __future__ import annotations

import datetime as dt

import pytest

from locations.models import Location
from locations.selectors import (
    connector_get,
    evse_get,
    location_get,
    location_get_published,
    location_list_published,
    party_is_ours,
)
from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Party

from .factories import T0, ConnectorFactory, EvseFactory, LocationFactory


@pytest.mark.django_db
def test_location_queryset_filters():
    mine = LocationFactory()
    hidden = LocationFactory(publish=False)
    theirs = LocationFactory(country_code="BE", party_id="CPX")
    Party.objects.create(role="EMSP", country_code="BE", party_id="CPX", name="our eMSP, not a CPO")

    assert set(Location.objects.owned_by_us()) == {mine, hidden}
    assert set(Location.objects.published()) == {mine, theirs}
    assert list(Location.objects.ours_published()) == [mine]
    assert list(Location.objects.for_party("be", "cpx")) == [theirs]
    assert party_is_ours(country_code="nl", party_id="exa") is True
    assert party_is_ours(country_code="BE", party_id="CPX") is False


@pytest.mark.django_db
def test_location_list_published_window_and_order():
    late = LocationFactory(last_updated=T0 + dt.timedelta(hours=2))
    a = LocationFactory(last_updated=T0)
    b = LocationFactory(last_updated=T0)  # same instant: pk breaks the tie
    LocationFactory(last_updated=T0 + dt.timedelta(hours=3))

    assert list(location_list_published())[:3] == [a, b, late]
    assert list(location_list_published(date_from=T0 + dt.timedelta(hours=2), date_to=T0 + dt.timedelta(hours=3))) == [
        late
    ]
    assert list(location_list_published(party=PartyRef.of("DE", "XXX"))) == []


@pytest.mark.django_db
def test_object_getters_are_case_insensitive():
    location = LocationFactory(ocpi_id="Loc-A")
    evse = EvseFactory(location=location, uid="Evse-A")
    connector = ConnectorFactory(evse=evse, ocpi_id="C1")

    assert location_get_published(location_id="LOC-a") == location
    assert location_get(country_code="nl", party_id="exa", location_id="loc-A") == location
    assert evse_get(location=location, evse_uid="evse-a") == evse
    assert connector_get(evse=evse, connector_id="c1") == connector
    assert location_get_published(location_id="Loc-A", party=PartyRef.of("BE", "CPX")) is None
