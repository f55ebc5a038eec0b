"""``redis://``, ``rediss://``, ``unix://``: sessions in Redis, for production.

URL forms are redis-py's (``redis://[user:password@]host:port/db``,
``rediss://`` for TLS, ``unix:///path/to/redis.sock?db=0``) plus three
options of ours, removed before the URL reaches redis-py:

* ``prefix=`` - key prefix (default ``triggers:``), to share a server;
* ``ttl=SECONDS`` - expiry of finished sessions (default: never);
* ``retries=N`` - how many times a write is retried after conflicting with
  other writers before `ConcurrentUpdateError` (default 100).

redis-py options (``socket_timeout``, ``socket_connect_timeout``,
``max_connections``, ...) pass through; we default to 5 s to connect, 10 s
to wait for a reply, and a pool of 64 connections per process that threads
queue for.

Key layout
----------

Every key of session ``U`` starts with ``<prefix>{U}:`` (``{``, ``}`` and
``%`` in a UID are percent-escaped), so all of a session lives in one hash
slot and a Redis Cluster serves it unchanged: each script below touches
only the session's own keys, all declared. A session is ten keys, whatever
its size; the write path never lists keys (no ``KEYS``, no ``SCAN``):

========  =====  =========================================================
suffix    type   content
========  =====  =========================================================
meta      hash   ``version``, ``epoch`` (id of the first write), ``created``,
                 ``updated``, ``expiring`` (TTL set), counts: ``tasks``,
                 ``instances``, ``idle``
                 (tasks without instance), ``s:<status>`` per status
tasks     hash   task name -> configuration JSON
index     hash   trigger -> JSON list of the tasks whose after/unless name it
inst      hash   instance name -> instance JSON
status    hash   instance name -> status (maintains the counts and ``open``)
open      zset   names of ``unstarted`` instances, read per task by a
                 lexicographic range (``[t_x#`` .. ``(t_x$``)
counts    hash   task -> number of instances created (next index)
kwargs    hash   trigger -> latest kwargs JSON
changes   zset   record -> session version that last wrote it: ``t:<task>``,
                 ``i:<instance>``, ``k:<trigger>``, ``x:<trigger>`` (index
                 entry), ``o:<task>`` (open set and count of a task)
done      zset   ids of recent commits -> server time (lost-reply dedup)
========  =====  =========================================================

Outside the session slot: ``<prefix>sessions``, a zset of UIDs (scored by
creation) that lists the sessions without scanning keys; `list_sessions`
reads each one's ``meta`` for its counts and sorts by ``updated``. The
pub/sub channel ``<prefix>{U}:feed`` announces every write.

Write path: optimistic, validated server-side
---------------------------------------------

Three designs were on the table: a lock with owner token and expiry, the
whole engine as server-side Lua, or optimistic transactions. A lock costs
two extra round trips per write and stalls everyone behind a writer that
paused (GC, swap) until its expiry, with the classic danger of a write
landing after the lock expired. Porting the engine to Lua would fork the
semantics that `triggers_core.manager` implements once for every backend.
So writes are optimistic, with the validation done atomically by Redis:

1. Reads go through one Lua read script per call, which returns the
   records asked for together with the session ``version`` and, from the
   ``changes`` zset, the version that last wrote each of them.
   `prefetch_trigger` fetches in ONE call everything a fire touches: the
   tasks indexed under the trigger, their configurations, the open
   instances of each with their records, their instance counts, and the
   latest kwargs of every trigger those tasks name. The reader pins the
   version of its first call; a later call that sees a record written after
   that version aborts the attempt at once, so the engine's body only ever
   sees one consistent snapshot.
2. The commit is ONE ``EVALSHA``: the script checks that no record the
   transaction read was written after the pinned version (backward
   validation on a read set; the session's ``epoch`` guards against a
   delete or expiry in between), then applies the whole `WriteSet`:
   records, status counts, open set, instance counters, index entries,
   latest kwargs, change stamps, the version bump (+1), the TTL, and a
   ``PUBLISH`` of the changed names. It checks everything it could fail on
   (key types, counters, index JSON) before its first write, because Redis
   does not roll a failing script back.
3. On a conflict the body runs again on fresh reads, with jittered
   exponential backoff, up to ``retries`` times.

A fire is thus two round trips, whatever the session's size. Validating
the read set rather than the session version lets writers that touch
different records commit side by side: a worker finishing ``t_a#3`` does
not force a concurrent fire of an unrelated trigger to retry. Writers that
read the same records (two operators replaying one failed instance) still
serialise: the second one re-reads, finds the instance ``replayed`` and
gets the engine's not-failed error.

Lost replies
------------

If the connection breaks after the commit was sent, the client cannot know
whether it ran. Every commit carries a random id; the script records it in
``done`` and, when it sees an id again, answers "already applied" without
writing. So resending the same commit after a reconnect (which we do, a
few times) never applies it twice, and never re-runs the body against a
state that already contains its own write (which would fire twice).
Known limit: if the server stays unreachable for every resend, the outcome
is unknown; the `StorageUnavailableError` says so (it says "not applied"
only when no attempt ever reached the server). Ids are kept 5 minutes.

The session index lives in another slot than the session, so the script
cannot update it: the first write of a session adds it in the same pipeline,
right after the commit. Known limit: if that first commit's reply is lost
and every resend fails, the session exists but is missing from the index
until it is deleted and written again. Entries whose session is gone
(deleted, expired) are pruned by `list_sessions`.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import (
    ConcurrentUpdateError,
    CorruptRecordError,
    StorageError,
    StorageUnavailableError,
)
from ..jsonutil import dumps, loads
from ..status import UNRESOLVED, Status
from .base import (
    Backend,
    RawChanges,
    RawRecord,
    Reader,
    SessionSummary,
    Transaction,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PREFIX = "triggers:"
DEFAULT_RETRIES = 100
#: How many times a command is resent after a broken connection.
CONNECT_RETRIES = 3
#: Seconds a commit id is remembered, to recognise a resent commit.
DONE_WINDOW = 300

_SUFFIXES = (
    "meta",
    "tasks",
    "index",
    "inst",
    "status",
    "open",
    "counts",
    "kwargs",
    "changes",
    "done",
)
_TYPES = ("hash",) * 5 + ("zset", "hash", "hash", "zset", "zset")


def _lua(name: str) -> str:
    folder = resources.files("triggers_core.storage") / "redis_lua"
    prelude = (folder / "prelude.lua").read_text(encoding="utf-8")
    return prelude + (folder / f"{name}.lua").read_text(encoding="utf-8")


_READ_SCRIPT = _lua("read")
_COMMIT_SCRIPT = (
    _lua("commit")
    .replace("{DONE_MS}", str(DONE_WINDOW * 1000))
    .replace(
        "{UNRESOLVED}", "{" + ", ".join(f"'s:{s}'" for s in sorted(UNRESOLVED)) + "}"
    )
)


class _Script:
    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()


_READ = _Script(_READ_SCRIPT)
_COMMIT = _Script(_COMMIT_SCRIPT)


_DENIED = (redis.exceptions.AuthorizationError, redis.exceptions.NoPermissionError)


class _Conflict(Exception):
    """Another writer changed what this attempt read; run the body again."""


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _tag(uid: str) -> str:
    """The UID as it appears inside the ``{...}`` hash tag."""
    return uid.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _decode(raw: bytes, what: str) -> RawRecord:
    try:
        value = loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptRecordError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CorruptRecordError(f"{what} is not a JSON object")
    return value


class _RedisReader(Reader):
    """Reads through `_READ_SCRIPT`, caching every record it got.

    A pinned reader (inside a transaction) serves one snapshot: the version
    of its first call. A call returning anything written after that raises
    `_Conflict`; the stamps it read form the transaction's read set.
    """

    def __init__(self, backend: RedisBackend, uid: str, pinned: bool) -> None:
        self.backend = backend
        self.uid = uid
        self.keys = backend.session_keys(uid)
        self.pinned = pinned
        self.base: int | None = None
        self.epoch = ""
        self.strict = False
        self.read_set: set[str] = set()
        self._tasks: dict[str, bytes | None] = {}
        self._instances: dict[str, bytes | None] = {}
        self._kwargs: dict[str, bytes | None] = {}
        self._index: dict[str, bytes | None] = {}
        self._open: dict[str, list[str]] = {}
        self._counts: dict[str, int] = {}
        self._task_instances: dict[str, int] = {}
        self._snapshot = False

    # -- fetching ---------------------------------------------------------

    def _fetch(self, op: str, *args: str) -> list[tuple[str, str, bytes | None]]:
        reply = self.backend.call(
            f"reading session {self.uid!r}",
            lambda: self.backend.evalsha(_READ, self.keys, [op, *args]),
            in_write=self.pinned,
            keys=self.keys,
        )
        version, epoch, newest = int(reply[0]), _text(reply[1]), int(reply[2])
        if self.base is None:
            self.base, self.epoch = version, epoch
        elif self.pinned and (epoch != self.epoch or newest > self.base):
            raise _Conflict
        elif not self.pinned:
            self.base, self.epoch = version, epoch
        records: list[tuple[str, str, bytes | None]] = []
        for i in range(3, len(reply), 3):
            kind, name, value = _text(reply[i]), _text(reply[i + 1]), reply[i + 2]
            records.append((kind, name, value))
            self._store(kind, name, value)
        return records

    def _store(self, kind: str, name: str, value: bytes | None) -> None:
        if kind == "t":
            self._tasks[name] = value
            self.read_set.add("t:" + name)
        elif kind == "i":
            self._instances[name] = value
            self.read_set.add("i:" + name)
        elif kind == "k":
            self._kwargs[name] = value
            self.read_set.add("k:" + name)
        elif kind == "x":
            self._index[name] = value
            self.read_set.add("x:" + name)
        elif kind == "c":
            self._counts[name] = int(_text(value))
            self._open[name] = []
            self.read_set.add("o:" + name)
        elif kind == "o":
            self._open[name].append(_text(value))
        elif kind == "n":
            self._task_instances[name] = int(_text(value))
            self.read_set.add("o:" + name)

    def _records(
        self, cache: dict[str, bytes | None], names: Iterable[str], what: str
    ) -> dict[str, RawRecord]:
        found = {}
        for name in names:
            raw = cache.get(name)
            if raw is not None:
                found[name] = _decode(raw, f"{what} {name!r} of session {self.uid!r}")
        return found

    def _whole(self) -> None:
        if not self._snapshot:
            self._fetch("snapshot")
            self._snapshot = True
            self.strict = True

    # -- point reads ------------------------------------------------------

    def version(self) -> int:
        if self.base is None:
            self._fetch("version")
        assert self.base is not None
        return self.base

    def prefetch_trigger(self, trigger: str) -> None:
        if trigger not in self._index:
            self._fetch("fire", trigger)

    def tasks(self, names: Iterable[str]) -> dict[str, RawRecord]:
        wanted = list(names)
        missing = [n for n in wanted if n not in self._tasks and not self._snapshot]
        if missing:
            self._fetch("tasks", *missing)
        return self._records(self._tasks, wanted, "task")

    def task_names_for_trigger(self, trigger: str) -> list[str]:
        if trigger not in self._index:
            self._fetch("index", trigger)
        raw = self._index[trigger]
        if raw is None:
            return []
        try:
            names = loads(raw)
        except (UnicodeDecodeError, ValueError):
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise CorruptRecordError(
                f"trigger index entry {trigger!r} of session {self.uid!r} "
                "is not a JSON list of task names"
            )
        return sorted(names)

    def instances(self, names: Iterable[str]) -> dict[str, RawRecord]:
        wanted = list(names)
        missing = [n for n in wanted if n not in self._instances and not self._snapshot]
        if missing:
            self._fetch("instances", *missing)
        return self._records(self._instances, wanted, "instance")

    def open_instance_names(self, task: str) -> list[str]:
        if task not in self._open:
            self._fetch("open", task)
        return list(self._open[task])

    def instance_count(self, task: str) -> int:
        if task not in self._counts:
            self._fetch("open", task)
        return self._counts[task]

    def latest_kwargs(self, triggers: Iterable[str]) -> dict[str, RawRecord]:
        wanted = list(triggers)
        missing = [t for t in wanted if t not in self._kwargs and not self._snapshot]
        if missing:
            self._fetch("kwargs", *missing)
        return self._records(self._kwargs, wanted, "latest kwargs of trigger")

    # -- whole-session reads ---------------------------------------------

    def all_tasks(self) -> dict[str, RawRecord]:
        self._whole()
        return self._records(self._tasks, sorted(self._tasks), "task")

    def all_instances(self) -> dict[str, RawRecord]:
        self._whole()

        def order(name: str) -> tuple[str, int]:
            task, _, index = name.rpartition("#")
            return (task, int(index)) if index.isdigit() else (name, -1)

        return self._records(
            self._instances, sorted(self._instances, key=order), "instance"
        )

    def task_instance_names(self, task: str) -> list[str]:
        if task not in self._task_instances:
            self._fetch("task_instances", task)
        names = (f"{task}#{i}" for i in range(self._task_instances[task]))
        return [n for n in names if self._instances.get(n) is not None]

    def all_latest_kwargs(self) -> dict[str, RawRecord]:
        self._whole()
        return self._records(self._kwargs, sorted(self._kwargs), "trigger kwargs")

    def changes_since(self, version: int) -> RawChanges:
        records = self._fetch("changes", str(int(version)))
        self.strict = True
        changed: dict[str, list[str]] = {"t": [], "i": [], "k": []}
        for kind, name, value in records:
            if kind == "C":
                changed[name].append(_text(value))
        assert self.base is not None
        return RawChanges(
            version=self.base,
            tasks=self._records(self._tasks, changed["t"], "task"),
            instances=self._records(self._instances, changed["i"], "instance"),
            triggers=self._records(self._kwargs, changed["k"], "trigger kwargs"),
        )


class RedisBackend(Backend):
    """Sessions in Redis; safe for any number of processes and machines."""

    scheme = "redis"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        ours: dict[str, str] = {}
        passed: list[tuple[str, str]] = []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in ("prefix", "ttl", "retries"):
                ours[name] = value
            else:
                passed.append((name, value))
        self.prefix = ours.get("prefix", DEFAULT_PREFIX)
        try:
            self.ttl = float(ours.get("ttl", "0"))
            self.retries = int(ours.get("retries", str(DEFAULT_RETRIES)))
        except ValueError:
            raise ValueError(
                f"redis URL {self.display_url!r}: 'ttl' must be a number of "
                "seconds and 'retries' an integer"
            ) from None
        if self.ttl < 0 or self.retries < 1:
            raise ValueError(
                f"redis URL {self.display_url!r}: 'ttl' must be >= 0 and 'retries' >= 1"
            )
        self._password = unquote(parts.password) if parts.password else None
        if parts.scheme == "unix":
            self.where = unquote(parts.path) or "?"
        else:
            port = parts.port or 6379
            self.where = f"{parts.hostname or 'localhost'}:{port}"
        client_url = urlunsplit(
            (parts.scheme, parts.netloc, parts.path, urlencode(passed), "")
        )
        # Known limit: a plain client. The key layout and the scripts are
        # cluster-ready (one slot per session, every key declared), but a
        # cluster-aware client (redis.cluster.RedisCluster) is not wired in.
        # A blocking pool: threads beyond ``max_connections`` (URL option,
        # default 64) wait up to 20 s for a connection instead of failing,
        # which redis-py's default pool does past 100.
        self.pool = redis.BlockingConnectionPool.from_url(
            client_url,
            retry=Retry(NoBackoff(), 0),  # we resend ourselves, see module doc
            socket_connect_timeout=5.0,
            socket_timeout=10.0,
            max_connections=64,
            timeout=20,
        )
        self.client = redis.Redis(connection_pool=self.pool)
        # Watchers (`wait_for_change`) hold a connection while they wait:
        # they get their own pool, so they never take one from writers.
        self.watch_pool = redis.ConnectionPool(
            connection_class=self.pool.connection_class,
            max_connections=1024,
            **self.pool.connection_kwargs,
        )
        self.sessions_key = f"{self.prefix}sessions"
        self.call("connecting", self._load_scripts)

    # -- plumbing ---------------------------------------------------------

    def session_keys(self, uid: str) -> list[str]:
        """The session's keys, in the order the scripts expect."""
        base = f"{self.prefix}{{{_tag(uid)}}}:"
        return [base + suffix for suffix in _SUFFIXES]

    def channel(self, uid: str) -> str:
        """The pub/sub channel where every write to ``uid`` is announced."""
        return f"{self.prefix}{{{_tag(uid)}}}:feed"

    def _load_scripts(self) -> None:
        for script in (_READ, _COMMIT):
            self.client.script_load(script.text)

    def evalsha(self, script: _Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return self.client.evalsha(script.sha, len(keys), *keys, *args)

    def call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        commit: bool = False,
        in_write: bool = False,
        keys: Sequence[str] = (),
    ) -> T:
        """Run ``fn`` against Redis, translating its errors into ours.

        A broken connection is retried `CONNECT_RETRIES` times; a missing
        script (server restarted or flushed) is loaded and ``fn`` rerun.
        ``keys`` (a session's keys) are named in a wrong-type error. An
        unavailable server during a ``commit`` or a read ``in_write`` says
        whether the write may have been applied.
        """
        attempt = 0
        reached = False
        reloads = 0
        while True:
            try:
                return fn()
            except redis.exceptions.NoScriptError:
                reloads += 1
                if reloads > 3:
                    raise StorageError(
                        f"redis at {self.where}: scripts keep disappearing"
                    ) from None
                self.call(what, self._load_scripts)
            except (redis.exceptions.AuthenticationError, *_DENIED) as exc:
                raise self._unavailable(
                    what, exc, commit or in_write, reached and commit
                ) from None
            except (redis.exceptions.ConnectionError, redis.TimeoutError) as exc:
                reached = reached or not _is_connect_error(exc)
                attempt += 1
                if attempt > CONNECT_RETRIES:
                    # Known limit: a commit that reached the server but whose
                    # reply never came back, even to a resend, has an unknown
                    # outcome; the error says "may have been applied".
                    raise self._unavailable(
                        what, exc, commit or in_write, reached and commit
                    ) from None
                time.sleep(random.uniform(0.5, 1.0) * 0.05 * 2**attempt)
            except redis.exceptions.ResponseError as exc:
                message = self._scrub(str(exc))
                if "WRONGTYPE" in message:
                    message = self._wrong_types(keys) or message
                    raise CorruptRecordError(
                        f"redis at {self.where}: {what}: stored data is damaged: "
                        f"{message}"
                    ) from None
                raise StorageError(
                    f"redis at {self.where}: {what} failed: {message}"
                ) from None

    def _wrong_types(self, keys: Sequence[str]) -> str:
        """Which of a session's keys hold the wrong type ('' if unknown)."""
        wrong = []
        try:
            for key, expected in zip(keys, _TYPES, strict=True):
                found = _text(self.client.type(key))
                if found not in ("none", expected):
                    wrong.append(f"{key} is a {found}, expected a {expected}")
        except redis.exceptions.RedisError:
            return ""
        return "; ".join(wrong)

    def _scrub(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _unavailable(
        self, what: str, exc: Exception, writing: bool, reached: bool
    ) -> StorageUnavailableError:
        """The error for an unreachable server; ``writing``: say whether the
        write may have been applied (only if a commit ``reached`` it)."""
        if isinstance(exc, redis.exceptions.AuthenticationError):
            reason = "authentication failed (wrong or missing password or user)"
        elif isinstance(exc, _DENIED):
            reason = "permission denied"
        elif isinstance(exc, redis.TimeoutError):
            reason = "timed out"
        elif _is_refused(exc):
            reason = "connection refused"
        elif isinstance(exc, redis.exceptions.BusyLoadingError):
            reason = "server is still loading its data"
        else:
            reason = "connection lost"
        text = f"redis at {self.where}: {reason} while {what}: {self._scrub(str(exc))}"
        if writing:
            text += (
                "; the write may have been applied (its reply was lost)"
                if reached
                else "; the write was not applied"
            )
        return StorageUnavailableError(text)

    # -- reading and writing ---------------------------------------------

    @contextmanager
    def read(self, uid: str) -> Iterator[Reader]:
        # Known limit: unlike SQLite's, a Redis read view is not one snapshot
        # across calls: each point read is atomic (and brings the records it
        # implies, e.g. an instance's task), and the whole-session reads
        # share one atomic snapshot, but two point reads may straddle a write.
        yield _RedisReader(self, uid, pinned=False)

    def transact(self, uid: str, body: Callable[[Transaction], T]) -> T:
        keys = self.session_keys(uid)
        for attempt in range(self.retries):
            reader = _RedisReader(self, uid, pinned=True)
            txn = Transaction(uid, reader)
            try:
                result = body(txn)
            except _Conflict:
                self._backoff(attempt)
                continue
            if not txn.writes:
                return result
            args = self._commit_args(uid, reader, txn)
            applied, _ = self._commit(uid, keys, args, not reader.epoch)
            if applied:
                return result
            self._backoff(attempt)
        raise ConcurrentUpdateError(
            f"session {uid!r} at redis {self.where}: the write conflicted with "
            f"other writers {self.retries} times in a row; given up"
        )

    @staticmethod
    def _backoff(attempt: int) -> None:
        if attempt:
            time.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))

    def _commit_args(
        self, uid: str, reader: _RedisReader, txn: Transaction
    ) -> list[Any]:
        writes = txn.writes
        # Serialise everything first: a value JSON refuses leaves no trace.
        tasks = [(n, dumps(c.to_json())) for n, c in writes.tasks.items()]
        instances = [
            (n, i.task_name, i.index, str(i.status), dumps(i.to_json()))
            for n, i in writes.instances.items()
        ]
        kwargs = [(t, dumps(k)) for t, k in writes.latest_kwargs.items()]
        added, removed = writes.trigger_index_changes()
        feed = dumps(
            {
                "tasks": sorted(writes.tasks),
                "instances": sorted(writes.instances),
                "triggers": sorted(writes.latest_kwargs),
            }
        )[1:-1]
        read_set = sorted(reader.read_set)
        args: list[Any] = [
            reader.version(),
            reader.epoch,
            uuid.uuid4().hex,
            repr(time.time()),
            int(self.ttl * 1000),
            self.channel(uid),
            feed,
            "1" if reader.strict else "0",
            len(read_set),
            len(tasks),
            len(instances),
            len(kwargs),
            len(added),
            len(removed),
            *read_set,
        ]
        for row in (*tasks, *instances, *kwargs, *sorted(added), *sorted(removed)):
            args.extend(row)
        return args

    def _commit(
        self, uid: str, keys: list[str], args: list[Any], new_session: bool
    ) -> tuple[bool, int]:
        def send() -> Any:
            if not new_session:
                return self.evalsha(_COMMIT, keys, args)
            # The first write also enters the session in the index (another
            # slot, so not from the script), after the commit in one pipeline.
            # Known limit: if every resend of this pipeline fails after the
            # commit applied, the session is missing from the index (it
            # still works; `list_sessions` does not show it).
            pipe = self.client.pipeline(transaction=False)
            pipe.evalsha(_COMMIT.sha, len(keys), *keys, *args)
            pipe.zadd(self.sessions_key, {uid: float(args[3])})
            return pipe.execute()[0]

        reply = self.call(f"writing session {uid!r}", send, commit=True, keys=keys)
        outcome = int(reply[0])
        if outcome < 0:
            raise CorruptRecordError(
                f"session {uid!r} at redis {self.where}: {_text(reply[1])}; "
                "nothing was written"
            )
        return outcome > 0, int(reply[1])

    # -- sessions ---------------------------------------------------------

    def list_sessions(self) -> list[SessionSummary]:
        entries = self.call(
            "listing sessions",
            lambda: self.client.zrevrange(self.sessions_key, 0, -1),
        )
        uids = [_text(e) for e in cast(list[bytes], entries)]

        def metas() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for uid in uids:
                pipe.hgetall(self.session_keys(uid)[0])
            return pipe.execute()

        summaries: list[SessionSummary] = []
        stale: list[str] = []
        for uid, raw in zip(uids, self.call("listing sessions", metas), strict=True):
            meta = {_text(k): _text(v) for k, v in raw.items()}
            if "version" not in meta:
                stale.append(uid)  # deleted or expired since it was indexed
                continue
            try:
                summaries.append(
                    SessionSummary(
                        uid=uid,
                        task_count=int(meta.get("tasks", 0)),
                        instance_count=int(meta.get("instances", 0)),
                        failed_count=int(meta.get(f"s:{Status.FAILED}", 0)),
                        unresolved_count=sum(
                            int(meta.get(f"s:{s}", 0)) for s in UNRESOLVED
                        ),
                        created=float(meta.get("created", 0)),
                        updated=float(meta.get("updated", 0)),
                        version=int(meta["version"]),
                    )
                )
            except ValueError as exc:
                raise CorruptRecordError(
                    f"session {uid!r} at redis {self.where}: meta is damaged: {exc}"
                ) from None
        if stale:
            self.call(
                "pruning the session index",
                lambda: self.client.zrem(self.sessions_key, *stale),
            )
        summaries.sort(key=lambda s: s.updated, reverse=True)
        return summaries

    def session_exists(self, uid: str) -> bool:
        key = self.session_keys(uid)[0]
        found = self.call("checking a session", lambda: self.client.exists(key))
        return bool(found)

    def delete_session(self, uid: str) -> None:
        keys = self.session_keys(uid)

        def send() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.delete(*keys)
            pipe.zrem(self.sessions_key, uid)
            pipe.publish(self.channel(uid), '{"version":0,"deleted":true}')
            pipe.execute()

        self.call(f"deleting session {uid!r}", send)

    def wait_for_change(self, uid: str, version: int, timeout: float) -> int:
        """Block on the session's pub/sub channel (polling if pub/sub fails)."""
        deadline = time.monotonic() + timeout
        watcher = redis.Redis(connection_pool=self.watch_pool)
        pubsub = watcher.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            try:
                self.call("subscribing", lambda: pubsub.subscribe(self.channel(uid)))
            except StorageUnavailableError:
                raise
            except StorageError:
                logger.info("pub/sub refused by %s; polling instead", self.where)
                return super().wait_for_change(uid, version, timeout)
            while True:
                # Read after subscribing: a write in between is not missed.
                with self.read(uid) as reader:
                    current = reader.version()
                remaining = deadline - time.monotonic()
                if current > version or remaining <= 0:
                    return current
                wait = min(remaining, 5.0)
                self.call(
                    "waiting for changes",
                    lambda: pubsub.get_message(timeout=wait),  # noqa: B023
                )
        finally:
            pubsub.close()

    def close(self) -> None:
        self.client.close()
        self.pool.disconnect()
        self.watch_pool.disconnect()


def _is_connect_error(exc: BaseException) -> bool:
    """Whether ``exc`` happened before the command reached the server."""
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return True  # answered "loading" without running anything
    return "connecting to" in str(exc) or _is_refused(exc)


def _is_refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        if isinstance(seen, OSError) and seen.errno == errno.ECONNREFUSED:
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "Connection refused" in text or f"Error {errno.ECONNREFUSED} " in text
