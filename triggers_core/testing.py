"""A testing toolbox: ready-made tasks and assertion helpers.

The tasks are real tasks, meant for configurations in tests and demos::

    manager.update_configuration(
        {"t_a": {"after": ["x"], "run": "triggers_core.testing.PassThruTask"}}
    )

The ``assert_*`` helpers raise `AssertionError` with the instance's status,
kwargs, metadata and traceback, so a failing pytest run says why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .context import TaskContext, TriggerTask
from .model import TaskInstance
from .session import SessionStorage
from .status import Status


class PassThruTask(TriggerTask):
    """Returns ``{"kwargs": <trigger kwargs>}``."""

    def run(self, context: TaskContext) -> Mapping[str, Any]:
        return {"kwargs": context.trigger_kwargs}


class DevNullTask(TriggerTask):
    """Returns ``{}``."""

    def run(self, context: TaskContext) -> Mapping[str, Any]:
        return {}


class FailingTask(TriggerTask):
    """Raises `RuntimeError` (with an ``exceptionContext`` to show)."""

    def run(self, context: TaskContext) -> Mapping[str, Any]:
        error = RuntimeError(f"{context.instance_name} failed on purpose")
        error.context = {"kwargs": context.trigger_kwargs}  # type: ignore[attr-defined]
        raise error


class SelfSkippingTask(TriggerTask):
    """Skips itself, recording its kwargs in the instance's metadata."""

    def run(self, context: TaskContext) -> Mapping[str, Any]:
        context.skip({"kwargs": context.trigger_kwargs})


class SelfRetryingTask(TriggerTask):
    """Retries until its depth reaches ``trigger_kwargs["retries"]["max"]``
    (default: ``max_retries``), then returns ``{"count": depth}``."""

    def run(self, context: TaskContext) -> Mapping[str, Any]:
        limit = context.trigger_kwargs.get("retries", {}).get("max", self.max_retries)
        if context.depth < int(limit):
            context.retry()
        return {"count": context.depth}


def describe(instance: TaskInstance) -> str:
    """A readable dump of an instance for failure messages."""
    metadata = dict(instance.metadata)
    trace = metadata.pop("exceptionInfo", None)
    text = (
        f"{instance.name}: {instance.status}\n"
        f"kwargs: {json.dumps(instance.kwargs, indent=2, sort_keys=True)}\n"
        f"metadata: {json.dumps(metadata, indent=2, sort_keys=True, default=str)}"
    )
    if trace:
        text += f"\ntraceback:\n{trace}"
    return text


def assert_instance_status(
    storage: SessionStorage, name: str, status: str
) -> TaskInstance:
    """Assert ``storage[name]`` has ``status``; return the instance."""
    try:
        instance = storage.instances[name]
    except KeyError:
        known = ", ".join(sorted(storage.instances)) or "none"
        raise AssertionError(f"no instance {name!r} (instances: {known})") from None
    if instance.status != Status(status):
        raise AssertionError(f"expected {name} to be {status}\n{describe(instance)}")
    return instance


def assert_finished(storage: SessionStorage, name: str) -> Mapping[str, Any]:
    """Assert ``name`` finished; return its result."""
    result: Mapping[str, Any] = assert_instance_status(
        storage, name, Status.FINISHED
    ).metadata["result"]
    return result


def assert_failed(
    storage: SessionStorage, name: str, exception_type: str | None = None
) -> TaskInstance:
    """Assert ``name`` failed (with ``exception_type``, if given)."""
    instance = assert_instance_status(storage, name, Status.FAILED)
    if (
        exception_type is not None
        and instance.metadata.get("exceptionType") != exception_type
    ):
        raise AssertionError(
            f"expected {name} to fail with {exception_type}\n{describe(instance)}"
        )
    return instance


def assert_statuses(storage: SessionStorage, expected: Mapping[str, str]) -> None:
    """Assert several statuses at once; the message lists every mismatch."""
    instances = dict(storage.instances.items())
    wrong = []
    for name, status in expected.items():
        instance = instances.get(name)
        if instance is None:
            wrong.append(f"{name}: missing")
        elif instance.status != Status(status):
            wrong.append(
                f"{name}: {instance.status}, expected {status}\n{describe(instance)}"
            )
    if wrong:
        raise AssertionError("instance statuses differ:\n" + "\n".join(wrong))
