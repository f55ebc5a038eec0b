"""The dashboard's copy of one session, kept current from the change feed.

`SessionState` is plain data: the watcher thread reads the store, the UI
thread applies what it read here, and widgets render from it. Nothing in
this module touches the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from triggers_core import Changes, Status, TaskConfig, TaskInstance
from triggers_core.session import has_unresolved_logs

from .query import Query


class FilterMode(StrEnum):
    """The preset filters of the session screen."""

    ALL = "all"
    UNRESOLVED = "unresolved"
    FAILED = "failed"
    RETRYING = "retrying"

    @property
    def description(self) -> str:
        return _MODE_HELP[self]


_MODE_HELP = {
    FilterMode.ALL: "every task and instance",
    FilterMode.UNRESOLVED: "tasks and instances still open",
    FilterMode.FAILED: "failed instances",
    FilterMode.RETRYING: "replays still in progress or failing again",
}


@dataclass
class Delta:
    """What one update changed, by name."""

    tasks: set[str] = field(default_factory=set)
    instances: set[str] = field(default_factory=set)
    new_instances: list[str] = field(default_factory=list)
    new_tasks: list[str] = field(default_factory=list)
    removed: bool = False
    triggers: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.tasks or self.instances or self.removed or self.triggers)

    def merge(self, other: Delta) -> None:
        """Add ``other`` (a later update) to this one."""
        self.tasks |= other.tasks
        self.instances |= other.instances
        self.new_instances.extend(other.new_instances)
        self.new_tasks.extend(other.new_tasks)
        self.removed = self.removed or other.removed
        self.triggers |= other.triggers

    @property
    def touched_tasks(self) -> set[str]:
        """Tasks whose label may read differently (own or instance change)."""
        return self.tasks | {_task_of(n) for n in self.instances}


@dataclass(frozen=True)
class Dependent:
    """A task that waits for another task's name as a trigger."""

    name: str
    missing: tuple[str, ...]
    """``after`` triggers, other than the cascading task, that never fired."""

    @property
    def would_run(self) -> bool:
        return not self.missing


class SessionState:
    """Tasks, instances and latest trigger kwargs of one session."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.version = -1
        self.tasks: dict[str, TaskConfig] = {}
        self.instances: dict[str, TaskInstance] = {}
        self.latest_kwargs: dict[str, dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self.task_counts: dict[str, Counter[str]] = {}
        #: task name -> its instance names in creation order
        self.task_instances: dict[str, list[str]] = {}
        #: instance name -> the names of its replays, in order
        self.replays: dict[str, list[str]] = {}

    @property
    def loaded(self) -> bool:
        return self.version >= 0

    # -- updating -----------------------------------------------------------

    def load(
        self,
        version: int,
        tasks: dict[str, TaskConfig],
        instances: dict[str, TaskInstance],
        latest_kwargs: dict[str, dict[str, Any]],
    ) -> Delta:
        """Replace everything with a fresh snapshot; return what differs."""
        delta = Delta()
        delta.removed = bool(
            set(self.instances) - set(instances) or set(self.tasks) - set(tasks)
        )
        if delta.removed:
            self._reset()
        changed_tasks = {n: c for n, c in tasks.items() if self.tasks.get(n) != c}
        changed_instances = {
            n: i for n, i in instances.items() if _differs(self.instances.get(n), i)
        }
        changed_triggers = {
            t: k for t, k in latest_kwargs.items() if self.latest_kwargs.get(t) != k
        }
        self._merge(changed_tasks, changed_instances, changed_triggers, delta)
        self.version = version
        return delta

    def apply(self, changes: Changes) -> Delta:
        """Merge what the change feed reported; return what it changed."""
        delta = Delta()
        self._merge(changes.tasks, changes.instances, changes.latest_kwargs, delta)
        self.version = max(self.version, changes.version)
        return delta

    def _merge(
        self,
        tasks: dict[str, TaskConfig],
        instances: dict[str, TaskInstance],
        latest_kwargs: dict[str, dict[str, Any]],
        delta: Delta,
    ) -> None:
        for name, config in tasks.items():
            if name not in self.tasks:
                delta.new_tasks.append(name)
                self.task_instances.setdefault(name, [])
                self.task_counts.setdefault(name, Counter())
            self.tasks[name] = config
            delta.tasks.add(name)
            # Instances read before the change carry the old configuration.
            for instance_name in self.task_instances.get(name, ()):
                self.instances[instance_name].config = config
        for name, instance in sorted(instances.items(), key=_creation_order):
            if instance.config is None:
                instance.config = self.tasks.get(instance.task_name)
            old = self.instances.get(name)
            task_counts = self.task_counts.setdefault(instance.task_name, Counter())
            if old is None:
                self.task_instances.setdefault(instance.task_name, []).append(name)
                parent = instance.metadata.get("parent")
                if isinstance(parent, str):
                    self.replays.setdefault(parent, []).append(name)
                delta.new_instances.append(name)
            else:
                self.counts[old.status] -= 1
                task_counts[old.status] -= 1
            self.counts[instance.status] += 1
            task_counts[instance.status] += 1
            self.instances[name] = instance
            delta.instances.add(name)
        for trigger, kwargs in latest_kwargs.items():
            self.latest_kwargs[trigger] = kwargs
            delta.triggers.add(trigger)
        if delta.triggers:
            # A fired trigger changes what tasks without instances wait for.
            delta.tasks.update(
                n for n, c in self.tasks.items() if set(c.triggers) & delta.triggers
            )

    # -- reading ------------------------------------------------------------

    def parent_of(self, instance_name: str) -> str | None:
        """The instance this one replays, if that instance is known."""
        parent = self.instances[instance_name].metadata.get("parent")
        return parent if isinstance(parent, str) and parent in self.instances else None

    def roots_of(self, task_name: str) -> list[str]:
        """The task's instances that are not replays of another one."""
        return [
            n for n in self.task_instances.get(task_name, ()) if not self.parent_of(n)
        ]

    def waiting_for(self, task_name: str) -> tuple[str, ...]:
        """The triggers the task still waits for before it can run again.

        With unstarted instances, what those lack; with no instance at all,
        the ``after`` triggers not fired since; otherwise nothing.
        """
        config = self.tasks[task_name]
        names = self.task_instances.get(task_name, ())
        missing: dict[str, None] = {}
        for name in names:
            instance = self.instances[name]
            if instance.status == Status.UNSTARTED and instance.config is not None:
                missing.update(dict.fromkeys(instance.waiting_for))
        if not names:
            missing.update(
                dict.fromkeys(t for t in config.after if t not in self.latest_kwargs)
            )
        return tuple(missing)

    def fired_triggers(self, task_name: str) -> dict[str, dict[str, Any]]:
        """The task's triggers that fired in the session, with latest kwargs."""
        config = self.tasks[task_name]
        return {
            t: self.latest_kwargs[t] for t in config.triggers if t in self.latest_kwargs
        }

    def dependents_of(self, task_name: str) -> list[Dependent]:
        """Tasks whose ``after`` names ``task_name``: a cascade reaches them."""
        found = []
        for name, config in sorted(self.tasks.items()):
            if task_name not in config.after:
                continue
            missing = tuple(
                t
                for t in config.after
                if t != task_name and t not in self.latest_kwargs
            )
            found.append(Dependent(name, missing))
        return found

    def trigger_names(self) -> list[str]:
        """Every trigger the configuration listens to, and every task name."""
        names: set[str] = set(self.latest_kwargs)
        for config in self.tasks.values():
            names.update(config.triggers)
        return sorted(names)

    def has_unresolved_logs(self, instance_name: str) -> bool:
        return has_unresolved_logs(self.instances[instance_name])

    # -- filtering ------------------------------------------------------------

    def visible_instances(self, mode: FilterMode, query: Query) -> set[str]:
        """Instances shown for a filter, with the replay chains leading to them."""
        shown: set[str] = set()
        for name, instance in self.instances.items():
            if self.instance_matches(instance, mode, query):
                shown.add(name)
                shown.update(self.ancestors(name))
        return shown

    def instance_matches(
        self, instance: TaskInstance, mode: FilterMode, query: Query
    ) -> bool:
        if mode is FilterMode.UNRESOLVED and instance.is_resolved:
            return False
        if mode is FilterMode.FAILED and instance.status != Status.FAILED:
            return False
        if mode is FilterMode.RETRYING and (
            instance.is_resolved or not self.parent_of(instance.name)
        ):
            return False
        return query.matches(instance)

    def task_matches_empty(
        self, task_name: str, mode: FilterMode, query: Query
    ) -> bool:
        """Whether a task without shown instances still shows for a filter."""
        if mode in (FilterMode.FAILED, FilterMode.RETRYING):
            return False
        if mode is FilterMode.UNRESOLVED and self.task_instances.get(task_name):
            return False
        return query.matches_task(task_name)

    def ancestors(self, instance_name: str) -> list[str]:
        """The replay chain above an instance, nearest first."""
        chain: list[str] = []
        parent = self.parent_of(instance_name)
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.parent_of(parent)
        return chain


def _differs(old: TaskInstance | None, new: TaskInstance) -> bool:
    return old is None or old.to_json() != new.to_json()


def _creation_order(item: tuple[str, TaskInstance]) -> tuple[str, int]:
    return item[1].task_name, item[1].index


def _task_of(instance_name: str) -> str:
    return instance_name.rpartition("#")[0]


def sorted_instances(names: Iterable[str]) -> list[str]:
    """Instance names in task, then creation order."""
    return sorted(names, key=lambda n: (_task_of(n), int(n.rpartition("#")[2])))
