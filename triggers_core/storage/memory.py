"""``memory://``: every session in this process's memory.

For tests and scripts. ``memory://NAME`` names a store shared by everything
in the process that opens the same URL; a bare ``memory://`` gets a fresh,
uniquely named one. Nothing survives the process, and no other process can
reach it (the Celery runner refuses it for that reason).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from ..jsonutil import dumps, loads
from ..status import UNRESOLVED, Status
from .base import Backend, RawChanges, RawRecord, Reader, SessionSummary, Transaction

T = TypeVar("T")

_stores: dict[str, _MemoryData] = {}
_stores_lock = threading.Lock()


@dataclass
class _Session:
    version: int = 0
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    # Values are JSON text, so callers can never alias stored state.
    tasks: dict[str, str] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)
    trigger_index: dict[str, set[str]] = field(default_factory=dict)
    #: task -> names of its ``unstarted`` instances.
    open: dict[str, set[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    changed: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass
class _MemoryData:
    lock: threading.RLock = field(default_factory=threading.RLock)
    changed: threading.Condition = field(init=False)
    sessions: dict[str, _Session] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)


class _MemoryReader(Reader):
    def __init__(self, session: _Session) -> None:
        self.s = session

    def version(self) -> int:
        return self.s.version

    def tasks(self, names: Iterable[str]) -> dict[str, RawRecord]:
        return {n: loads(self.s.tasks[n]) for n in names if n in self.s.tasks}

    def task_names_for_trigger(self, trigger: str) -> list[str]:
        return sorted(self.s.trigger_index.get(trigger, ()))

    def instances(self, names: Iterable[str]) -> dict[str, RawRecord]:
        return {n: loads(self.s.instances[n]) for n in names if n in self.s.instances}

    def open_instance_names(self, task: str) -> list[str]:
        return sorted(self.s.open.get(task, ()))

    def instance_count(self, task: str) -> int:
        return self.s.counts.get(task, 0)

    def latest_kwargs(self, triggers: Iterable[str]) -> dict[str, RawRecord]:
        return {t: loads(self.s.triggers[t]) for t in triggers if t in self.s.triggers}

    def all_tasks(self) -> dict[str, RawRecord]:
        return self.tasks(list(self.s.tasks))

    def all_instances(self) -> dict[str, RawRecord]:
        return self.instances(list(self.s.instances))

    def task_instance_names(self, task: str) -> list[str]:
        count = self.s.counts.get(task, 0)
        return [
            f"{task}#{i}" for i in range(count) if f"{task}#{i}" in self.s.instances
        ]

    def all_latest_kwargs(self) -> dict[str, RawRecord]:
        return self.latest_kwargs(list(self.s.triggers))

    def changes_since(self, version: int) -> RawChanges:
        picked: dict[str, list[str]] = {"task": [], "instance": [], "trigger": []}
        for (kind, name), changed_at in self.s.changed.items():
            if changed_at > version:
                picked[kind].append(name)
        return RawChanges(
            version=self.s.version,
            tasks=self.tasks(picked["task"]),
            instances=self.instances(picked["instance"]),
            triggers=self.latest_kwargs(picked["trigger"]),
        )


class MemoryBackend(Backend):
    """Sessions held in this process; thread-safe through one lock per store."""

    scheme = "memory"

    def __init__(self, url: str = "memory://") -> None:
        name = url.split("://", 1)[1] if "://" in url else ""
        if not name:
            name = uuid.uuid4().hex
        super().__init__(f"memory://{name}")
        with _stores_lock:
            self._data = _stores.setdefault(name, _MemoryData())

    @property
    def shared_across_processes(self) -> bool:
        return False

    @contextmanager
    def read(self, uid: str) -> Iterator[Reader]:
        with self._data.lock:
            yield _MemoryReader(self._data.sessions.get(uid) or _Session())

    def transact(self, uid: str, body: Callable[[Transaction], T]) -> T:
        with self._data.lock:
            session = self._data.sessions.get(uid) or _Session()
            txn = Transaction(uid, _MemoryReader(session))
            result = body(txn)
            if not txn.writes:
                return result
            self._apply(session, txn)
            self._data.sessions[uid] = session
            self._data.changed.notify_all()
            return result

    @staticmethod
    def _apply(session: _Session, txn: Transaction) -> None:
        writes = txn.writes
        version = session.version + 1
        # Serialise everything first: a value JSON refuses leaves no trace.
        tasks = {n: dumps(c.to_json()) for n, c in writes.tasks.items()}
        instances = {n: dumps(i.to_json()) for n, i in writes.instances.items()}
        triggers = {n: dumps(k) for n, k in writes.latest_kwargs.items()}

        added, removed = writes.trigger_index_changes()
        for trigger, task in removed:
            session.trigger_index.get(trigger, set()).discard(task)
        for trigger, task in added:
            session.trigger_index.setdefault(trigger, set()).add(task)
        for kind, records, target in (
            ("task", tasks, session.tasks),
            ("instance", instances, session.instances),
            ("trigger", triggers, session.triggers),
        ):
            for name, text in records.items():
                target[name] = text
                session.changed[(kind, name)] = version
        for name, instance in writes.instances.items():
            session.statuses[name] = str(instance.status)
            task = instance.task_name
            open_ = session.open.setdefault(task, set())
            if instance.status == Status.UNSTARTED:
                open_.add(name)
            else:
                open_.discard(name)
            session.counts[task] = max(session.counts.get(task, 0), instance.index + 1)
        session.version = version
        session.updated = time.time()

    def wait_for_change(self, uid: str, version: int, timeout: float) -> int:
        with self._data.changed:
            self._data.changed.wait_for(
                lambda: self._version(uid) > version, timeout=timeout
            )
            return self._version(uid)

    def _version(self, uid: str) -> int:
        session = self._data.sessions.get(uid)
        return session.version if session else 0

    def list_sessions(self) -> list[SessionSummary]:
        with self._data.lock:
            summaries = [
                SessionSummary(
                    uid=uid,
                    task_count=len(s.tasks),
                    instance_count=len(s.instances),
                    failed_count=sum(v == Status.FAILED for v in s.statuses.values()),
                    unresolved_count=sum(v in UNRESOLVED for v in s.statuses.values()),
                    created=s.created,
                    updated=s.updated,
                    version=s.version,
                )
                for uid, s in self._data.sessions.items()
            ]
        return sorted(summaries, key=lambda s: s.updated, reverse=True)

    def session_exists(self, uid: str) -> bool:
        with self._data.lock:
            return uid in self._data.sessions

    def delete_session(self, uid: str) -> None:
        with self._data.lock:
            self._data.sessions.pop(uid, None)
            self._data.changed.notify_all()
