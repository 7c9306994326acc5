"""Locations module, Receiver interface (eMSP role): partner CPOs push their Locations, EVSEs and Connectors.

URLs `{locations_endpoint_url}/{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]`
(locations.md 3). The URL party must be one the caller registered and never one of ours (else HTTP 404,
nothing stored); the body's ids must equal the URL's (2001 naming the field); PATCH and GET of an unknown
object, and an EVSE/connector PUT under an unknown parent, are HTTP 404 with OCPI 2003 Unknown Location
(spec-issues A7). A location another partner sent is answered exactly as an unknown one, except that a full PUT
over it is HTTP 404, OCPI 2000 "... cannot be written by this partner"; no answer names another partner's
objects. A PUT or PATCH older than what we hold is ignored and answered 1000 (locations.services.location_receive).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.enums import Role
from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound, UnknownLocation
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.openapi import Op, Patch
from ocpi_platform.ocpi.views import RECEIVER, OcpiView, ocpi_response

from ..services import (
    Received,
    ReceivedNotAllowedError,
    ReceivedObjectNotAllowedError,
    connector_receive,
    evse_receive,
    location_get_received,
    location_receive,
)
from .serializers import (
    ConnectorSerializer,
    EvseSerializer,
    LocationSerializer,
    connector_to_ocpi,
    evse_to_ocpi,
    location_to_ocpi,
)


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return "; ".join(exc.messages)


def _unknown(message: str) -> UnknownLocation:
    """An unknown Location, EVSE or Connector (or another partner's): HTTP 404, OCPI 2003 (transport.md 6)."""
    return UnknownLocation(message, http_status=404)


def _check_ids(data: dict[str, Any], expected: dict[str, tuple[str, str]]) -> None:
    """transport.md 4.4 / 13: ids in the body SHALL equal the URL's (2001 naming the field)."""
    for spec_name, (model_name, url_value) in expected.items():
        body_value = data.get(model_name)
        if body_value is not None and body_value.upper() != url_value.upper():
            raise InvalidParameters(
                f"Invalid or missing parameters: {spec_name}: {body_value!r} does not match the URL ({url_value!r})"
            )


# A Location belongs to a CPO; a National Access Point republishes the locations it holds (README "Partner roles").
LOCATION_OWNER_ROLES = (Role.CPO, Role.NAP)


class LocationReceiverBaseView(OcpiView):
    """The module's base URL, announced in our version details; the Receiver has no method on it."""

    ocpi_endpoint = ("locations", RECEIVER)


class _LocationReceiverView(OcpiView):
    serializer_class: type[serializers.Serializer]
    owner_roles = LOCATION_OWNER_ROLES

    def party(self, country_code: str, party_id: str) -> PartyRef:
        return self.owned_party(country_code, party_id)

    def validated(self, *, partial: bool, expected: dict[str, tuple[str, str]]) -> dict[str, Any]:
        serializer = self.serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        _check_ids(serializer.validated_data, expected)
        return serializer.validated_data

    def store(self, call: Any, **kwargs: Any) -> Received:
        try:
            return call(partner=self.partner, **kwargs)
        except ReceivedNotAllowedError as exc:
            raise ObjectNotFound(str(exc)) from None
        except ObjectDoesNotExist as exc:
            raise _unknown(str(exc) or "Unknown location") from None
        except ValidationError as exc:
            raise InvalidParameters(f"Invalid or missing parameters: {_describe(exc)}") from None

    def location(self, party: PartyRef, location_id: str) -> Any:
        try:
            location = location_get_received(
                partner=self.partner, country_code=party.country_code, party_id=party.party_id, location_id=location_id
            )
        except ReceivedObjectNotAllowedError:
            location = None  # another partner's: exactly as unknown
        except ReceivedNotAllowedError as exc:
            raise ObjectNotFound(str(exc)) from None
        if location is None:
            raise _unknown(f"Unknown location {party}/{location_id}")
        return location

    def evse(self, party: PartyRef, location_id: str, evse_uid: str) -> Any:
        for evse in self.location(party, location_id).evses.all():  # prefetched
            if evse.uid.upper() == evse_uid.upper():
                return evse
        raise _unknown(f"Unknown EVSE {evse_uid} at location {party}/{location_id}")


def _answer(result: Received) -> Response:
    return ocpi_response(http_status=201 if result.created else 200)


class LocationReceiverObjectView(_LocationReceiverView):
    """GET/PUT/PATCH `{country_code}/{party_id}/{location_id}`."""

    ocpi_operations = {
        "get": Op("A Location the caller pushed (eMSP Receiver)", data=LocationSerializer),
        "put": Op("Push a whole Location", request=LocationSerializer, created=True),
        "patch": Op("Update fields of a Location", request=Patch(LocationSerializer)),
    }

    serializer_class = LocationSerializer

    def _expected(self, party: PartyRef, location_id: str) -> dict[str, tuple[str, str]]:
        return {
            "country_code": ("country_code", party.country_code),
            "party_id": ("party_id", party.party_id),
            "id": ("ocpi_id", location_id),
        }

    def get(self, request: Request, country_code: str, party_id: str, location_id: str) -> Response:
        party = self.party(country_code, party_id)
        return ocpi_response(location_to_ocpi(self.location(party, location_id)))

    def put(self, request: Request, country_code: str, party_id: str, location_id: str) -> Response:
        party = self.party(country_code, party_id)
        data = self.validated(partial=False, expected=self._expected(party, location_id))
        return _answer(
            self.store(
                location_receive,
                country_code=party.country_code,
                party_id=party.party_id,
                location_id=location_id,
                data=data,
                partial=False,
            )
        )

    def patch(self, request: Request, country_code: str, party_id: str, location_id: str) -> Response:
        party = self.party(country_code, party_id)
        data = self.validated(partial=True, expected=self._expected(party, location_id))
        self.store(
            location_receive,
            country_code=party.country_code,
            party_id=party.party_id,
            location_id=location_id,
            data=data,
            partial=True,
        )
        return ocpi_response()


class EvseReceiverObjectView(_LocationReceiverView):
    """GET/PUT/PATCH `{country_code}/{party_id}/{location_id}/{evse_uid}`."""

    ocpi_operations = {
        "get": Op("An EVSE the caller pushed", data=EvseSerializer),
        "put": Op("Push a whole EVSE of a known Location", request=EvseSerializer, created=True),
        "patch": Op("Update fields of an EVSE", request=Patch(EvseSerializer)),
    }

    serializer_class = EvseSerializer

    def get(self, request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str) -> Response:
        party = self.party(country_code, party_id)
        return ocpi_response(evse_to_ocpi(self.evse(party, location_id, evse_uid)))

    def _write(self, country_code: str, party_id: str, location_id: str, evse_uid: str, *, partial: bool) -> Received:
        party = self.party(country_code, party_id)
        data = self.validated(partial=partial, expected={"uid": ("uid", evse_uid)})
        return self.store(
            evse_receive,
            country_code=party.country_code,
            party_id=party.party_id,
            location_id=location_id,
            evse_uid=evse_uid,
            data=data,
            partial=partial,
        )

    def put(self, request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str) -> Response:
        return _answer(self._write(country_code, party_id, location_id, evse_uid, partial=False))

    def patch(self, request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str) -> Response:
        self._write(country_code, party_id, location_id, evse_uid, partial=True)
        return ocpi_response()


class ConnectorReceiverObjectView(_LocationReceiverView):
    """GET/PUT/PATCH `{country_code}/{party_id}/{location_id}/{evse_uid}/{connector_id}`."""

    ocpi_operations = {
        "get": Op("A Connector the caller pushed", data=ConnectorSerializer),
        "put": Op("Push a whole Connector of a known EVSE", request=ConnectorSerializer, created=True),
        "patch": Op("Update fields of a Connector", request=Patch(ConnectorSerializer)),
    }

    serializer_class = ConnectorSerializer

    def get(
        self, request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str
    ) -> Response:
        party = self.party(country_code, party_id)
        for connector in self.evse(party, location_id, evse_uid).connectors.all():  # prefetched
            if connector.ocpi_id.upper() == connector_id.upper():
                return ocpi_response(connector_to_ocpi(connector))
        raise _unknown(f"Unknown connector {connector_id} at EVSE {evse_uid} of location {party}/{location_id}")

    def _write(
        self, country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str, *, partial: bool
    ) -> Received:
        party = self.party(country_code, party_id)
        data = self.validated(partial=partial, expected={"id": ("ocpi_id", connector_id)})
        return self.store(
            connector_receive,
            country_code=party.country_code,
            party_id=party.party_id,
            location_id=location_id,
            evse_uid=evse_uid,
            connector_id=connector_id,
            data=data,
            partial=partial,
        )

    def put(
        self, request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str
    ) -> Response:
        return _answer(self._write(country_code, party_id, location_id, evse_uid, connector_id, partial=False))

    def patch(
        self, request: Request, country_code: str, party_id: str, location_id: str, evse_uid: str, connector_id: str
    ) -> Response:
        self._write(country_code, party_id, location_id, evse_uid, connector_id, partial=True)
        return ocpi_response()
