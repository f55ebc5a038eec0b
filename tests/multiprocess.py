"""A multi-process firing workload, shared by the per-backend proofs.

Each worker process opens the session from its URL and fires its share of
triggers while the others do the same:

* ``t_pair_<k>`` waits for ``a_<k>`` and ``b_<k>``, fired by two different
  processes: each must exist once and run once, with both kwargs;
* ``t_every`` runs for every ``tick`` once ``start`` fired (which happens
  mid-burst): one instance per tick, whichever process fired it.

Tasks append ``<session> <instance>`` to a run log (O_APPEND), so how often
each instance really ran is counted outside the store.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import random
from pathlib import Path
from typing import Any

from triggers_core import Status, TriggerManager, open_storage
from triggers_core.runners import ThreadingTaskRunner

RECORD = "tests.tasks.record_run"


def configuration(pairs: int) -> dict[str, Any]:
    config: dict[str, Any] = {
        f"t_pair_{k}": {"after": [f"a_{k}", f"b_{k}"], "run": RECORD}
        for k in range(pairs)
    }
    config["t_every"] = {"after": ["start"], "andEvery": "tick", "run": RECORD}
    return config


def plan(
    processes: int, pairs: int, ticks: int
) -> list[list[tuple[str, dict[str, Any]]]]:
    """The fires of each process, interleaving pair halves and ticks."""
    work: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(processes)]
    for k in range(pairs):
        work[k % processes].append((f"a_{k}", {"k": k, "half": "a"}))
        work[(k + 1) % processes].append((f"b_{k}", {"k": k, "half": "b"}))
    for p in range(processes):
        work[p] += [("tick", {"proc": p, "n": n}) for n in range(ticks)]
        random.Random(p).shuffle(work[p])
    work[0].insert(len(work[0]) // 2, ("start", {"at": "middle"}))
    return work


def worker(
    url: str, uid: str, fires: list[tuple[str, dict[str, Any]]], log: str, go: Any
) -> None:
    os.environ["TRIGGERS_TEST_RUN_LOG"] = log
    manager = TriggerManager(open_storage(url, uid))
    go.wait()
    for trigger, kwargs in fires:
        manager.fire(trigger, kwargs)
    ThreadingTaskRunner.join_all()


def run(
    url: str,
    uid: str,
    log: Path,
    processes: int = 4,
    pairs: int = 150,
    ticks: int = 110,
) -> int:
    """Configure, fire from ``processes`` processes at once; the fire count."""
    TriggerManager(open_storage(url, uid)).update_configuration(configuration(pairs))
    work = plan(processes, pairs, ticks)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    procs = [
        context.Process(target=worker, args=(url, uid, fires, str(log), go))
        for fires in work
    ]
    for proc in procs:
        proc.start()
    go.set()
    for proc in procs:
        proc.join(timeout=600)
        assert proc.exitcode == 0, f"worker exited with {proc.exitcode}"
    return sum(len(fires) for fires in work)


def check(
    url: str, uid: str, log: Path, processes: int, pairs: int, ticks: int
) -> None:
    """Every expected instance exists once, with all kwargs, and ran once."""
    storage = open_storage(url, uid)
    instances = dict(storage.instances.items())
    runs = collections.Counter(
        line.split()[1] for line in log.read_text().splitlines() if line.startswith(uid)
    )

    for k in range(pairs):
        found = [n for n in instances if n.startswith(f"t_pair_{k}#")]
        assert found == [f"t_pair_{k}#0"], found
        instance = instances[found[0]]
        assert instance.status == Status.FINISHED, instance
        assert instance.kwargs == {
            f"a_{k}": {"k": k, "half": "a"},
            f"b_{k}": {"k": k, "half": "b"},
        }

    every = [i for n, i in instances.items() if n.startswith("t_every#")]
    assert len(every) == processes * ticks
    seen = collections.Counter(
        (i.kwargs["tick"]["proc"], i.kwargs["tick"]["n"]) for i in every
    )
    assert set(seen) == {(p, n) for p in range(processes) for n in range(ticks)}
    assert max(seen.values()) == 1
    for instance in every:
        assert instance.status == Status.FINISHED, instance
        assert instance.kwargs["start"] == {"at": "middle"}

    assert set(runs) == set(instances), set(runs) ^ set(instances)
    assert max(runs.values()) == 1, runs.most_common(3)
