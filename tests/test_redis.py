"""The Redis backend: key layout, options, listings, change feed, errors.

The engine's behaviour on Redis is covered by the backend-parametrised
suite; these tests cover what only Redis has. Every test talks to a real
``redis-server`` started for the run (see ``tests/redis_server.py``).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from tests.redis_checks import check_layout
from tests.redis_server import RedisServer, free_port
from triggers_core import SessionStorage, TaskInstance, TriggerManager, open_storage
from triggers_core.errors import (
    CorruptRecordError,
    StorageUnavailableError,
)
from triggers_core.runners import ThreadingTaskRunner
from triggers_core.runners.base import TaskRunner
from triggers_core.status import Status
from triggers_core.storage import open_store
from triggers_core.storage import redis as redis_backend
from triggers_core.storage.base import Transaction
from triggers_core.storage.redis import RedisBackend

PASS = "triggers_core.testing.PassThruTask"
FAIL = "triggers_core.testing.FailingTask"
PASSWORD = "hunter2-s3cret"


def join() -> None:
    assert ThreadingTaskRunner.join_all(timeout=60), "task threads still running"


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    """A store of its own on the shared server (a fresh key prefix)."""
    return f"{redis_server.url}?prefix=rt-{uuid.uuid4().hex[:8]}:"


def backend_of(url: str) -> RedisBackend:
    backend = open_store(url)
    assert isinstance(backend, RedisBackend)
    return backend


def all_keys(url: str) -> list[str]:
    backend = backend_of(url)
    found = backend.client.keys(backend.prefix.replace("*", r"\*") + "*")
    return sorted(k.decode() for k in found)


def configure_and_fire(storage: SessionStorage) -> TriggerManager:
    manager = TriggerManager(storage)
    manager.update_configuration(
        {
            "t_a": {"after": ["x", "y"], "run": PASS},
            "t_every": {"after": ["tick"], "andEvery": "tick", "run": PASS},
        }
    )
    manager.fire("x", {"n": 1})
    manager.fire("tick", {"n": 2})
    join()
    return manager


# -- key layout ---------------------------------------------------------------


@pytest.mark.parametrize("uid", ["plain", "with{braces}and%", "}starts-with-brace"])
def test_every_key_of_a_session_shares_one_hash_slot(url: str, uid: str) -> None:
    configure_and_fire(open_storage(url, uid))
    backend = backend_of(url)
    keys = [k for k in all_keys(url) if k != backend.sessions_key]
    assert len(keys) >= 8  # meta, tasks, index, inst, status, open?, counts, ...
    assert set(keys) <= set(backend.session_keys(uid))
    assert len({key_slot(k.encode()) for k in keys}) == 1
    # The hash tag is the (escaped) UID itself, never empty.
    tag = keys[0].split("{", 1)[1].split("}", 1)[0]
    assert tag and "{" not in tag
    check_layout(url, uid)


def test_two_sessions_live_in_their_own_slots(url: str) -> None:
    backend = backend_of(url)
    slots = {key_slot(backend.session_keys(uid)[0].encode()) for uid in "abcdef"}
    assert len(slots) > 1  # sessions spread over a cluster


def test_prefix_keeps_stores_apart(redis_server: RedisServer) -> None:
    first = f"{redis_server.url}?prefix=app-one:"
    second = f"{redis_server.url}?prefix=app-two:"
    configure_and_fire(open_storage(first, "same-uid"))
    assert open_storage(first, "same-uid").exists()
    assert not open_storage(second, "same-uid").exists()
    assert [s.uid for s in open_store(second).list_sessions()] == []
    assert all(k.startswith("app-one:") for k in all_keys(first))
    assert all_keys(first) and not all_keys(second)
    open_store(first).delete_session("same-uid")
    assert all_keys(first) == []


def test_default_prefix(redis_server: RedisServer) -> None:
    backend = backend_of(redis_server.url)
    assert backend.prefix == "triggers:"
    assert backend.session_keys("s")[0] == "triggers:{s}:meta"


def test_bad_options_are_refused(redis_server: RedisServer) -> None:
    with pytest.raises(ValueError, match="ttl"):
        RedisBackend(f"{redis_server.url}?ttl=soon")
    with pytest.raises(ValueError, match="retries"):
        RedisBackend(f"{redis_server.url}?retries=0")


# -- TTL ------------------------------------------------------------------------


def test_ttl_applies_only_once_the_session_is_finished(url: str) -> None:
    ttl_url = url + "&ttl=3600"
    client = backend_of(ttl_url).client
    storage = open_storage(ttl_url, "ttl")
    manager = TriggerManager(storage)
    manager.update_configuration({"t_a": {"after": ["x", "y"], "run": PASS}})

    def ttls() -> set[int]:
        return {client.pttl(k) for k in all_keys(ttl_url) if "{ttl}" in k}

    assert ttls() == {-1}  # a task without instance: not finished
    manager.fire("x")
    assert ttls() == {-1}  # t_a#0 waits for y
    manager.fire("y")
    join()
    assert storage["t_a#0"].status == Status.FINISHED
    remaining = ttls()
    assert all(0 < t <= 3_600_000 for t in remaining), remaining

    # New unresolved work makes the session live again.
    manager.update_configuration({"t_b": {"after": ["z"], "run": FAIL}})
    assert ttls() == {-1}
    manager.fire("z")
    join()
    assert storage["t_b#0"].status == Status.FAILED
    assert ttls() == {-1}  # failed is unresolved
    manager.skip_failed_instance("t_b#0")
    assert all(t > 0 for t in ttls())


def test_expired_session_disappears_from_the_listing(url: str) -> None:
    ttl_url = url + "&ttl=3600"
    backend = backend_of(ttl_url)
    storage = open_storage(ttl_url, "short-lived")
    manager = TriggerManager(storage)
    manager.update_configuration({"t_a": {"after": ["x"], "run": PASS}})
    manager.fire("x")
    join()
    assert [s.uid for s in backend.list_sessions()] == ["short-lived"]
    # Make the expiry due now, as the server would after an hour.
    for key in all_keys(ttl_url):
        if "{short-lived}" in key:
            assert backend.client.pexpire(key, 1, xx=True) or True
    while storage.exists():
        threading.Event().wait(0.01)
    assert backend.list_sessions() == []
    assert backend.client.zcard(backend.sessions_key) == 0  # pruned


# -- listing and deleting -------------------------------------------------------


def test_list_sessions_newest_first_with_counts(url: str) -> None:
    backend = backend_of(url)
    config = {
        "t_ok": {"after": ["go"], "run": PASS},
        "t_bad": {"after": ["go"], "run": FAIL},
        "t_wait": {"after": ["go", "later"], "run": PASS},
        "t_idle": {"after": ["never"], "run": PASS},
    }
    for uid in ("older", "middle", "newest"):
        manager = TriggerManager(open_storage(url, uid))
        manager.update_configuration(config)
        if uid != "middle":
            manager.fire("go")
        join()
    summaries = backend.list_sessions()
    assert [s.uid for s in summaries] == ["newest", "middle", "older"]
    newest = summaries[0]
    assert newest.task_count == 4
    assert newest.instance_count == 3
    assert newest.failed_count == 1
    assert newest.unresolved_count == 2  # failed t_bad#0, unstarted t_wait#0
    assert newest.version == open_storage(url, "newest").version
    assert newest.created <= newest.updated
    middle = summaries[1]
    assert (middle.task_count, middle.instance_count) == (4, 0)

    # A write moves a session to the top.
    TriggerManager(open_storage(url, "older")).fire("later")
    join()
    assert backend.list_sessions()[0].uid == "older"
    assert backend.list_sessions()[0].unresolved_count == 1

    backend.delete_session("middle")
    assert [s.uid for s in backend.list_sessions()] == ["older", "newest"]
    assert not open_storage(url, "middle").exists()
    assert not any("{middle}" in k for k in all_keys(url))


def test_listing_uses_no_key_scan(url: str, redis_server: RedisServer) -> None:
    backend = backend_of(url)
    configure_and_fire(open_storage(url, "listed"))
    before = command_stats(backend.client)
    backend.list_sessions()
    after = command_stats(backend.client)
    assert after.get("keys", 0) == before.get("keys", 0)
    assert after.get("scan", 0) == before.get("scan", 0)


# -- cost per fire --------------------------------------------------------------


def command_stats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def fire_cost(manager: TriggerManager, client: redis.Redis) -> dict[str, int]:
    """Commands the server ran (scripts' inner calls included) for one fire."""
    before = command_stats(client)
    manager.fire("tick", {"probe": True})
    after = command_stats(client)
    cost = {k: after[k] - before.get(k, 0) for k in after}
    cost["info"] -= 1  # the INFO that measured `before`
    return {k: v for k, v in cost.items() if v}


def test_a_fire_costs_two_round_trips_whatever_the_session_size(
    tmp_path: Path,
) -> None:
    # A server of its own: command statistics are server-wide.
    server = RedisServer(tmp_path).start()
    try:
        storage = open_storage(server.url, "sized")
        client = backend_of(server.url).client
        manager = TriggerManager(storage, default_runner=InboxRunner())
        manager.update_configuration(
            {"t_every": {"after": ["tick"], "andEvery": "tick", "run": PASS}}
        )
        for n in range(10):
            manager.fire("tick", {"n": n})
        small = fire_cost(manager, client)
        for n in range(10, 1000):
            manager.fire("tick", {"n": n})
        large = fire_cost(manager, client)
    finally:
        server.stop()
    # One read script, one commit script, and the session index update.
    assert small["evalsha"] == 2
    assert small["zadd"] >= 1
    assert small == large  # the same commands, 10 or 1,000 instances


# -- change feed ----------------------------------------------------------------


def test_changes_since_and_versions(url: str) -> None:
    storage = open_storage(url, "feed")
    manager = configure_and_fire(storage)
    version = storage.version
    manager.fire("y", {"n": 3})
    join()
    changes = storage.changes_since(version)
    assert changes.version == storage.version > version
    assert "t_a#0" in changes.instances
    assert changes.instances["t_a#0"].status == Status.FINISHED
    assert "t_every#0" not in changes.instances
    assert changes.latest_kwargs["y"] == {"n": 3}
    assert changes.tasks == {}
    assert not storage.changes_since(storage.version)


def test_every_write_is_published(url: str) -> None:
    storage = open_storage(url, "published")
    backend = backend_of(url)
    pubsub = backend.client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(backend.channel("published"))
    try:
        manager = TriggerManager(storage, default_runner=InboxRunner())
        manager.update_configuration({"t_a": {"after": ["x"], "run": PASS}})
        manager.fire("x", {"n": 1})
        messages = []
        for _ in range(100):  # None for the (ignored) subscribe confirmation
            message = pubsub.get_message(timeout=1)
            if message is not None:
                messages.append(json.loads(message["data"]))
            if len(messages) == 2:
                break
    finally:
        pubsub.close()
    assert messages[0] == {
        "version": 1,
        "tasks": ["t_a"],
        "instances": [],
        "triggers": [],
    }
    assert messages[1] == {
        "version": 2,
        "tasks": [],
        "instances": ["t_a#0"],
        "triggers": ["x"],
    }


def test_wait_for_change_wakes_on_a_write(url: str) -> None:
    storage = open_storage(url, "watched")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration({"t_a": {"after": ["x"], "run": PASS}})
    start = storage.version
    assert storage.wait_for_change(start, timeout=0.05) == start  # nothing new
    subscribed = threading.Event()
    seen: list[int] = []

    def watch() -> None:
        subscribed.set()
        seen.append(storage.wait_for_change(start, timeout=60))

    watcher = threading.Thread(target=watch)
    watcher.start()
    subscribed.wait()
    manager.fire("x")
    watcher.join(timeout=60)
    assert not watcher.is_alive()
    assert seen and seen[0] > start


# -- concurrency inside one process ---------------------------------------------


def test_concurrent_read_modify_writes_lose_no_update(url: str) -> None:
    """Two writers read the same instance, then both write: the second
    write conflicts, reruns on fresh state, and both updates survive."""
    storage = open_storage(url, "counter")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration({"t_a": {"after": ["x", "y"], "run": PASS}})
    manager.fire("x")
    both_read = threading.Barrier(2)
    attempts: list[str] = []

    def bump(who: str) -> None:
        def body(txn: Transaction) -> None:
            instance = txn.instance("t_a#0")
            attempts.append(who)
            if attempts.count(who) == 1:
                both_read.wait(timeout=30)  # the first run waits for the other
            hits = instance.metadata.get("hits", [])
            instance.metadata["hits"] = [*hits, who]
            txn.save(instance)

        storage.transact(body)

    threads = [threading.Thread(target=bump, args=(w,)) for w in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(storage["t_a#0"].metadata["hits"]) == ["a", "b"]
    assert len(attempts) == 3  # exactly one writer had to run again
    check_layout(url, "counter")


def test_writers_on_different_records_do_not_conflict(url: str) -> None:
    storage = open_storage(url, "disjoint")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration(
        {
            "t_a": {"after": ["a", "wait"], "run": PASS},
            "t_b": {"after": ["b", "wait"], "run": PASS},
        }
    )
    manager.fire("a")
    manager.fire("b")
    both_read = threading.Barrier(2)
    runs: list[str] = []

    def touch(name: str) -> None:
        def body(txn: Transaction) -> None:
            instance = txn.instance(name)
            runs.append(name)
            both_read.wait(timeout=30)
            instance.metadata["touched"] = True
            txn.save(instance)

        storage.transact(body)

    threads = [threading.Thread(target=touch, args=(n,)) for n in ("t_a#0", "t_b#0")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(runs) == ["t_a#0", "t_b#0"]  # no rerun
    assert storage["t_a#0"].metadata["touched"]
    assert storage["t_b#0"].metadata["touched"]


def test_more_threads_than_connections_queue_for_one(url: str) -> None:
    small = url + "&max_connections=2"
    storage = open_storage(small, "crowded")
    inbox = InboxRunner()
    manager = TriggerManager(storage, default_runner=inbox)
    manager.update_configuration(
        {"t_every": {"after": ["tick"], "andEvery": "tick", "run": PASS}}
    )
    start = threading.Barrier(12)
    failures: list[BaseException] = []

    def fire(n: int) -> None:
        start.wait(timeout=30)
        try:
            manager.fire("tick", {"n": n})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    ticks = sorted(i.kwargs["tick"]["n"] for i in storage.instances_of_task("t_every"))
    assert ticks == list(range(12))
    check_layout(small, "crowded")


def test_a_write_waits_for_a_free_connection(url: str) -> None:
    """The only connection is held by a watcher: the fire queues, it does
    not fail (redis-py's default pool raises "Too many connections")."""
    single = url + "&max_connections=1"
    storage = open_storage(single, "queued")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration({"t_a": {"after": ["x"], "run": PASS}})
    version = storage.version
    watching = threading.Thread(target=storage.wait_for_change, args=(version, 3))
    watching.start()
    backend = backend_of(single)
    observer = redis.Redis(port=backend.pool.connection_kwargs["port"])
    channel = backend.channel("queued")
    while watching.is_alive() and observer.pubsub_numsub(channel)[0][1] == 0:
        threading.Event().wait(0.001)  # until the watcher holds the connection
    observer.close()
    manager.fire("x")
    watching.join(timeout=60)
    assert [i.name for i in storage.instances_of_task("t_a")] == ["t_a#0"]


# -- errors ---------------------------------------------------------------------


def test_refused_connection_names_host_and_port() -> None:
    port = free_port()
    with pytest.raises(StorageUnavailableError) as info:
        open_storage(f"redis://127.0.0.1:{port}/0?prefix=x:", "s")
    message = str(info.value)
    assert f"redis at 127.0.0.1:{port}" in message
    assert "connection refused" in message


def test_wrong_password_is_reported_without_the_password(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password=PASSWORD).start()
    try:
        assert open_storage(server.url, "s").version == 0  # right password works
        wrong = f"redis://:not-{PASSWORD}@127.0.0.1:{server.port}/0"
        for url in (wrong, f"redis://127.0.0.1:{server.port}/0"):
            with pytest.raises(StorageUnavailableError) as info:
                open_storage(url, "s")
            message = str(info.value)
            assert f"redis at 127.0.0.1:{server.port}" in message
            assert "authentication failed" in message
            assert PASSWORD not in message
            assert PASSWORD not in repr(info.value)
        backend = open_store(server.url)
        assert PASSWORD not in backend.display_url
        assert PASSWORD not in repr(open_storage(server.url, "s"))
    finally:
        server.stop()


def test_timeout_is_reported(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    url = f"{server.url}?socket_timeout=0.2&prefix=slow:"
    storage = open_storage(url, "s")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration({"t_a": {"after": ["x"], "run": PASS}})
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(StorageUnavailableError) as info:
            manager.fire("x")
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    message = str(info.value)
    assert f"redis at 127.0.0.1:{server.port}: timed out" in message
    try:
        # The server answers again: nothing was written by the failed fire.
        assert storage.instances_of_task("t_a") == []
        manager.fire("x")
        assert [i.name for i in storage.instances_of_task("t_a")] == ["t_a#0"]
    finally:
        server.stop()


def test_server_gone_mid_session_is_unavailable(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    storage = open_storage(server.url, "s")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration({"t_a": {"after": ["x"], "run": PASS}})
    server.kill()
    with pytest.raises(StorageUnavailableError, match="connection refused"):
        manager.fire("x")
    with pytest.raises(StorageUnavailableError):
        storage.get_unresolved_tasks()


def test_corrupt_instance_record_is_named(url: str) -> None:
    storage = open_storage(url, "damaged")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration({"t_a": {"after": ["x", "y"], "run": PASS}})
    manager.fire("x")
    backend = backend_of(url)
    inst_key = backend.session_keys("damaged")[3]
    backend.client.hset(inst_key, "t_a#0", b"{not json")
    with pytest.raises(CorruptRecordError, match="t_a#0"):
        storage["t_a#0"]
    version = storage.version
    with pytest.raises(CorruptRecordError, match="t_a#0"):
        manager.fire("y")  # the fire reads the open instance t_a#0
    assert storage.version == version


def test_corrupt_key_type_writes_nothing(url: str) -> None:
    storage = open_storage(url, "wrongtype")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration({"t_a": {"after": ["x"], "run": PASS}})
    backend = backend_of(url)
    keys = backend.session_keys("wrongtype")
    backend.client.delete(keys[7])
    backend.client.set(keys[7], "not a hash")  # the latest-kwargs hash
    version = storage.version
    with pytest.raises(CorruptRecordError, match="kwargs"):
        manager.fire("x")
    assert storage.version == version
    assert storage.instances_of_task("t_a") == []
    assert backend.client.hgetall(keys[4]) == {}  # no instance status either


def test_corrupt_counter_writes_nothing(url: str) -> None:
    storage = open_storage(url, "badcount")
    manager = TriggerManager(storage, default_runner=InboxRunner())
    manager.update_configuration(
        {"t_every": {"after": ["tick"], "andEvery": "tick", "run": PASS}}
    )
    manager.fire("tick")
    backend = backend_of(url)
    backend.client.hset(backend.session_keys("badcount")[0], "s:scheduled", "many")
    version = storage.version
    with pytest.raises(CorruptRecordError, match="not an integer"):
        manager.fire("tick")
    assert storage.version == version
    assert [i.name for i in storage.instances_of_task("t_every")] == ["t_every#0"]


# -- a commit whose reply is lost -----------------------------------------------


class DropOneReplyProxy:
    """A TCP proxy to Redis that, once, forwards a command containing
    ``marker`` and then cuts the connection instead of relaying the reply:
    the write happened but the client never hears about it."""

    def __init__(self, target_port: int, marker: bytes) -> None:
        self.target_port = target_port
        self.marker = marker
        self.dropped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(
                target=self._pump, args=(client, upstream), daemon=True
            ).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        cut_after_reply = False
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 60)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        if self.marker in data and not self.dropped.is_set():
                            self.dropped.set()
                            cut_after_reply = True
                        upstream.sendall(data)
                    elif cut_after_reply:
                        return  # the reply arrived: swallow it and hang up
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self.closing = True
        self.listener.close()


def test_commit_whose_reply_was_lost_is_applied_once(
    redis_server: RedisServer,
) -> None:
    proxy = DropOneReplyProxy(redis_server.port, redis_backend._COMMIT.sha.encode())
    try:
        url = f"redis://127.0.0.1:{proxy.port}/0?prefix=lost-{uuid.uuid4().hex[:6]}:"
        storage = open_storage(url, "lost")
        manager = TriggerManager(storage, default_runner=InboxRunner())
        scheduled = manager.fire("tick", {"n": 1})  # its commit's reply is cut
    finally:
        proxy.close()
    assert proxy.dropped.is_set(), "the proxy never cut a commit"
    assert scheduled == []  # no task yet: the fire only stored latest kwargs
    assert storage.version == 1  # applied exactly once
    assert storage.latest_kwargs == {"tick": {"n": 1}}


def test_fire_whose_commit_reply_was_lost_creates_one_instance(
    redis_server: RedisServer,
) -> None:
    prefix = f"lost-{uuid.uuid4().hex[:6]}:"
    direct = f"{redis_server.url}?prefix={prefix}"
    TriggerManager(open_storage(direct, "lost")).update_configuration(
        {"t_every": {"after": ["tick"], "andEvery": "tick", "run": PASS}}
    )
    proxy = DropOneReplyProxy(redis_server.port, redis_backend._COMMIT.sha.encode())
    try:
        url = f"redis://127.0.0.1:{proxy.port}/0?prefix={prefix}"
        inbox = InboxRunner()
        manager = TriggerManager(open_storage(url, "lost"), default_runner=inbox)
        scheduled = manager.fire("tick", {"n": 1})
    finally:
        proxy.close()
    assert proxy.dropped.is_set(), "the proxy never cut a commit"
    storage = open_storage(direct, "lost")
    # Resending the same commit must not have fired twice.
    assert [i.name for i in storage.instances_of_task("t_every")] == ["t_every#0"]
    assert [i.name for i in scheduled] == ["t_every#0"] == inbox.names
    assert storage.version == 2  # configuration + one fire
    check_layout(direct, "lost")


class InboxRunner(TaskRunner):
    """Accepts instances and keeps their names, without running them."""

    name = "inbox"

    def __init__(self) -> None:
        self.names: list[str] = []

    def schedule(
        self, manager: TriggerManager, instance: TaskInstance, countdown: float = 0.0
    ) -> None:
        self.names.append(instance.name)


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    yield
    join()
