"""Coalescing: merging the hint of a new change into the hint of the delivery still open for that object.

A hint names a target (every key but `fields`/`full`, e.g. {"evse_uid": "E1"}; {} is the whole object) and
what changed in it: `fields` (a PATCH can carry them) or `full` (the whole target must be sent).
"""

from __future__ import annotations

from typing import Any

FULL: dict[str, Any] = {"full": True}
_FLAGS = ("fields", "full")


def hint_target(hint: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hint.items() if k not in _FLAGS}


def hint_normalize(hint: dict[str, Any] | None) -> dict[str, Any]:
    if not hint:
        return {}
    if not isinstance(hint, dict):
        return dict(FULL)
    target = hint_target(hint)
    if hint.get("full"):
        return {**target, "full": True}
    if "fields" in hint:
        fields = hint["fields"]
        if not fields or not isinstance(fields, list | tuple) or not all(isinstance(f, str) for f in fields):
            return {**target, "full": True}
        return {**target, "fields": sorted(set(fields))}
    return target


def hint_merge(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """What both changes need together. Same target: union of fields (or the whole target); else full.

    {"evse_uid": "E1", "fields": ["status"]} + {"evse_uid": "E1", "fields": ["capabilities"]}
        -> {"evse_uid": "E1", "fields": ["capabilities", "status"]}
    {"evse_uid": "E1", ...} + {"evse_uid": "E2", ...} or + {"fields": ["name"]} -> {"full": True}
    """
    old, new = hint_normalize(old), hint_normalize(new)
    target = hint_target(old)
    if target != hint_target(new):
        return dict(FULL)
    if old.get("full") or new.get("full"):
        return {**target, "full": True}
    if "fields" in old and "fields" in new:
        return {**target, "fields": sorted(set(old["fields"]) | set(new["fields"]))}
    return target
