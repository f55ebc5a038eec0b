"""Messages that carry store results to the UI thread.

Thread workers (the session watcher, store actions) never touch widgets:
they post one of these to the screen that started them, and the screen's
handlers update state and widgets on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from triggers_core import Changes, SessionSummary, TaskConfig, TaskInstance


@dataclass
class SnapshotLoaded(Message):
    """A whole session was read (first load, or again after a reconnect)."""

    version: int
    tasks: dict[str, TaskConfig]
    instances: dict[str, TaskInstance]
    latest_kwargs: dict[str, dict[str, Any]]
    seconds: float
    """How long the read took."""


@dataclass
class ChangesArrived(Message):
    """The change feed reported writes made after the version we had."""

    changes: Changes


@dataclass
class ConnectionLost(Message):
    """A store call failed; the screen keeps its last state and disables actions."""

    error: str
    retry_in: float
    """Seconds until the watcher tries again (0 when not known)."""


@dataclass
class ConnectionRestored(Message):
    """A store call succeeded after a `ConnectionLost`."""


@dataclass
class ActionSucceeded(Message):
    """A store action (replay, skip, ...) was applied."""

    description: str
    summary: str
    select: str | None = None
    """An instance to move the cursor to once it is on screen."""


@dataclass
class ActionRefused(Message):
    """A store action was refused (e.g. the instance is no longer failed)."""

    description: str
    reason: str


@dataclass
class SessionsListed(Message):
    """The picker's list of sessions arrived."""

    sessions: list[SessionSummary]
    store: str
    error: str | None = None
