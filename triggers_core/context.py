"""What a task sees while it runs: `TaskContext`, and `TriggerTask`.

A task is any callable that takes a `TaskContext` and returns a mapping (or
``None``). `TriggerTask` is the class form, with ``max_retries``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

if TYPE_CHECKING:
    from .manager import TriggerManager
    from .session import SessionStorage

#: How often a task may retry itself when it does not say otherwise.
DEFAULT_MAX_RETRIES = 3


class SkipRequested(Exception):
    """Raised by `TaskContext.skip`: the instance becomes ``skipped``."""

    def __init__(self, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__("task asked to be skipped")
        self.metadata = dict(metadata or {})


class RetryRequested(Exception):
    """Raised by `TaskContext.retry`: fail this instance and replay it."""

    def __init__(
        self,
        replacement_kwargs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        cooldown: float = 0.0,
    ) -> None:
        super().__init__("task asked to be retried")
        self.replacement_kwargs = replacement_kwargs
        self.metadata = dict(metadata or {})
        self.cooldown = float(cooldown)


class MaxRetriesExceeded(Exception):
    """The instance asked for a retry past its task's ``max_retries``."""


class TaskLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger for one instance; remembers the highest level and the lines.

    Lines also go to the ordinary ``triggers.tasks.<task>`` logger, so an
    application's logging setup sees them too.
    """

    #: How many log lines are kept on the instance (the newest win).
    MAX_RECORDS = 200

    def __init__(self, task_name: str, instance_name: str) -> None:
        super().__init__(logging.getLogger(f"triggers.tasks.{task_name}"), {})
        self.instance_name = instance_name
        self.highest = 0
        self.records: list[dict[str, Any]] = []

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        self.highest = max(self.highest, level)
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            # A bad format string must not fail the task; keep what it said.
            text = f"{msg} {args!r}"
        self.records.append(
            {"level": logging.getLevelName(level), "message": text, "at": time.time()}
        )
        del self.records[: -self.MAX_RECORDS]
        super().log(level, "[%s] %s", self.instance_name, text, **kwargs)

    @property
    def highest_level_name(self) -> str | None:
        return logging.getLevelName(self.highest) if self.highest else None


@dataclass
class TaskContext:
    """Everything a running task instance gets.

    ``trigger_kwargs`` maps trigger names to their kwargs, merged with the
    task's ``withParams`` (the instance's kwargs win). ``storage_url`` and
    ``manager_name`` are what a remote worker used to rebuild ``storage`` and
    ``manager``.
    """

    instance_name: str
    task_name: str
    session_uid: str
    storage_url: str
    manager_name: str
    trigger_kwargs: dict[str, Any]
    manager: TriggerManager
    depth: int = 0
    logger: TaskLogger = field(init=False)

    def __post_init__(self) -> None:
        self.logger = TaskLogger(self.task_name, self.instance_name)

    @property
    def storage(self) -> SessionStorage:
        return self.manager.storage

    def fire(
        self, trigger_name: str, trigger_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        """Fire another trigger in this session."""
        self.manager.fire(trigger_name, trigger_kwargs)

    def skip(self, metadata: Mapping[str, Any] | None = None) -> NoReturn:
        """Stop here and mark the instance ``skipped`` (records ``metadata``)."""
        raise SkipRequested(metadata)

    def retry(
        self,
        replacement_kwargs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        cooldown: float = 0.0,
    ) -> NoReturn:
        """Stop here, fail the instance and replay it after ``cooldown`` seconds.

        ``replacement_kwargs`` replaces the clone's kwargs wholly (``None``
        keeps them). Past the task's ``max_retries`` the instance fails with
        `MaxRetriesExceeded` instead.
        """
        raise RetryRequested(replacement_kwargs, metadata, cooldown)


class TriggerTask:
    """Base class for tasks written as classes.

    Override `run`; set ``max_retries`` to bound `TaskContext.retry`.
    """

    max_retries: ClassVar[int] = DEFAULT_MAX_RETRIES

    def __call__(self, context: TaskContext) -> Mapping[str, Any] | None:
        return self.run(context)

    def run(self, context: TaskContext) -> Mapping[str, Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement run()")
