"""Exceptions raised by triggers_core.

Every error a caller can provoke with bad input subclasses `ValueError`, so
``except ValueError`` is enough for input validation; storage trouble
subclasses `StorageError`.
"""

from __future__ import annotations


class TriggersError(Exception):
    """Base class of every exception raised by triggers_core."""


class ConfigurationError(TriggersError, ValueError):
    """A task configuration was refused; the message names task and directive."""


class InvalidKwargsError(TriggersError, ValueError):
    """Trigger kwargs, replacement kwargs or a result that is not a JSON object."""


class InvalidStatusError(TriggersError, ValueError):
    """An operation needs an instance in another status than the one it has."""

    def __init__(self, instance_name: str, status: str, expected: str) -> None:
        # str() first: a Status member's repr is "<Status.FAILED: 'failed'>".
        status, expected = str(status), str(expected)
        self.instance_name = instance_name
        self.status = status
        self.expected = expected
        super().__init__(
            f"instance {instance_name!r} is {status!r}; only a {expected!r} "
            "instance can be replayed or skipped"
            if expected == "failed"
            else f"instance {instance_name!r} is {status!r}, expected {expected!r}"
        )


class UnknownInstanceError(TriggersError, KeyError):
    """No instance of that name exists in the session."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown instance"


class UnknownTaskError(TriggersError, KeyError):
    """No task of that name is configured in the session."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown task"


class RegistryError(TriggersError, LookupError):
    """A name (manager, storage scheme, runner, task) could not be resolved."""


class TaskResolutionError(RegistryError):
    """A task's ``run`` reference does not resolve to a callable."""


class StorageError(TriggersError):
    """The storage backend failed: unreachable, refused, or not readable."""


class StorageUnavailableError(StorageError):
    """The backend could not be reached or timed out; nothing was written."""


class NotATriggersStoreError(StorageError):
    """The target exists but is not a triggers store (or has a newer schema)."""


class CorruptRecordError(StorageError):
    """A stored record could not be decoded; the message names it."""


class ConcurrentUpdateError(StorageError):
    """A write kept conflicting with other writers and was given up."""
