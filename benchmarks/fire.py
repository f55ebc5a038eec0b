"""How long one ``fire`` takes as a session grows, against the store's floor.

For each backend and each session size (10, 1,000 and 10,000 existing
instances), the script seeds a session through the public API, then times
``fire`` of a trigger that creates and schedules one new instance. Task
execution is excluded: the benchmark runner only accepts instances, so the
figure is the engine's write path (read, decide, commit, hand off).

The floor is measured in the same run on the same store: a raw SQLite write
transaction (``BEGIN IMMEDIATE``, one ``INSERT``, ``COMMIT``) on the same file
with the same pragmas; for Redis, a redis-py ``PING`` round trip to the same
server (the benchmark starts its own ``redis-server`` on a free port).

A second table gives the throughput of ``--processes`` processes firing
into one session at once (each fire creates and schedules an instance).

Usage: ``python benchmarks/fire.py [--samples N] [--sizes 10,1000,10000]
[--backends sqlite,redis] [--processes 4] [--fires 1000]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from triggers_core import TaskInstance, TriggerManager, open_storage, register
from triggers_core.runners import TaskRunner


class AcceptingRunner(TaskRunner):
    """Accepts instances and leaves them scheduled: fire's cost alone."""

    name = "bench-accept"

    def schedule(
        self, manager: TriggerManager, instance: TaskInstance, countdown: float = 0.0
    ) -> None:
        pass


register("runners", AcceptingRunner.name, AcceptingRunner)

SEED_TASKS = 10


def seed(url: str, uid: str, instances: int) -> TriggerManager:
    """A session with ``instances`` finished instances over several tasks."""
    seeder = TriggerManager(open_storage(url, uid), default_runner="inline")
    configuration: dict[str, Any] = {
        f"t_seed{k}": {
            "after": ["ready"],
            "andEvery": f"seed{k}",
            "run": "triggers_core.testing.DevNullTask",
        }
        for k in range(SEED_TASKS)
    }
    configuration["t_measured"] = {
        "after": ["ready"],
        "andEvery": "measure",
        "run": "triggers_core.testing.DevNullTask",
    }
    seeder.update_configuration(configuration)
    seeder.fire("ready", {})
    # The first andEvery firing before "ready" already made one instance each.
    for n in range(instances - SEED_TASKS):
        seeder.fire(f"seed{n % SEED_TASKS}", {"n": n})
    return TriggerManager(seeder.storage, default_runner=AcceptingRunner())


def time_calls(
    call: Callable[[int], Any], samples: int, warmup: int = 20
) -> list[float]:
    for n in range(warmup):
        call(n)
    timings = []
    for n in range(samples):
        started = time.perf_counter()
        call(warmup + n)
        timings.append(time.perf_counter() - started)
    return timings


def summarise(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) * 1e6, p95 * 1e6


@contextmanager
def sqlite_store() -> Iterator[tuple[str, Callable[[int], Any]]]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.db"
        url = f"sqlite://{path}"
        open_storage(url, "floor")  # creates the file with our pragmas
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE floor (k INTEGER PRIMARY KEY, v TEXT)")

        def floor(n: int) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO floor VALUES (?, ?)", (n, '{"n":1}'))
            conn.execute("COMMIT")

        yield url, floor
        conn.close()


@contextmanager
def redis_store() -> Iterator[tuple[str, Callable[[int], Any]]]:
    import redis

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.redis_server import RedisServer

    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory)).start()
        client = redis.Redis.from_url(server.url)
        try:

            def floor(n: int) -> None:
                client.ping()

            yield f"{server.url}?prefix=bench:", floor
        finally:
            client.close()
            server.stop()


@contextmanager
def memory_store() -> Iterator[tuple[str, None]]:
    """The engine alone: no I/O, the reference for every backend's overhead."""
    yield "memory://bench", None


#: backend name -> context manager giving (url, floor call); one row each.
STORES: dict[str, Callable[[], Any]] = {
    "sqlite": sqlite_store,
    "redis": redis_store,
    "memory": memory_store,
}
FLOOR_NAMES = {
    "sqlite": "raw SQLite write txn",
    "redis": "redis-py PING round trip",
}


def _fire_worker(url: str, uid: str, fires: int, go: Any, done: Any) -> None:
    manager = TriggerManager(open_storage(url, uid), default_runner=AcceptingRunner())
    manager.storage.version  # noqa: B018 - connect before the clock starts
    go.wait()
    for n in range(fires):
        manager.fire("measure", {"n": n})
    done.put(fires)


def throughput(url: str, processes: int, fires: int) -> tuple[int, float]:
    """``processes`` processes fire ``fires`` each into one fresh session."""
    uid = "bench-throughput"
    TriggerManager(open_storage(url, uid)).update_configuration(
        {
            "t_measured": {
                "after": ["measure"],
                "andEvery": "measure",
                "run": "triggers_core.testing.DevNullTask",
            }
        }
    )
    context = multiprocessing.get_context("spawn")
    go, done = context.Event(), context.Queue()
    workers = [
        context.Process(target=_fire_worker, args=(url, uid, fires, go, done))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(2.0)  # let every worker import and connect
    started = time.perf_counter()
    go.set()
    total = sum(done.get(timeout=600) for _ in workers)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=60)
        if worker.exitcode != 0:
            raise RuntimeError(f"benchmark worker exited with {worker.exitcode}")
    count = len(open_storage(url, uid).instances_of_task("t_measured"))
    if count != total:
        raise RuntimeError(f"{total} fires made {count} instances")
    return total, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--backends", default=",".join(STORES))
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--fires", type=int, default=1000, help="per process")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    rows = []
    rates = []
    for backend in args.backends.split(","):
        with STORES[backend]() as (url, floor):
            floor_median = None
            if floor is not None:
                floor_median, floor_p95 = summarise(time_calls(floor, args.samples))
                rows.append(
                    (backend, FLOOR_NAMES[backend], floor_median, floor_p95, "", "")
                )
            first = None
            for size in sizes:
                manager = seed(url, f"bench-{size}", size)
                timings = time_calls(
                    lambda n, m=manager: m.fire("measure", {"n": n}), args.samples
                )
                median, p95 = summarise(timings)
                first = first or median
                rows.append(
                    (
                        backend,
                        f"fire, {size:,} instances"
                        + (" (engine alone, no I/O)" if floor is None else ""),
                        median,
                        p95,
                        "" if floor_median is None else f"{median / floor_median:.1f}x",
                        f"{median / first:.2f}x",
                    )
                )
            if args.processes > 0 and backend != "memory":  # memory: one process
                total, elapsed = throughput(url, args.processes, args.fires)
                rates.append((backend, args.processes, total, elapsed))
            print(f"{backend}: done", file=sys.stderr)

    header = ("backend", "operation", "median µs", "p95 µs", "vs floor", "vs smallest")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for backend, what, median, p95, vs_floor, vs_first in rows:
        cells = (backend, what, f"{median:.0f}", f"{p95:.0f}", vs_floor, vs_first)
        print("| " + " | ".join(cells) + " |")
    if rates:
        print()
        print("| backend | processes into one session | fires | seconds | fires/s |")
        print("|---|---|---|---|---|")
        for backend, processes, total, elapsed in rates:
            cells = (
                backend,
                str(processes),
                f"{total:,}",
                f"{elapsed:.2f}",
                f"{total / elapsed:,.0f}",
            )
            print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
