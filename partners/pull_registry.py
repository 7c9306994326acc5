"""Which modules can be pulled (partners/sync.py), and how each stores what a partner's Sender list served.

Each app registers its pull rules in its AppConfig.ready() (e.g. locations/apps.py with locations/pull.py):

    register_pull("locations", store=location_store_pulled, refusals=(...), remove_unseen=locations_remove_unseen)

* `store(ctx, raw) -> int`: validate one object of a page with the module's canonical serializer, check its
  owner (`ctx.owner(...)`), store it through the module's Receiver service and return its local pk. Raise
  PullSkip for an object that is not stored (invalid, foreign owner);
* `refusals`: the Receiver service's "not this object" exceptions, logged and skipped like invalid objects
  (Django's ValidationError, ObjectDoesNotExist and IntegrityError always are);
* `remove_unseen(partner, scope, seen) -> int`: after a complete FULL pull, retire the partner's objects the
  Sender no longer served: `scope` (a Q over country_code, party_id and received_from) selects the partner's
  own objects, `seen` is a subquery of the local pks served. None: the module's objects are never removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import Q, QuerySet

    from partners.models import Partner


class UnknownPullModule(LookupError):
    """No app registered pull rules for this module name."""


class PullSkip(Exception):
    """One object of a page is not stored; `local_id` marks a held object as still served (FULL pulls)."""

    def __init__(self, reason: str, local_id: int | None = None) -> None:
        super().__init__(reason)
        self.local_id = local_id


@dataclass
class PullContext:
    """The crawl a stored object belongs to: the partner, and the (country_code, party_id) keys of the parties
    it registered that are not ours (the only owners its objects may have)."""

    partner: Partner
    parties: set[tuple[str, str]]

    def owner(self, country_code: str, party_id: str) -> tuple[str, str]:
        """The object's owner key, upper case; PullSkip when it is not a party registered by this partner."""
        key = (country_code.upper(), party_id.upper())
        if key not in self.parties:
            raise PullSkip(f"owner {key[0]}/{key[1]} is not a party registered by this partner")
        return key


def raw_str(raw: Any, key: str) -> str:
    """A string field of a raw (unvalidated) object, or ""."""
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else ""


def pull_validated(serializer_class: type, raw: Any, local_id: Callable[[], int | None]) -> dict[str, Any]:
    """The object validated by the module's canonical serializer; PullSkip (with the local pk of the object we
    hold under this key, if any: it is still served) when it is invalid."""
    serializer = serializer_class(data=raw)
    if not serializer.is_valid():
        raise PullSkip(f"invalid: {serializer.errors}", local_id())
    return serializer.validated_data


@dataclass(frozen=True)
class PullRules:
    name: str
    store: Callable[[PullContext, Any], int]
    refusals: tuple[type[Exception], ...] = ()
    remove_unseen: Callable[[Partner, Q, QuerySet[Any]], int] | None = None


_registry: dict[str, PullRules] = {}


def register_pull(
    module: str,
    *,
    store: Callable[[PullContext, Any], int],
    refusals: tuple[type[Exception], ...] = (),
    remove_unseen: Callable[[Partner, Q, QuerySet[Any]], int] | None = None,
) -> None:
    """Declare how pulled objects of `module` are stored (see the module docstring). Registering again replaces
    the previous registration (AppConfig.ready may run more than once in tests)."""
    _registry[module] = PullRules(name=module, store=store, refusals=tuple(refusals), remove_unseen=remove_unseen)


def unregister_pull(module: str) -> None:
    """For tests that register a throw-away module."""
    _registry.pop(module, None)


def get_pull(module: str) -> PullRules:
    """The pull rules of `module`; UnknownPullModule when no app registered them."""
    try:
        return _registry[module]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise UnknownPullModule(f"Pull module {module!r} is not registered (registered: {known})") from None
