"""The outbox and pull registries: filled by the apps' AppConfig.ready(), an unknown module is an error."""

from __future__ import annotations

import pytest

from partners.models import PullModule
from partners.outbox import UnknownOutboxModule, get_module, registered_modules
from partners.pull_registry import UnknownPullModule, get_pull, register_pull, unregister_pull


def test_every_app_registered_its_outbox_module() -> None:
    assert registered_modules() == ("cdrs", "locations", "sessions", "tariffs", "tokens")
    assert get_module("locations").snapshot is not None
    assert get_module("cdrs").snapshot is None


def test_unknown_outbox_module_is_an_error() -> None:
    with pytest.raises(UnknownOutboxModule, match="locatoins"):
        get_module("locatoins")


def test_every_pull_module_is_registered_and_only_locations_and_tariffs_remove_unseen() -> None:
    removing = {m for m in PullModule.values if get_pull(m).remove_unseen is not None}
    assert removing == {"locations", "tariffs"}


def test_unknown_pull_module_is_an_error_and_registering_replaces() -> None:
    with pytest.raises(UnknownPullModule):
        get_pull("nonsense")
    register_pull("nonsense", store=lambda ctx, raw: 1)
    register_pull("nonsense", store=lambda ctx, raw: 2, refusals=(KeyError,))
    try:
        assert get_pull("nonsense").refusals == (KeyError,)
    finally:
        unregister_pull("nonsense")
    with pytest.raises(UnknownPullModule):
        get_pull("nonsense")
