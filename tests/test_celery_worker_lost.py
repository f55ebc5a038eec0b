"""A worker dies while an instance runs: what is left, and how it is repaired.

The instance stays ``running``: nothing in the store says it ended, and the
library does not guess (see docs/celery.md, "When a worker dies"). These
tests show what an operator sees and does, and that Celery's redelivery of
the lost message cannot run the instance a second time.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.celery_support import CeleryWorker, redis_url, store_url, wait_for
from tests.celery_tasks import release_key, runs_key
from tests.redis_server import RedisServer
from triggers_core import Status, TriggerManager, open_storage
from triggers_core.runners.celery import (
    CeleryTaskRunner,
    make_app,
    suspect_lost_instances,
)
from triggers_core.testing import assert_statuses, describe

pytestmark = pytest.mark.slow

CONFIGURATION = {
    "t_block": {"after": ["go"], "run": "tests.celery_tasks.block"},
    "t_next": {"after": ["t_block"], "run": "tests.celery_tasks.record"},
}


class Setup:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.redis = RedisServer(directory).start()
        self.broker_url = redis_url(self.redis.port, 0)
        self.counter_url = redis_url(self.redis.port, 1)
        self.counter = redis.Redis.from_url(self.counter_url, decode_responses=True)
        self.app = make_app(self.broker_url)
        self.workers: list[CeleryWorker] = []

    def worker(self, name: str, via: str) -> CeleryWorker:
        worker = CeleryWorker(
            self.directory, self.broker_url, self.counter_url, name,
            via=via, concurrency=1,
        )  # fmt: skip
        self.workers.append(worker)
        return worker.start()

    def manager(self) -> TriggerManager:
        storage = open_storage(store_url(self.redis.port), f"s-{uuid.uuid4().hex[:12]}")
        manager = TriggerManager(storage, default_runner=CeleryTaskRunner(self.app))
        manager.update_configuration(CONFIGURATION)
        return manager

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.counter.close()
        self.redis.stop()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    setup = Setup(tmp_path)
    try:
        yield setup
    finally:
        setup.stop()


def wait_running(manager: TriggerManager, name: str, worker: CeleryWorker) -> None:
    storage = manager.storage

    def running() -> bool:
        return name in storage.instances and storage[name].status == Status.RUNNING

    wait_for(running, lambda: f"{name} running\n{worker.log()[-4000:]}")


def test_killed_worker_leaves_instance_running_until_an_operator_repairs(
    setup: Setup,
) -> None:
    crashing = setup.worker("crashing", via="celery")
    manager = setup.manager()
    storage = manager.storage
    manager.fire("go")
    wait_running(manager, "t_block#0", crashing)
    # While its worker lives, the instance is not suspected.
    assert suspect_lost_instances(storage, setup.app, timeout=5) == []

    crashing.kill()  # SIGKILL to the worker and its pool: a host crash

    lost = storage["t_block#0"]
    assert lost.status == Status.RUNNING, describe(lost)
    assert lost.metadata["celery"]["worker"] == crashing.nodename
    assert [i.name for i in suspect_lost_instances(storage, setup.app)] == ["t_block#0"]

    # The operator's repair: fail it (saying why), then replay it.
    rescuer = setup.worker("rescuer", via="cli")
    manager.update_instance_status(
        "t_block#0",
        "failed",
        metadata={"exceptionMessage": f"worker {crashing.nodename} was lost"},
    )
    manager.replay_failed_instance("t_block#0", {"go": {"release": True}})

    final = {"t_block#0": "replayed", "t_block#1": "finished", "t_next#0": "finished"}

    def repaired() -> bool:
        instances = dict(storage.instances.items())
        return all(
            n in instances and instances[n].status == s for n, s in final.items()
        )

    wait_for(repaired, lambda: "repair\n" + rescuer.log()[-4000:])
    assert_statuses(storage, final)
    assert storage["t_block#1"].metadata["celery"]["worker"] == rescuer.nodename
    runs = setup.counter.lrange(runs_key(storage.uid), 0, -1)
    assert runs == ["t_block#0", "t_block#1", "t_next#0"]


def test_lost_pool_process_is_redelivered_and_not_run_twice(setup: Setup) -> None:
    worker = setup.worker("oom", via="cli")
    manager = setup.manager()
    storage = manager.storage
    manager.fire("go")
    wait_running(manager, "t_block#0", worker)
    pool_pid = storage["t_block#0"].metadata["celery"]["pid"]
    assert worker.process is not None and pool_pid != worker.process.pid

    os.kill(pool_pid, signal.SIGKILL)  # the OOM killer takes one pool process

    # acks_late + reject_on_worker_lost: Celery requeues the message, a new
    # pool process receives it, and the scheduled->running guard refuses it.
    worker.wait_for_log("not running t_block#0: it is running")
    assert storage["t_block#0"].status == Status.RUNNING
    assert setup.counter.lrange(runs_key(storage.uid), 0, -1) == ["t_block#0"]
    setup.counter.set(release_key(storage.uid), 1)
