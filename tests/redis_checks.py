"""Checks of the Redis backend's stored layout, read straight from Redis.

The engine's tests see a session through `SessionStorage`; these look at
the derived structures the backend maintains beside the records (status
hash, open set, counters, per-status counts, trigger index), which must
always agree with the records themselves. A half-applied write would break
one of them.
"""

from __future__ import annotations

import collections
import json
from typing import Any

import redis

from triggers_core.status import UNRESOLVED
from triggers_core.storage import open_store
from triggers_core.storage.redis import RedisBackend


def raw_client(backend: RedisBackend) -> redis.Redis:
    return backend.client


def layout(backend: RedisBackend, uid: str) -> dict[str, Any]:
    """Every key of the session, decoded, read in one MULTI."""
    keys = {
        name: i for i, name in enumerate(("meta", "tasks", "index", "inst", "status"))
    }
    names = backend.session_keys(uid)
    pipe = backend.client.pipeline(transaction=True)
    for key in names[:5]:
        pipe.hgetall(key)
    pipe.zrange(names[5], 0, -1)
    pipe.hgetall(names[6])
    pipe.hgetall(names[7])
    replies = pipe.execute()

    def text(raw: dict[bytes, bytes]) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in raw.items()}

    found: dict[str, Any] = {name: text(replies[i]) for name, i in keys.items()}
    found["open"] = [m.decode() for m in replies[5]]
    found["counts"] = text(replies[6])
    found["kwargs"] = text(replies[7])
    return found


def check_layout(url: str, uid: str) -> dict[str, Any]:
    """Assert that every derived structure matches the records; the layout."""
    backend = open_store(url)
    assert isinstance(backend, RedisBackend)
    data = layout(backend, uid)
    records = {n: json.loads(v) for n, v in data["inst"].items()}
    tasks = {n: json.loads(v) for n, v in data["tasks"].items()}
    meta = data["meta"]

    statuses = {n: r["status"] for n, r in records.items()}
    assert data["status"] == statuses, "status hash disagrees with the records"
    for name, record in records.items():
        assert record["name"] == name
    unstarted = sorted(n for n, s in statuses.items() if s == "unstarted")
    assert sorted(data["open"]) == unstarted, "open set disagrees with statuses"

    by_task: dict[str, list[int]] = collections.defaultdict(list)
    for name, record in records.items():
        by_task[record["task"]].append(int(name.rpartition("#")[2]))
    for task, indexes in by_task.items():
        # Instances are numbered 0..n-1 without gaps, and the counter is n.
        assert sorted(indexes) == list(range(len(indexes))), task
        assert int(data["counts"][task]) == len(indexes), task
    assert set(data["counts"]) == set(by_task)

    per_status = collections.Counter(statuses.values())
    for status in set(per_status) | {k[2:] for k in meta if k.startswith("s:")}:
        assert int(meta.get(f"s:{status}", 0)) == per_status[status], status
    assert int(meta.get("instances", 0)) == len(records)
    assert int(meta.get("tasks", 0)) == len(tasks)
    idle = [t for t in tasks if t not in by_task]
    assert int(meta.get("idle", 0)) == len(idle)

    index: dict[str, set[str]] = collections.defaultdict(set)
    for name, config in tasks.items():
        for trigger in config["after"] + config.get("unless", []):
            index[trigger].add(name)
    stored = {t: set(json.loads(v)) for t, v in data["index"].items()}
    assert stored == dict(index), "trigger index disagrees with the tasks"

    unresolved = sum(per_status[s] for s in UNRESOLVED)
    return {
        "version": int(meta.get("version", 0)),
        "instances": len(records),
        "unresolved": unresolved,
        "records": records,
    }
