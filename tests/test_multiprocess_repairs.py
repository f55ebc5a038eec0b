"""Operators in several processes repair the same failed instances at once.

Four processes each walk every failed instance in their own order and try
to replay it or skip it with a cascade. Exactly one attempt per instance may
win; the others must get the not-failed error, and nothing may be applied
twice (one clone per replay, one dependent instance per cascade).
"""

from __future__ import annotations

import multiprocessing
import random
import uuid
from typing import Any

import pytest

from tests.redis_server import RedisServer
from triggers_core import InvalidStatusError, Status, TriggerManager, open_storage
from triggers_core.runners import ThreadingTaskRunner

FAILED = 20
PROCESSES = 4


def operator(url: str, uid: str, seed: int, go: Any, results: Any) -> None:
    manager = TriggerManager(open_storage(url, uid))
    manager.storage.version  # noqa: B018 - connect before the race starts
    order = list(range(FAILED))
    random.Random(seed).shuffle(order)
    go.wait()  # every operator is ready: they start together
    won: list[tuple[str, str]] = []
    refused = 0
    for n in order:
        name = f"t_flaky#{n}"
        try:
            if (n + seed) % 2:
                manager.replay_failed_instance(name, reason=f"operator {seed}")
                won.append((name, "replay"))
            else:
                manager.skip_failed_instance(name, cascade=True, result={"by": seed})
                won.append((name, "skip"))
        except InvalidStatusError:
            refused += 1
    ThreadingTaskRunner.join_all()
    results.put((won, refused))


@pytest.fixture(params=["sqlite", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'repairs.db'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix=repairs-{uuid.uuid4().hex[:8]}:"


@pytest.mark.slow
def test_concurrent_operators_each_instance_repaired_once(shared_url: str) -> None:
    uid = "repairs"
    manager = TriggerManager(open_storage(shared_url, uid))
    manager.update_configuration(
        {
            "t_flaky": {
                "after": ["go"],
                "andEvery": "go",
                "run": "triggers_core.testing.FailingTask",
            },
            "t_after": {
                "after": ["t_flaky"],
                "andEvery": "t_flaky",
                "run": "triggers_core.testing.DevNullTask",
            },
        }
    )
    for n in range(FAILED):
        manager.fire("go", {"n": n})
    assert ThreadingTaskRunner.join_all(timeout=120)
    storage = manager.storage
    assert all(i.status == Status.FAILED for i in storage.instances_of_task("t_flaky"))
    manager.update_configuration(  # the fix: replays now succeed
        {
            "t_flaky": {
                "after": ["go"],
                "andEvery": "go",
                "run": "triggers_core.testing.PassThruTask",
            }
        }
    )

    context = multiprocessing.get_context("spawn")
    go, results = context.Barrier(PROCESSES), context.Queue()
    procs = [
        context.Process(target=operator, args=(shared_url, uid, seed, go, results))
        for seed in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0

    wins = [win for won, _ in outcomes for win in won]
    assert sorted(name for name, _ in wins) == sorted(
        f"t_flaky#{n}" for n in range(FAILED)
    )
    assert sum(refused for _, refused in outcomes) == FAILED * (PROCESSES - 1)

    replays = {name for name, action in wins if action == "replay"}
    instances = storage.instances_of_task("t_flaky")
    originals, clones = instances[:FAILED], instances[FAILED:]
    for instance in originals:
        expected = Status.REPLAYED if instance.name in replays else Status.SKIPPED
        assert instance.status == expected, instance
    assert sorted(c.metadata["parent"] for c in clones) == sorted(replays)
    assert all(c.status == Status.FINISHED for c in clones)
    # Every repair cascaded exactly once: a skip directly, a replay when its
    # clone finished.
    assert len(storage.instances_of_task("t_after")) == FAILED
