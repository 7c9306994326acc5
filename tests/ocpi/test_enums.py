"""The OCPI enums more than one app uses are defined once (ocpi_platform.ocpi.enums); their old homes re-export
the same classes, and no app defines a second enum of the same name."""

from __future__ import annotations

from collections.abc import Iterator

from django.apps import apps
from django.db import models

from ocpi_platform.ocpi import enums

# Still defined a second time in a module of another owner (issue 14): drop from this set once it imports them.
PENDING: set[str] = set()


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_old_homes_re_export_the_shared_enums() -> None:
    from locations import constants
    from tariffs import models as tariffs_models
    from tokens import models as tokens_models

    for name in ("ConnectorFormat", "ConnectorType", "PowerType", "EnergySourceCategory", "TokenType"):
        assert getattr(constants, name) is getattr(enums, name)
    assert constants.EnvironmentalImpactCategory is enums.EnvironmentalImpactCategory
    assert tariffs_models.EnergySourceCategory is enums.EnergySourceCategory
    assert tariffs_models.EnvironmentalImpactCategory is enums.EnvironmentalImpactCategory
    assert tokens_models.TokenType is enums.TokenType
    assert tokens_models.ProfileType is enums.ProfileType


def test_values_are_the_spec_strings() -> None:
    assert enums.TokenType.values == ["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]
    assert enums.InterfaceRole.values == ["SENDER", "RECEIVER"]
    assert enums.ConnectorType.IEC_60309_2_SINGLE_16 == "IEC_60309_2_single_16"
    assert enums.EnergySourceCategory.values == [
        "NUCLEAR",
        "GENERAL_FOSSIL",
        "COAL",
        "GAS",
        "GENERAL_GREEN",
        "SOLAR",
        "WIND",
        "WATER",
    ]


def test_no_app_defines_a_shared_enum_again() -> None:
    ours = {config.name for config in apps.get_app_configs()} | {"ocpi_platform"}
    by_name: dict[str, set[str]] = {}
    for cls in _subclasses(models.TextChoices):
        if cls.__module__.split(".", 1)[0] in ours:
            by_name.setdefault(cls.__name__, set()).add(cls.__module__)
    twice = {name: modules for name, modules in by_name.items() if len(modules) > 1 and name not in PENDING}
    assert twice == {}
