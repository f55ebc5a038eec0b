"""Fixtures shared by the suite.

``storage_url`` is parametrised over every backend, so each engine test runs
against each of them (the contract is written once, as in huey's storage
tests). Backends that need a server start their own on a free port.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from triggers_core import SessionStorage, TriggerManager, open_storage
from triggers_core.runners import ThreadingTaskRunner

BACKENDS = ["memory", "sqlite"]


@pytest.fixture(params=BACKENDS)
def storage_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if request.param == "memory":
        return f"memory://test-{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        return f"sqlite://{tmp_path_factory.mktemp('sqlite') / 'triggers.db'}"
    raise AssertionError(request.param)


@pytest.fixture
def storage(storage_url: str) -> SessionStorage:
    return open_storage(storage_url, f"test-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def manager(storage: SessionStorage) -> Iterator[TriggerManager]:
    yield TriggerManager(storage)
    # A test must not leave threads writing into the next test's store.
    assert ThreadingTaskRunner.join_all(timeout=60), "task threads still running"
