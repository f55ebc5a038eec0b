"""Task callables used by the tests (importable by dotted path from workers)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from triggers_core import TaskContext, TriggerTask

#: Instance names in the order they ran in this process (for in-process tests).
RUNS: list[str] = []
_lock = threading.Lock()


def record_run(context: TaskContext) -> Mapping[str, Any]:
    """Remember the run, and append it to $TRIGGERS_TEST_RUN_LOG if set."""
    with _lock:
        RUNS.append(context.instance_name)
    log = os.environ.get("TRIGGERS_TEST_RUN_LOG")
    if log:
        # O_APPEND writes of one short line are atomic across processes.
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{context.session_uid} {context.instance_name}\n".encode())
        finally:
            os.close(fd)
    return {"ran": context.instance_name, "kwargs": context.trigger_kwargs}


def return_list(context: TaskContext) -> Any:
    return [1, 2, 3]


def return_unserialisable(context: TaskContext) -> Mapping[str, Any]:
    return {"when": object()}


def log_error(context: TaskContext) -> Mapping[str, Any]:
    context.logger.info("about to complain")
    context.logger.error("something looks wrong: %s", "details")
    return {}


def log_warning(context: TaskContext) -> Mapping[str, Any]:
    context.logger.warning("mild concern")
    return {}


def fire_more(context: TaskContext) -> Mapping[str, Any]:
    context.fire("fromTask", {"by": context.instance_name})
    return {}


class RetryWithNewKwargs(TriggerTask):
    """Retries once with replaced kwargs and a cooldown, then passes."""

    max_retries = 2

    def run(self, context: TaskContext) -> Mapping[str, Any]:
        if context.depth == 0:
            context.retry(
                replacement_kwargs={"x": {"fixed": True}},
                metadata={"why": "transient"},
                cooldown=0.01,
            )
        return {"kwargs": context.trigger_kwargs}


class AlwaysRetry(TriggerTask):
    max_retries = 2

    def run(self, context: TaskContext) -> Mapping[str, Any]:
        context.retry()


not_callable = 42


def retry_with_bad_kwargs(context: TaskContext) -> Mapping[str, Any]:
    context.retry(replacement_kwargs={"x": "not an object"})


def skip_with_unstorable_metadata(context: TaskContext) -> Mapping[str, Any]:
    context.skip({"when": object()})


def log_badly(context: TaskContext) -> Mapping[str, Any]:
    context.logger.warning("100% done with %d of %d", 3)
    context.logger.info("50% of the work")
    return {}


#: Set by a test to let `wait_for_gate` finish.
GATE = threading.Event()


def wait_for_gate(context: TaskContext) -> Mapping[str, Any]:
    if not GATE.wait(timeout=60):
        raise TimeoutError("the test never opened the gate")
    return {"passed": True}
