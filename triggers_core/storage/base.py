"""The storage contract: what every backend implements, and the generic parts.

A backend (`Backend`) stores many sessions and implements two kinds of
private primitives:

* a `Reader` over one session: point reads (a task, some instances, the open
  instances of a task, the tasks a trigger concerns, latest kwargs) and the
  whole-session reads that inspection needs;
* `Backend.transact`, which runs a `Transaction` body atomically against
  a session and applies the `WriteSet` it produced, bumping the session's
  change counter by one.

Everything public is generic and lives here or in `triggers_core.session`:
the engine is written once against `Transaction`, whatever the backend.
The write path only touches the records it names, so its cost does not grow
with the number of instances in a session.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import CorruptRecordError, UnknownInstanceError
from ..model import TaskConfig, TaskInstance, instance_name, task_of
from ..status import Status

logger = logging.getLogger(__name__)

T = TypeVar("T")

RawRecord = dict[str, Any]


@dataclass(frozen=True)
class SessionSummary:
    """One line of a session listing."""

    uid: str
    task_count: int
    instance_count: int
    failed_count: int
    unresolved_count: int
    created: float
    updated: float
    version: int


@dataclass(frozen=True)
class RawChanges:
    """Records written after a given version, as stored (not yet decoded)."""

    version: int
    tasks: dict[str, RawRecord]
    instances: dict[str, RawRecord]
    triggers: dict[str, RawRecord]


class Reader(ABC):
    """Reads one session's records; inside a transaction, reads are consistent.

    Records come back as decoded JSON (``RawRecord``); `Transaction` and
    `triggers_core.session.SessionStorage` turn them into model objects.
    """

    @abstractmethod
    def version(self) -> int:
        """The session's change counter; 0 for a session never written."""

    @abstractmethod
    def tasks(self, names: Iterable[str]) -> dict[str, RawRecord]:
        """The configurations of the named tasks that exist."""

    @abstractmethod
    def task_names_for_trigger(self, trigger: str) -> list[str]:
        """Names of the tasks whose ``after`` or ``unless`` mention ``trigger``."""

    @abstractmethod
    def instances(self, names: Iterable[str]) -> dict[str, RawRecord]:
        """The named instances that exist."""

    @abstractmethod
    def open_instance_names(self, task: str) -> list[str]:
        """Names of the task's ``unstarted`` instances."""

    @abstractmethod
    def instance_count(self, task: str) -> int:
        """How many instances the task has had (the next instance's index)."""

    @abstractmethod
    def latest_kwargs(self, triggers: Iterable[str]) -> dict[str, RawRecord]:
        """Latest kwargs of the named triggers that have fired."""

    def prefetch_trigger(self, trigger: str) -> None:  # noqa: B027 - optional hook
        """Hint: a fire of ``trigger`` follows. Remote backends batch reads here."""

    # Whole-session reads, for inspection only (never on the write path).

    @abstractmethod
    def all_tasks(self) -> dict[str, RawRecord]: ...

    @abstractmethod
    def all_instances(self) -> dict[str, RawRecord]: ...

    @abstractmethod
    def task_instance_names(self, task: str) -> list[str]:
        """Names of every instance of one task."""

    @abstractmethod
    def all_latest_kwargs(self) -> dict[str, RawRecord]: ...

    @abstractmethod
    def changes_since(self, version: int) -> RawChanges: ...


@dataclass
class WriteSet:
    """What one transaction writes; backends apply it atomically."""

    tasks: dict[str, TaskConfig] = field(default_factory=dict)
    #: Previous configurations of replaced tasks (None: the task is new).
    previous_tasks: dict[str, TaskConfig | None] = field(default_factory=dict)
    instances: dict[str, TaskInstance] = field(default_factory=dict)
    #: Status each written instance had when the transaction read it (None: new).
    previous_status: dict[str, str | None] = field(default_factory=dict)
    latest_kwargs: dict[str, RawRecord] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tasks or self.instances or self.latest_kwargs)

    def trigger_index_changes(
        self,
    ) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """(added, removed) pairs of (trigger, task) for the trigger index."""
        added: set[tuple[str, str]] = set()
        removed: set[tuple[str, str]] = set()
        for name, config in self.tasks.items():
            new = set(config.triggers)
            previous = self.previous_tasks.get(name)
            old = set(previous.triggers) if previous else set()
            added |= {(t, name) for t in new - old}
            removed |= {(t, name) for t in old - new}
        return added, removed


class Transaction:
    """The engine's view of one session during one atomic write.

    Reads go to the backend's `Reader` once and are cached; writes are
    buffered and read back, so the body sees its own changes. The body must
    not have side effects outside the transaction: optimistic backends run
    it again after a conflict.
    """

    def __init__(self, uid: str, reader: Reader) -> None:
        self.uid = uid
        self.reader = reader
        self.writes = WriteSet()
        self._tasks: dict[str, TaskConfig | None] = {}
        self._instances: dict[str, TaskInstance | None] = {}
        self._created: dict[str, list[str]] = {}
        self._counts: dict[str, int] = {}

    # -- tasks ------------------------------------------------------------

    def task(self, name: str) -> TaskConfig | None:
        if name not in self._tasks:
            self._load_tasks([name])
        return self._tasks[name]

    def tasks_for_trigger(self, trigger: str) -> list[TaskConfig]:
        names = set(self.reader.task_names_for_trigger(trigger))
        names |= {n for n, c in self.writes.tasks.items() if trigger in c.triggers}
        self._load_tasks(names)
        found = (self._tasks[n] for n in sorted(names))
        return [c for c in found if c is not None and trigger in c.triggers]

    def put_task(self, config: TaskConfig) -> None:
        if config.name not in self.writes.previous_tasks:
            self.writes.previous_tasks[config.name] = self.task(config.name)
        self._tasks[config.name] = config
        self.writes.tasks[config.name] = config

    def _load_tasks(self, names: Iterable[str]) -> None:
        missing = [n for n in names if n not in self._tasks]
        if not missing:
            return
        raw = self.reader.tasks(missing)
        for name in missing:
            self._tasks[name] = (
                TaskConfig.from_json(name, raw[name]) if name in raw else None
            )

    # -- instances --------------------------------------------------------

    def instance(self, name: str) -> TaskInstance:
        """Load one instance; `UnknownInstanceError` if there is none."""
        if name not in self._instances:
            self._load_instances([name])
        instance = self._instances[name]
        if instance is None:
            raise UnknownInstanceError(f"no instance {name!r} in session {self.uid!r}")
        return instance

    def open_instances(self, config: TaskConfig) -> list[TaskInstance]:
        """The task's ``unstarted`` instances, oldest first, with this txn's."""
        names = self.reader.open_instance_names(config.name)
        names += self._created.get(config.name, [])
        self._load_instances(names)
        found = {n: self._instances[n] for n in names}
        open_ = [i for i in found.values() if i is not None and i.can_schedule]
        return sorted(open_, key=lambda i: i.index)

    def instance_count(self, config: TaskConfig) -> int:
        """How many instances the task has, counting this transaction's."""
        if config.name not in self._counts:
            self._counts[config.name] = self.reader.instance_count(config.name)
        return self._counts[config.name]

    def new_instance(self, config: TaskConfig) -> TaskInstance:
        """Create the task's next instance (``<task>#<n>``), not yet saved."""
        index = self.instance_count(config)
        self._counts[config.name] = index + 1
        instance = TaskInstance(
            name=instance_name(config.name, index), task_name=config.name, config=config
        )
        self._instances[instance.name] = instance
        self._created.setdefault(config.name, []).append(instance.name)
        self.writes.previous_status[instance.name] = None
        return instance

    def save(self, instance: TaskInstance) -> None:
        """Buffer ``instance`` for writing (stamps ``lastModified``)."""
        instance.metadata.setdefault("timestamps", {})["lastModified"] = time.time()
        self._instances[instance.name] = instance
        self.writes.instances[instance.name] = instance

    def _load_instances(self, names: Iterable[str]) -> None:
        missing = [n for n in names if n not in self._instances]
        if not missing:
            return
        raw = self.reader.instances(missing)
        self._load_tasks({task_of(n) for n in raw})
        for name in missing:
            if name not in raw:
                self._instances[name] = None
                continue
            instance = TaskInstance.from_json(raw[name], self._tasks.get(task_of(name)))
            if instance.name != name:
                raise CorruptRecordError(
                    f"instance stored as {name!r} says {instance.name!r}"
                )
            self._instances[name] = instance
            self.writes.previous_status[name] = instance.status

    # -- triggers ---------------------------------------------------------

    def latest_kwargs(self, triggers: Iterable[str]) -> dict[str, RawRecord]:
        wanted = list(triggers)
        found = self.reader.latest_kwargs(
            [t for t in wanted if t not in self.writes.latest_kwargs]
        )
        found.update(
            {t: k for t, k in self.writes.latest_kwargs.items() if t in wanted}
        )
        return found

    def set_latest_kwargs(self, trigger: str, kwargs: RawRecord) -> None:
        self.writes.latest_kwargs[trigger] = kwargs


def new_status_timestamp(instance: TaskInstance, status: str) -> None:
    """Move ``instance`` to ``status`` and stamp when it did."""
    instance.status = Status(status)
    stamps = instance.metadata.setdefault("timestamps", {})
    now = time.time()
    stamps.setdefault("created", now)
    stamps[str(status)] = now


class Backend(ABC):
    """A store of many sessions, reached by URL.

    Subclasses set `scheme` and implement the private primitives; they are
    registered by scheme (entry point group ``triggers.storages``) so that
    `open_storage` and remote workers can rebuild them from a URL alone.
    """

    scheme: str = ""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def display_url(self) -> str:
        """The URL with any password replaced by ``***``, safe to show."""
        from .urls import redact

        return redact(self.url)

    @property
    def shared_across_processes(self) -> bool:
        """Whether another process can reopen this store from its URL."""
        return True

    @abstractmethod
    def read(self, uid: str) -> AbstractContextManager[Reader]:
        """A consistent read-only view of one session."""

    @abstractmethod
    def transact(self, uid: str, body: Callable[[Transaction], T]) -> T:
        """Run ``body`` atomically, apply its writes, return its result.

        A write bumps the session's version by one; a body that wrote
        nothing changes nothing. Optimistic backends may call ``body``
        several times; only the last run's writes are applied.
        """

    @abstractmethod
    def list_sessions(self) -> list[SessionSummary]:
        """Every session in the store, most recently changed first."""

    @abstractmethod
    def session_exists(self, uid: str) -> bool: ...

    @abstractmethod
    def delete_session(self, uid: str) -> None:
        """Remove a session and everything in it."""

    def wait_for_change(self, uid: str, version: int, timeout: float) -> int:
        """Block until the session's version exceeds ``version`` or ``timeout``.

        Returns the current version. The default polls; backends with a push
        channel (Redis pub/sub) override it.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self.read(uid) as reader:
                current = reader.version()
            if current > version or time.monotonic() >= deadline:
                return current
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections. The backend may be used again after."""


def iter_chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
