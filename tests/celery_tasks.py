"""Application tasks for the Celery tests, imported by the test and the workers.

Every task records its run by appending the instance name to a Redis list
(``runs:<session uid>``) on the test's own redis-server, whose URL the
worker gets in ``TRIGGERS_TEST_COUNTER_URL``. The count is kept apart from
the triggers store so a test can compare the two.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from typing import Any

import redis
from celery import current_task

from triggers_core import TaskContext, register

COUNTER_ENV = "TRIGGERS_TEST_COUNTER_URL"


def counter() -> redis.Redis:
    return _client(os.environ[COUNTER_ENV])


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def runs_key(session_uid: str) -> str:
    return f"runs:{session_uid}"


def release_key(session_uid: str) -> str:
    return f"release:{session_uid}"


def _count(context: TaskContext) -> None:
    counter().rpush(runs_key(context.session_uid), context.instance_name)


def record(context: TaskContext) -> Mapping[str, Any]:
    """Count the run; return the kwargs it got."""
    _count(context)
    return {"kwargs": context.trigger_kwargs}


def flaky(context: TaskContext) -> Mapping[str, Any]:
    """Fail unless some trigger's kwargs say ``ok``."""
    _count(context)
    if not any(kw.get("ok") for kw in context.trigger_kwargs.values()):
        raise RuntimeError(f"{context.instance_name}: not ok yet")
    return {"fixed": True, "kwargs": context.trigger_kwargs}


def block(context: TaskContext) -> Mapping[str, Any]:
    """Run until the test sets the release key (or kwargs say ``release``)."""
    _count(context)
    released = any(kw.get("release") for kw in context.trigger_kwargs.values())
    deadline = time.monotonic() + 300
    while not released and time.monotonic() < deadline:
        released = bool(counter().exists(release_key(context.session_uid)))
        time.sleep(0.1)
    return {"released": released}


def retry_later(context: TaskContext) -> Mapping[str, Any]:
    """Retry once with the cooldown in kwargs; the retry reports its ETA."""
    _count(context)
    if context.depth == 0:
        cooldown = context.trigger_kwargs["go"]["cooldown"]
        context.retry(cooldown=cooldown, metadata={"why": "testing cooldown"})
    eta = current_task.request.eta
    return {"eta": eta, "started": time.time()}


# Registered names: the configuration may use "e2e.record" instead of the
# import path, and the worker finds it because it imports this module.
register("tasks", "e2e.record", record)
