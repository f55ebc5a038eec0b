"""End to end with real ``celery worker`` processes and a real redis-server.

Two workers (started with ``triggers worker``) serve every test of this
module; each test uses its own session. The broker is the test's own
redis-server (db 0); task runs are counted in db 1, apart from the store.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.celery_support import CeleryWorker, redis_url, store_url, wait_for
from tests.celery_tasks import runs_key
from tests.redis_server import RedisServer
from triggers_core import Status, TriggerManager, open_storage, register
from triggers_core.manager import resolve_task
from triggers_core.runners.celery import CeleryTaskRunner, make_app
from triggers_core.session import SessionStorage
from triggers_core.testing import assert_statuses, describe

pytestmark = pytest.mark.slow

TASKS = "tests.celery_tasks"
RECORD = f"{TASKS}.record"


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.redis = RedisServer(directory).start()
        self.broker_url = redis_url(self.redis.port, 0)
        self.counter_url = redis_url(self.redis.port, 1)
        self.store_url = store_url(self.redis.port)
        self.counter = redis.Redis.from_url(self.counter_url, decode_responses=True)
        self.runner = CeleryTaskRunner(make_app(self.broker_url))
        self.workers = [
            CeleryWorker(directory, self.broker_url, self.counter_url, name)
            for name in ("w1", "w2")
        ]

    def start(self) -> None:
        for worker in self.workers:
            worker.start(wait_ready=False)
        for worker in self.workers:
            worker.wait_for_log(f"{worker.nodename} ready.")

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.counter.close()
        self.redis.stop()

    def manager(self, configuration: dict[str, Any]) -> TriggerManager:
        storage = open_storage(self.store_url, f"s-{uuid.uuid4().hex[:12]}")
        manager = TriggerManager(storage, default_runner=self.runner)
        manager.update_configuration(configuration)
        return manager

    def runs(self, storage: SessionStorage) -> list[str]:
        return self.counter.lrange(runs_key(storage.uid), 0, -1)

    def logs(self) -> str:
        return "\n".join(w.log()[-3000:] for w in self.workers)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("celery"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def reached(
    storage: SessionStorage, wanted: dict[str, str], cluster: Cluster
) -> Callable[[], Any]:
    """A condition: every named instance has its status (for `wait_for`)."""

    def check() -> bool:
        instances = dict(storage.instances.items())
        return all(
            name in instances and instances[name].status == status
            for name, status in wanted.items()
        )

    return check


def waiting(storage: SessionStorage, cluster: Cluster) -> Callable[[], str]:
    def text() -> str:
        states = "\n".join(describe(i) for i in storage.instances.values())
        return f"instances:\n{states}\nworker logs:\n{cluster.logs()}"

    return text


def test_end_to_end_workflow(cluster: Cluster) -> None:
    manager = cluster.manager(
        {
            # By registered name: the worker knows it from --import.
            "t_import": {"after": ["start"], "run": "e2e.record"},
            "t_cascade": {"after": ["t_import"], "run": RECORD},
            "t_page": {"after": ["start"], "andEvery": "page", "run": RECORD},
            "t_flaky": {"after": ["t_import"], "run": f"{TASKS}.flaky"},
            "t_after_flaky": {"after": ["t_flaky"], "run": RECORD},
            "t_doomed": {
                "after": ["start"],
                "run": "triggers_core.testing.FailingTask",
            },
            "t_after_skip": {
                "after": ["t_doomed"],
                "run": RECORD,
                "withParams": {"static": {"p": 1}},
            },
        }
    )
    storage = manager.storage

    manager.fire("start", {"who": "e2e"})
    for n in range(3):
        manager.fire("page", {"n": n})

    first_wave = {
        "t_import#0": "finished",
        "t_cascade#0": "finished",
        "t_page#0": "finished",
        "t_page#1": "finished",
        "t_page#2": "finished",
        "t_flaky#0": "failed",
        "t_doomed#0": "failed",
    }
    wait_for(reached(storage, first_wave, cluster), waiting(storage, cluster))

    doomed = storage["t_doomed#0"]
    assert doomed.metadata["exceptionType"] == "RuntimeError"
    assert "t_doomed#0 failed on purpose" in doomed.metadata["exceptionInfo"]
    assert "Traceback" in storage["t_flaky#0"].metadata["exceptionInfo"]

    clone = manager.replay_failed_instance("t_flaky#0", {"t_import": {"ok": True}})
    manager.skip_failed_instance("t_doomed#0", cascade=True, result={"skip": "yes"})

    final = {
        **first_wave,
        "t_flaky#0": "replayed",
        "t_flaky#1": "finished",
        "t_after_flaky#0": "finished",
        "t_doomed#0": "skipped",
        "t_after_skip#0": "finished",
    }
    wait_for(reached(storage, final, cluster), waiting(storage, cluster))
    assert_statuses(storage, final)
    assert clone.name == "t_flaky#1"
    assert set(storage.instances) == set(final)

    def result(name: str) -> Any:
        return storage[name].metadata["result"]

    start = {"start": {"who": "e2e"}}
    assert result("t_import#0") == {"kwargs": start}
    assert result("t_cascade#0") == {"kwargs": {"t_import": {"kwargs": start}}}
    pages = sorted(result(f"t_page#{i}")["kwargs"]["page"]["n"] for i in range(3))
    assert pages == [0, 1, 2]
    assert result("t_flaky#1") == {"fixed": True, "kwargs": {"t_import": {"ok": True}}}
    assert storage["t_flaky#1"].metadata["parent"] == "t_flaky#0"
    assert result("t_after_flaky#0") == {"kwargs": {"t_flaky": result("t_flaky#1")}}
    assert result("t_after_skip#0") == {
        "kwargs": {"t_doomed": {"skip": "yes"}, "static": {"p": 1}}
    }
    assert storage.get_unresolved_instances() == []

    # Ran on the workers, each exactly once.
    ran = cluster.runs(storage)
    assert sorted(ran) == sorted(set(final) - {"t_doomed#0"})
    workers = {storage[n].metadata["celery"]["worker"] for n in final}
    assert workers <= {w.nodename for w in cluster.workers}


def test_two_workers_run_each_instance_exactly_once(cluster: Cluster) -> None:
    ticks = 200
    manager = cluster.manager(
        {
            "t_tick": {"after": ["begin"], "andEvery": "tick", "run": RECORD},
            # Every finished tick cascades into one echo, sent from a worker.
            "t_echo": {"after": ["t_tick"], "andEvery": "t_tick", "run": RECORD},
        }
    )
    storage = manager.storage

    manager.fire("begin")
    for n in range(ticks):
        manager.fire("tick", {"n": n})

    def all_finished() -> bool:
        instances = storage.instances
        return len(instances) == 2 * ticks and all(
            i.status == Status.FINISHED for i in instances.values()
        )

    def progress() -> str:
        counts = collections.Counter(i.status for i in storage.instances.values())
        return f"all {2 * ticks} finished; got {dict(counts)}\n{cluster.logs()}"

    wait_for(all_finished, progress, timeout=600)

    instances = dict(storage.instances.items())
    ran = collections.Counter(cluster.runs(storage))
    assert set(ran) == set(instances)
    assert [name for name, times in ran.items() if times != 1] == []
    assert sum(ran.values()) == 2 * ticks
    ticked = sorted(instances[f"t_tick#{n}"].kwargs["tick"]["n"] for n in range(ticks))
    assert ticked == list(range(ticks))
    by_worker = collections.Counter(
        i.metadata["celery"]["worker"] for i in instances.values()
    )
    assert set(by_worker) == {w.nodename for w in cluster.workers}, by_worker


def test_retry_cooldown_delays_the_retry_on_the_worker(cluster: Cluster) -> None:
    manager = cluster.manager(
        {"t_retry": {"after": ["go"], "run": f"{TASKS}.retry_later"}}
    )
    storage = manager.storage

    manager.fire("go", {"cooldown": 1.5})

    wanted = {"t_retry#0": "replayed", "t_retry#1": "finished"}
    wait_for(reached(storage, wanted, cluster), waiting(storage, cluster))
    failed = storage["t_retry#0"]
    retry = storage["t_retry#1"]
    assert failed.metadata["retry"] == {"cooldown": 1.5, "why": "testing cooldown"}
    assert retry.metadata["parent"] == "t_retry#0"
    assert retry.metadata["depth"] == 1
    eta = datetime.fromisoformat(retry.metadata["result"]["eta"]).timestamp()
    assert eta >= failed.metadata["timestamps"]["replayed"] + 1.5
    assert cluster.runs(storage) == ["t_retry#0", "t_retry#1"]


def test_reference_the_worker_cannot_resolve_fails_the_instance(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module this process can import but the workers cannot (not deployed).
    module = f"only_here_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text("def task(context):\n    return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert callable(resolve_task(f"{module}.task"))
    manager = cluster.manager(
        {
            "t_missing": {"after": ["go"], "run": f"{module}.task"},
            "t_next": {"after": ["t_missing"], "run": RECORD},
        }
    )
    storage = manager.storage

    manager.fire("go")

    wait_for(
        reached(storage, {"t_missing#0": "failed"}, cluster),
        waiting(storage, cluster),
    )
    failed = storage["t_missing#0"].metadata
    assert failed["exceptionType"] == "triggers_core.errors.TaskResolutionError"
    assert f"cannot resolve task '{module}.task'" in failed["exceptionMessage"]
    assert f"No module named '{module}'" in failed["exceptionMessage"]
    assert "t_next#0" not in storage.instances


class LocalOnlyManager(TriggerManager):
    """Registered in the test process only: workers cannot rebuild it."""

    name = "local-only-test-manager"


def test_manager_the_worker_cannot_rebuild_fails_the_instance(
    cluster: Cluster,
) -> None:
    register("managers", LocalOnlyManager.name, LocalOnlyManager)
    storage = open_storage(cluster.store_url, f"s-{uuid.uuid4().hex[:12]}")
    manager = LocalOnlyManager(storage, default_runner=cluster.runner)
    manager.update_configuration({"t_a": {"after": ["go"], "run": RECORD}})

    manager.fire("go")

    wait_for(reached(storage, {"t_a#0": "failed"}, cluster), waiting(storage, cluster))
    failed = storage["t_a#0"]
    assert failed.metadata["exceptionType"] == "triggers_core.errors.ConfigurationError"
    message = failed.metadata["exceptionMessage"]
    assert "cannot rebuild manager 'local-only-test-manager'" in message
    assert cluster.runs(storage) == []
