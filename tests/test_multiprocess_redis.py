"""Redis under many writers and under a crash: nothing lost, nothing twice.

* Four processes fire more than 2,000 triggers into one session, mixing
  one-shot and ``andEvery`` tasks (the workload of `tests.multiprocess`),
  while their threads run the instances and cascade.
* The server is SIGKILLed in the middle of a burst of fires and restarted
  (append-only file, fsync on every write): each fire either took effect
  wholly or raised `StorageUnavailableError`.

Both check the stored state afterwards, including the derived structures
(status counts, open set, counters, trigger index) that a half-applied write
would leave out of step with the records.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path

import pytest

from tests import multiprocess
from tests.redis_checks import check_layout
from tests.redis_server import RedisServer
from triggers_core import StorageUnavailableError, TriggerManager, open_storage
from triggers_core.model import TaskInstance
from triggers_core.runners.base import TaskRunner
from triggers_core.status import Status

PASS = "triggers_core.testing.PassThruTask"


@pytest.mark.slow
def test_four_processes_fire_into_one_redis_session(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    url = f"{redis_server.url}?prefix=mp:"
    log = tmp_path / "runs.log"
    shape = {"processes": 4, "pairs": 500, "ticks": 260}
    fires = multiprocess.run(url, "busy", log, **shape)
    assert fires >= 2000
    multiprocess.check(url, "busy", log, **shape)

    state = check_layout(url, "busy")
    assert state["unresolved"] == 0
    (summary,) = open_storage(url, "busy").backend.list_sessions()
    assert summary.instance_count == state["instances"] == 500 + 4 * 260
    assert summary.unresolved_count == summary.failed_count == 0
    assert summary.version == state["version"]


class InboxRunner(TaskRunner):
    """Keeps the names of the instances it was given; runs nothing."""

    name = "inbox"

    def __init__(self) -> None:
        self.names: list[str] = []
        self.lock = threading.Lock()

    def schedule(
        self, manager: TriggerManager, instance: TaskInstance, countdown: float = 0.0
    ) -> None:
        with self.lock:
            self.names.append(instance.name)


@pytest.mark.slow
def test_server_killed_mid_burst_then_restarted(tmp_path: Path) -> None:
    server = RedisServer(
        tmp_path, extra_args=["--appendonly", "yes", "--appendfsync", "always"]
    ).start()
    url = f"{server.url}?prefix=kill:"
    inbox = InboxRunner()
    try:
        TriggerManager(open_storage(url, "crash")).update_configuration(
            {
                "t_every": {"after": ["tick"], "andEvery": "tick", "run": PASS},
                "t_once": {"after": ["tick", "other"], "run": PASS},
            }
        )
        outcomes: dict[tuple[int, int], str] = {}
        errors: list[str] = []
        failures = threading.Semaphore(0)
        killed = threading.Event()
        restarted = threading.Event()

        def fire_burst(thread: int, count: int) -> None:
            manager = TriggerManager(open_storage(url, "crash"), default_runner=inbox)
            for n in range(count):
                if thread == 0 and n == count // 3:
                    killed.set()  # the killer strikes while others fire
                try:
                    manager.fire("tick", {"t": thread, "n": n})
                except StorageUnavailableError as exc:
                    errors.append(str(exc))
                    outcomes[(thread, n)] = (
                        "not applied"
                        if "the write was not applied" in str(exc)
                        else "unknown"
                    )
                    failures.release()
                else:
                    outcomes[(thread, n)] = "applied"

        def killer() -> None:
            killed.wait()
            server.kill()
            for _ in range(6):  # a few fires see the server gone
                failures.acquire()
            server.start()  # same port, same append-only file
            restarted.set()

        threads = [threading.Thread(target=killer)] + [
            threading.Thread(target=fire_burst, args=(t, 300)) for t in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
            assert not thread.is_alive()
        assert restarted.is_set()

        counted = collections.Counter(outcomes.values())
        assert counted["applied"] > 0 and len(errors) >= 6, counted
        # 6 failures from 3 threads: some thread failed twice, the second
        # time at its first read, which the error reports as not applied.
        assert counted["not applied"] > 0, errors
        assert all("redis at 127.0.0.1:" in e for e in errors)

        storage = open_storage(url, "crash")
        state = check_layout(url, "crash")  # no half-applied write anywhere
        records = state["records"]
        every = {
            (r["kwargs"]["tick"]["t"], r["kwargs"]["tick"]["n"]): n
            for n, r in records.items()
            if r["task"] == "t_every"
        }
        ticks = [
            (r["kwargs"]["tick"]["t"], r["kwargs"]["tick"]["n"])
            for r in records.values()
            if r["task"] == "t_every"
        ]
        assert len(ticks) == len(set(ticks)), "a fire took effect twice"
        for fire, outcome in outcomes.items():
            if outcome == "applied":
                assert fire in every, f"fire {fire} succeeded but left no instance"
            elif outcome == "not applied":
                assert fire not in every, f"fire {fire} said 'not applied'"
        # One commit per applied fire, plus the configuration: no partial or
        # extra writes.
        assert state["version"] == 1 + len(every)
        assert storage.version == state["version"]
        for name in every.values():
            assert records[name]["status"] == Status.SCHEDULED
        applied_names = {every[f] for f, o in outcomes.items() if o == "applied"}
        assert applied_names <= set(inbox.names) <= set(every.values())
        # The one-shot task waiting for "other" got exactly one instance.
        assert [n for n in records if n.startswith("t_once#")] == ["t_once#0"]
        assert storage.latest_kwargs["tick"] in [{"t": t, "n": n} for (t, n) in every]
    finally:
        server.stop()
