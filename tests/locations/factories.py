"""Factories for our own locations (NL/EXA is the CPO party the test settings create)."""

from __future__ import annotations

import datetime as dt

import factory

from locations.constants import ConnectorFormat, ConnectorType, EVSEStatus, PowerType
from locations.models import EVSE, Connector, Location

OUR_CC, OUR_PID = "NL", "EXA"
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    country_code = OUR_CC
    party_id = OUR_PID
    ocpi_id = factory.Sequence(lambda n: f"LOC{n}")
    publish = True
    name = factory.Sequence(lambda n: f"Station {n}")
    address = "Main street 1"
    city = "Amsterdam"
    postal_code = "1011AB"
    country = "NLD"
    latitude = "52.370216"
    longitude = "4.895168"
    time_zone = "Europe/Amsterdam"
    last_updated = factory.Sequence(lambda n: T0 + dt.timedelta(minutes=n))


class EvseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EVSE

    location = factory.SubFactory(LocationFactory)
    country_code = factory.SelfAttribute("location.country_code")
    party_id = factory.SelfAttribute("location.party_id")
    uid = factory.Sequence(lambda n: f"EVSE{n}")
    evse_id = factory.Sequence(lambda n: f"NL*EXA*E{n:06d}")
    status = EVSEStatus.AVAILABLE
    last_updated = T0


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    evse = factory.SubFactory(EvseFactory)
    ocpi_id = factory.Sequence(lambda n: str(n % 9 + 1))
    standard = ConnectorType.IEC_62196_T2
    format = ConnectorFormat.SOCKET
    power_type = PowerType.AC_3_PHASE
    max_voltage = 230
    max_amperage = 32
    tariff_ids = factory.LazyFunction(lambda: ["T1"])
    last_updated = T0


def location_with_evses(evses: int = 2, connectors: int = 2, **kwargs) -> Location:
    location = LocationFactory(**kwargs)
    for _ in range(evses):
        evse = EvseFactory(location=location)
        for number in range(1, connectors + 1):
            ConnectorFactory(evse=evse, ocpi_id=str(number))
    return location
