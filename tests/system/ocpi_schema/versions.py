"""Versions module objects (versions.md): Version, VersionDetails, Endpoint."""

from typing import Literal

from .types import URL, NonEmpty, OcpiModel

VersionNumber = Literal["2.0", "2.1", "2.1.1", "2.2", "2.2.1", "2.3.0"]
InterfaceRole = Literal["SENDER", "RECEIVER"]
ModuleID = Literal[
    "cdrs", "chargingprofiles", "commands", "credentials", "hubclientinfo", "locations", "sessions", "tariffs", "tokens"
]


class Version(OcpiModel):
    version: VersionNumber
    url: URL


class Endpoint(OcpiModel):
    identifier: ModuleID
    role: InterfaceRole
    url: URL


class VersionDetails(OcpiModel):
    version: VersionNumber
    endpoints: NonEmpty(Endpoint)
