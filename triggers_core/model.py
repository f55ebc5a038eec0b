"""Task configurations and task instances: the records a session holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigurationError, CorruptRecordError
from .jsonutil import dumps
from .status import RESOLVED, Status

#: Directive names as they appear in a configuration (see SEMANTICS.md).
KNOWN_DIRECTIVES = frozenset(
    {"after", "run", "andEvery", "unless", "withParams", "using"}
)


@dataclass(frozen=True)
class TaskConfig:
    """One task: after which triggers to run what.

    ``after`` always contains ``and_every`` when that is set, as the semantics
    require; ``extras`` holds the directives the engine does not know, for
    custom managers.
    """

    name: str
    after: tuple[str, ...]
    run: str
    and_every: str | None = None
    unless: tuple[str, ...] = ()
    with_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    using: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger this task listens to: ``after`` then ``unless``."""
        return self.after + tuple(t for t in self.unless if t not in self.after)

    @classmethod
    def from_directives(
        cls, name: Any, directives: Any, *, check_json: bool = True
    ) -> TaskConfig:
        """Validate one task's directives; raise `ConfigurationError` if wrong.

        ``check_json=False`` skips the serialisation check, for directives
        that were just decoded from JSON.
        """
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"task name must be a non-empty string: {name!r}")
        if not isinstance(directives, Mapping):
            raise ConfigurationError(
                f"task {name!r}: configuration must be an object of directives, "
                f"got {type(directives).__name__}"
            )

        def fail(directive: str, problem: str) -> ConfigurationError:
            return ConfigurationError(
                f"task {name!r}, directive {directive!r}: {problem}"
            )

        for required in ("after", "run"):
            if required not in directives:
                raise fail(required, "is required")

        after = _trigger_list(directives["after"], fail, "after")
        if not after:
            raise fail("after", "must name at least one trigger")
        run = directives["run"]
        if not isinstance(run, str) or not run.strip():
            raise fail("run", "must be the name of a task callable (a string)")

        and_every = directives.get("andEvery")
        if and_every is not None:
            if not isinstance(and_every, str) or not and_every:
                raise fail("andEvery", "must be one trigger name (a string)")
            if and_every not in after:
                after.append(and_every)

        unless = _trigger_list(directives.get("unless", []), fail, "unless")
        if name in after or name in unless:
            raise fail("after", "a task cannot wait for its own name (endless cascade)")

        with_params = directives.get("withParams", {})
        if not isinstance(with_params, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Mapping)
            for k, v in with_params.items()
        ):
            raise fail("withParams", "must be an object of objects, keyed like kwargs")
        using = directives.get("using")
        if using is not None and (not isinstance(using, str) or not using):
            raise fail("using", "must be the name of a task runner (a string)")

        extras = {k: v for k, v in directives.items() if k not in KNOWN_DIRECTIVES}
        try:
            if check_json:
                dumps({"withParams": with_params, "extras": extras})
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"task {name!r}: not storable as JSON: {exc}"
            ) from None

        return cls(
            name=name,
            after=tuple(after),
            run=run,
            and_every=and_every,
            unless=tuple(unless),
            with_params={k: dict(v) for k, v in with_params.items()},
            using=using,
            extras=dict(extras),
        )

    def to_json(self) -> dict[str, Any]:
        """The configuration as directives, ready to store or display."""
        data: dict[str, Any] = dict(self.extras)
        data["after"] = list(self.after)
        data["run"] = self.run
        if self.and_every is not None:
            data["andEvery"] = self.and_every
        if self.unless:
            data["unless"] = list(self.unless)
        if self.with_params:
            data["withParams"] = {k: dict(v) for k, v in self.with_params.items()}
        if self.using is not None:
            data["using"] = self.using
        return data

    @classmethod
    def from_json(cls, name: str, data: Any) -> TaskConfig:
        """Load a stored configuration; a damaged record is reported as such."""
        try:
            return cls.from_directives(name, data, check_json=False)
        except ConfigurationError as exc:
            raise CorruptRecordError(
                f"stored task {name!r} is unreadable: {exc}"
            ) from None


def _trigger_list(value: Any, fail: Any, directive: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise fail(directive, "must be a list of trigger names")
    for item in value:
        if not isinstance(item, str) or not item:
            raise fail(
                directive, f"trigger names must be non-empty strings, got {item!r}"
            )
    return list(dict.fromkeys(value))


@dataclass
class TaskInstance:
    """One execution of a task, named ``<task>#<n>``.

    ``kwargs`` maps each ``after`` trigger that reached the instance to its
    trigger kwargs; ``unless_kwargs`` does the same for ``unless`` triggers.
    ``config`` is the task's configuration at load time and drives the derived
    flags (`can_run` and friends).
    """

    name: str
    task_name: str
    status: str = Status.UNSTARTED
    kwargs: dict[str, Any] = field(default_factory=dict)
    unless_kwargs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    config: TaskConfig | None = field(default=None, compare=False, repr=False)

    @property
    def index(self) -> int:
        """The ``n`` of ``<task>#<n>``: creation order within the task."""
        return int(self.name.rpartition("#")[2])

    @property
    def can_schedule(self) -> bool:
        return self.status == Status.UNSTARTED

    @property
    def can_abandon(self) -> bool:
        config = self._config()
        return (
            self.can_schedule
            and bool(config.unless)
            and all(t in self.unless_kwargs for t in config.unless)
        )

    @property
    def can_run(self) -> bool:
        config = self._config()
        return (
            self.can_schedule
            and all(t in self.kwargs for t in config.after)
            and not self.can_abandon
        )

    @property
    def can_replay(self) -> bool:
        return self.status == Status.FAILED

    @property
    def can_skip(self) -> bool:
        return self.status == Status.FAILED

    @property
    def is_resolved(self) -> bool:
        return self.status in RESOLVED

    @property
    def waiting_for(self) -> tuple[str, ...]:
        """The ``after`` triggers that have not reached this instance yet."""
        return tuple(t for t in self._config().after if t not in self.kwargs)

    def _config(self) -> TaskConfig:
        if self.config is None:
            raise RuntimeError(f"instance {self.name!r} was loaded without its task")
        return self.config

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task_name,
            "status": str(self.status),
            "kwargs": self.kwargs,
            "unlessKwargs": self.unless_kwargs,
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, data: Any, config: TaskConfig | None) -> TaskInstance:
        try:
            status = Status(data["status"])
            instance = cls(
                name=data["name"],
                task_name=data["task"],
                status=status,
                kwargs=dict(data["kwargs"]),
                unless_kwargs=dict(data.get("unlessKwargs", {})),
                metadata=dict(data["metadata"]),
                config=config,
            )
            instance.index  # noqa: B018 - validates the name
        except (KeyError, TypeError, ValueError) as exc:
            label = data.get("name", "?") if isinstance(data, dict) else "?"
            raise CorruptRecordError(
                f"stored instance {label!r} is unreadable: {type(exc).__name__}: {exc}"
            ) from None
        return instance


def instance_name(task_name: str, index: int) -> str:
    return f"{task_name}#{index}"


def task_of(instance_name: str) -> str:
    """The task name of an instance name (``t_x#3`` -> ``t_x``)."""
    task, sep, index = instance_name.rpartition("#")
    if not sep or not task or not index.isdigit():
        raise ValueError(
            f"not an instance name (expected '<task>#<n>'): {instance_name!r}"
        )
    return task
