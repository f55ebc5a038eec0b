"""Text helpers shared by widgets: times, JSON, audit history."""

from __future__ import annotations

import json
import time
from typing import Any


def format_time(value: Any, *, compact: bool = False) -> str:
    """A stored timestamp (seconds since the epoch) as local time.

    ``compact`` drops the year and seconds, for columns in 80 columns.
    """
    if not isinstance(value, int | float):
        return str(value)
    pattern = "%m-%d %H:%M" if compact else "%Y-%m-%d %H:%M:%S"
    return time.strftime(pattern, time.localtime(value))


def to_json(value: Any) -> str:
    """Indented, key-sorted JSON, as operators read and edit it."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def history_line(entry: Any) -> str:
    """One audit entry (who did what, when, from where, why) on one line."""
    if not isinstance(entry, dict):
        return str(entry)
    action = entry.get("action", "?")
    parts = [format_time(entry.get("at")), str(action)]
    if entry.get("replay"):
        parts.append(f"as {entry['replay']}")
    if "cascade" in entry:
        parts.append("with cascade" if entry["cascade"] else "without cascade")
    if entry.get("replacedKwargs"):
        parts.append("with edited kwargs")
    parts.append(f"by {entry.get('by', '?')}")
    if entry.get("source"):
        parts.append(f"from {entry['source']}")
    text = " ".join(parts)
    if entry.get("reason"):
        text += f": {entry['reason']}"
    return text
