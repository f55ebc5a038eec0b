"""JSON helpers: the only serialisation stored state ever goes through."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import InvalidKwargsError


def dumps(value: Any) -> str:
    """Serialise stored state compactly; NaN and infinities are refused."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def ensure_json_object(value: Any, what: str) -> dict[str, Any]:
    """Return a JSON-clean copy of ``value`` or raise `InvalidKwargsError`.

    ``what`` names the value in the error ("kwargs of trigger 'x'"). The copy
    is what gets stored, so later mutation by the caller changes nothing.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidKwargsError(
            f"{what} must be a JSON object (a mapping), got {type(value).__name__}"
        )
    try:
        text = dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise InvalidKwargsError(f"{what} cannot be stored as JSON: {exc}") from None
    result: dict[str, Any] = json.loads(text)
    return result


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two mappings recursively; values of ``override`` win."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged
