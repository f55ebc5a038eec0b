"""Fixtures of the dashboard tests: real SQLite and Redis sessions, seeded by
the engine itself (`tui_workflow.seed`), and helpers to drive the app.

``store_url`` is parametrised over both backends, so every test that opens a
seeded session runs once on SQLite and once on Redis (the suite's private
``redis_server``, with a key prefix of its own per test)."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path

import pytest
import tui_workflow
from textual.pilot import Pilot

from tests.redis_server import RedisServer
from triggers_core import SessionStorage, TriggerManager, open_storage
from triggers_core.runners import ThreadingTaskRunner

UID = "tui-test"
HERE = Path(__file__).parent
REPO = HERE.parent.parent


def run_async(
    test: Callable[..., Coroutine[object, object, None]],
) -> Callable[..., None]:
    """Run an ``async def`` test in a fresh event loop.

    The suite has no asyncio plugin; pytest still sees the test's own
    signature (through ``__wrapped__``) and passes it its fixtures.
    """

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'triggers.db'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix=tui-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def seeded(store_url: str) -> Iterator[TriggerManager]:
    """The test workflow in session ``tui-test``, every task thread ended."""
    manager = tui_workflow.seed(store_url, UID)
    yield manager
    # Replays and cascades started by the dashboard run in this process.
    assert ThreadingTaskRunner.join_all(timeout=60), "task threads still running"


@pytest.fixture
def storage(seeded: TriggerManager) -> SessionStorage:
    return open_storage(seeded.storage.url, UID)


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], object], timeout: float = 10.0
) -> None:
    """Let the app run until ``condition()`` is true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.05)


async def wait_in_thread(
    condition: Callable[[], object], timeout: float = 30.0
) -> None:
    """Wait for a store condition without blocking the app's event loop."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await asyncio.sleep(0.05)


def write_from_another_process(url: str, statement: str) -> None:
    """Run ``statement`` in a new Python process, with ``m`` a `TriggerManager`
    of session `UID` at ``url``: a writer the dashboard knows nothing about."""
    code = (
        "import sys; from triggers_core import TriggerManager, open_storage; "
        f"m = TriggerManager(open_storage(sys.argv[1], {UID!r})); {statement}"
    )
    subprocess.run(
        [sys.executable, "-c", code, url],
        check=True,
        timeout=60,
        env={"PYTHONPATH": f"{REPO}:{HERE}", "PATH": "/usr/bin:/bin"},
    )
