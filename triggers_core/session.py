"""`SessionStorage`: one session of a store, and everything to inspect it.

Reading needs no manager: ``storage.tasks["t_x"]``, ``storage["t_x#0"]``,
``storage.get_unresolved_instances()`` and so on each read the store when
called, so they always show the latest committed state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import UnknownInstanceError, UnknownTaskError
from .model import TaskConfig, TaskInstance, task_of
from .status import LOGS_SETTLED
from .storage import Backend, open_store
from .storage.base import RawRecord, Reader, Transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")

ERROR_LEVEL = "ERROR"
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


@dataclass(frozen=True)
class Changes:
    """What changed in a session after some version (see `changes_since`)."""

    version: int
    tasks: dict[str, TaskConfig]
    instances: dict[str, TaskInstance]
    latest_kwargs: dict[str, dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.tasks or self.instances or self.latest_kwargs)


def _instances_from(
    raw: Mapping[str, RawRecord], tasks: Mapping[str, TaskConfig]
) -> dict[str, TaskInstance]:
    return {
        name: TaskInstance.from_json(record, tasks.get(task_of(name)))
        for name, record in raw.items()
    }


def _tasks_from(raw: Mapping[str, RawRecord]) -> dict[str, TaskConfig]:
    return {name: TaskConfig.from_json(name, record) for name, record in raw.items()}


class _TasksView(Mapping[str, TaskConfig]):
    def __init__(self, storage: SessionStorage) -> None:
        self._storage = storage

    def __getitem__(self, name: str) -> TaskConfig:
        with self._storage.read() as reader:
            raw = reader.tasks([name])
        if name not in raw:
            raise UnknownTaskError(f"no task {name!r} in session {self._storage.uid!r}")
        return TaskConfig.from_json(name, raw[name])

    def _all(self) -> dict[str, TaskConfig]:
        with self._storage.read() as reader:
            return _tasks_from(reader.all_tasks())

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._all()))

    def __len__(self) -> int:
        return len(self._all())


class _InstancesView(Mapping[str, TaskInstance]):
    def __init__(self, storage: SessionStorage) -> None:
        self._storage = storage

    def __getitem__(self, name: str) -> TaskInstance:
        try:
            task = task_of(name)
        except ValueError:
            raise UnknownInstanceError(
                f"{name!r} is not an instance name ('<task>#<n>'); "
                f"use storage.instances_of_task({name!r}) for a task's instances"
            ) from None
        with self._storage.read() as reader:
            raw = reader.instances([name])
            tasks = _tasks_from(reader.tasks([task]))
        if name not in raw:
            raise UnknownInstanceError(
                f"no instance {name!r} in session {self._storage.uid!r}"
            )
        return TaskInstance.from_json(raw[name], tasks.get(task))

    def _all(self) -> dict[str, TaskInstance]:
        return self._storage.snapshot()[1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class SessionStorage:
    """One session (``uid``) of a backend, read and written by UID.

    Create one with `triggers_core.open_storage`. All methods are thread-safe
    and every read goes to the store.
    """

    def __init__(self, backend: Backend, uid: str) -> None:
        if not isinstance(uid, str) or not uid.strip():
            raise ValueError(f"session UID must be a non-empty string, got {uid!r}")
        self.backend = backend
        self.uid = uid

    def __repr__(self) -> str:
        return f"<SessionStorage {self.uid!r} at {self.display_url}>"

    @property
    def url(self) -> str:
        """The store's URL, credentials included: what a worker reopens."""
        return self.backend.url

    @property
    def display_url(self) -> str:
        """The store's URL with any password hidden."""
        return self.backend.display_url

    # -- low level --------------------------------------------------------

    def read(self) -> AbstractContextManager[Reader]:
        """A consistent read-only `Reader` of this session (a context manager)."""
        return self.backend.read(self.uid)

    def transact(self, body: Callable[[Transaction], T]) -> T:
        """Run ``body`` as one atomic write (used by the manager)."""
        return self.backend.transact(self.uid, body)

    # -- records ----------------------------------------------------------

    @property
    def tasks(self) -> Mapping[str, TaskConfig]:
        """Task name -> configuration."""
        return _TasksView(self)

    @property
    def instances(self) -> Mapping[str, TaskInstance]:
        """Instance name (``t_x#0``) -> instance. A task name is a `KeyError`."""
        return _InstancesView(self)

    def __getitem__(self, instance_name: str) -> TaskInstance:
        return self.instances[instance_name]

    def exists(self) -> bool:
        """Whether anything was ever written to this session."""
        return self.backend.session_exists(self.uid)

    def snapshot(
        self,
    ) -> tuple[dict[str, TaskConfig], dict[str, TaskInstance], dict[str, Any]]:
        """Tasks, instances and latest kwargs, read in one consistent view."""
        with self.read() as reader:
            tasks = _tasks_from(reader.all_tasks())
            instances = _instances_from(reader.all_instances(), tasks)
            latest = reader.all_latest_kwargs()
        return tasks, instances, latest

    def instances_of_task(self, task_name: str) -> list[TaskInstance]:
        """The task's instances in creation order."""
        with self.read() as reader:
            tasks = _tasks_from(reader.tasks([task_name]))
            names = reader.task_instance_names(task_name)
            raw = reader.instances(names)
        found = _instances_from(raw, tasks)
        return sorted(found.values(), key=lambda i: i.index)

    @property
    def latest_kwargs(self) -> dict[str, dict[str, Any]]:
        """Trigger name -> kwargs of its most recent firing in this session."""
        with self.read() as reader:
            return reader.all_latest_kwargs()

    @property
    def metadata(self) -> dict[str, Any]:
        """Session bookkeeping: ``latest_kwargs`` and the change ``version``."""
        with self.read() as reader:
            return {
                "latest_kwargs": reader.all_latest_kwargs(),
                "version": reader.version(),
            }

    # -- queries ----------------------------------------------------------

    def get_unresolved_tasks(self) -> list[TaskConfig]:
        """Tasks with no instance yet, or with at least one unresolved instance."""
        tasks, instances, _ = self.snapshot()
        started = {i.task_name for i in instances.values()}
        open_ = {i.task_name for i in instances.values() if not i.is_resolved}
        return [c for n, c in sorted(tasks.items()) if n not in started or n in open_]

    def get_unresolved_instances(self) -> list[TaskInstance]:
        """Instances that are not finished, replayed, skipped or abandoned."""
        _, instances, _ = self.snapshot()
        return [i for i in instances.values() if not i.is_resolved]

    def get_instances_with_unresolved_logs(self) -> list[TaskInstance]:
        """Instances that logged at ERROR or above and nobody marked resolved."""
        _, instances, _ = self.snapshot()
        return [i for i in instances.values() if has_unresolved_logs(i)]

    def debug_repr(self) -> dict[str, Any]:
        """A plain JSON-ready snapshot of the whole session."""
        tasks, instances, latest = self.snapshot()
        return {
            "uid": self.uid,
            "tasks": {name: config.to_json() for name, config in sorted(tasks.items())},
            "instances": {name: i.to_json() for name, i in instances.items()},
            "metadata": {"latest_kwargs": latest},
        }

    # -- change feed ------------------------------------------------------

    @property
    def version(self) -> int:
        """The session's change counter: +1 for every committed write."""
        with self.read() as reader:
            return reader.version()

    def changes_since(self, version: int) -> Changes:
        """Every task, instance and trigger written after ``version``."""
        with self.read() as reader:
            raw = reader.changes_since(version)
            names = {task_of(n) for n in raw.instances} - set(raw.tasks)
            tasks = _tasks_from(reader.tasks(names)) | _tasks_from(raw.tasks)
        return Changes(
            version=raw.version,
            tasks={n: tasks[n] for n in raw.tasks},
            instances=_instances_from(raw.instances, tasks),
            latest_kwargs=raw.triggers,
        )

    def wait_for_change(self, version: int, timeout: float) -> int:
        """Block until a write after ``version`` or ``timeout``; the version."""
        return self.backend.wait_for_change(self.uid, version, timeout)


def has_unresolved_logs(instance: TaskInstance) -> bool:
    level = _LEVELS.get(str(instance.metadata.get("logLevel", "")).upper(), 0)
    return (
        level >= _LEVELS[ERROR_LEVEL]
        and not instance.metadata.get("logsResolved")
        and instance.status not in LOGS_SETTLED
    )


def open_storage(url: str | None, uid: str) -> SessionStorage:
    """Open session ``uid`` of the store at ``url`` (None: the default store).

    ``url`` is ``memory://``, ``sqlite:///path/to/file.db``, or (with the
    ``redis`` extra) ``redis://``, ``rediss://`` or ``unix://``. The
    ``TRIGGERS_STORAGE_URL`` environment variable sets the default.
    """
    return SessionStorage(open_store(url), uid)
