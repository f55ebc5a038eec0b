"""``sqlite:///path``: the embedded default store.

One file holds many sessions. Every write runs in a ``BEGIN IMMEDIATE``
transaction, which takes SQLite's write lock up front: writers from any
number of threads and processes on one machine are serialised by SQLite
itself, reads inside the transaction see a state nobody else can change, and
a crash mid-write rolls back. WAL mode lets readers (the dashboard) work
while a writer holds the lock; ``busy_timeout`` makes writers queue instead
of failing.

Records are stored one row per task, instance and fired trigger, each with
the session version that last wrote it, so a fire reads and writes a few
indexed rows and ``changes_since`` is one index range per table.

URL forms: ``sqlite:///abs/path.db`` (absolute), ``sqlite://rel/path.db``
(relative to the working directory); ``?timeout=SECONDS`` sets how long a
writer waits for the lock (default 30).
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs

from ..errors import (
    CorruptRecordError,
    NotATriggersStoreError,
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
    iter_chunks,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Identifies our files in the SQLite header ("TRGS").
APPLICATION_ID = 0x54524753
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS triggers_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    uid TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_update ON sessions (updated);
CREATE TABLE IF NOT EXISTS tasks (
    session TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    version INTEGER NOT NULL,
    instance_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS task_triggers (
    session TEXT NOT NULL,
    trigger_name TEXT NOT NULL,
    task TEXT NOT NULL,
    PRIMARY KEY (session, trigger_name, task)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS instances (
    session TEXT NOT NULL,
    name TEXT NOT NULL,
    task TEXT NOT NULL,
    idx INTEGER NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (session, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instances_by_task ON instances (session, task, idx);
CREATE INDEX IF NOT EXISTS instances_by_status ON instances (session, status, task);
CREATE INDEX IF NOT EXISTS instances_by_version ON instances (session, version);
CREATE TABLE IF NOT EXISTS fired_triggers (
    session TEXT NOT NULL,
    name TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (session, name)
) WITHOUT ROWID;
"""

_CHUNK = 500  # stays under SQLite's bound-parameter limit


@functools.lru_cache(maxsize=1024)
def _decode_config(text: str, name: str) -> RawRecord:
    """Task configurations rarely change; decode each stored text once.

    Callers get the cached dict: `TaskConfig.from_json` only reads it.
    """
    return _decode(text, f"task {name!r}")


def _decode(text: str, what: str) -> RawRecord:
    try:
        value = loads(text)
    except ValueError as exc:
        raise CorruptRecordError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CorruptRecordError(f"{what} is not a JSON object")
    return value


class _SQLiteReader(Reader):
    """Reads one session; ``prefetch_trigger`` loads a fire's records at once.

    Tables per session are small except ``instances``; every query on it
    goes through an index on (session, status, task), (session, task, idx)
    or the primary key, so no read grows with the session.
    """

    def __init__(self, conn: sqlite3.Connection, uid: str) -> None:
        self.conn = conn
        self.uid = uid
        self._trigger_tasks: dict[str, list[str]] = {}
        self._tasks: dict[str, RawRecord] = {}
        self._counts: dict[str, int] = {}
        self._open: dict[str, list[str]] = {}
        self._instances: dict[str, RawRecord] = {}

    def _rows(self, sql: str, *params: object) -> list[tuple]:  # type: ignore[type-arg]
        return self.conn.execute(sql, (self.uid, *params)).fetchall()

    def _by_names(
        self, sql: str, names: Iterable[str], what: str
    ) -> dict[str, RawRecord]:
        found: dict[str, RawRecord] = {}
        for chunk in iter_chunks(list(names), _CHUNK):
            marks = ",".join("?" * len(chunk))
            for name, text in self._rows(sql.format(marks=marks), *chunk):
                found[name] = _decode(text, f"{what} {name!r}")
        return found

    def prefetch_trigger(self, trigger: str) -> None:
        rows = self._rows(
            "SELECT t.name, t.config, t.instance_count FROM task_triggers tt "
            "JOIN tasks t ON t.session = tt.session AND t.name = tt.task "
            "WHERE tt.session = ? AND tt.trigger_name = ?",
            trigger,
        )
        self._trigger_tasks[trigger] = [name for name, _, _ in rows]
        for name, config, count in rows:
            self._tasks[name] = _decode_config(config, name)
            self._counts[name] = count
            self._open[name] = []
        if not rows:
            return
        marks = ",".join("?" * len(rows))
        open_rows = self._rows(
            "SELECT name, task, data FROM instances INDEXED BY instances_by_status "
            f"WHERE session = ? AND status = ? AND task IN ({marks})",
            Status.UNSTARTED.value,
            *(name for name, _, _ in rows),
        )
        for name, task, data in open_rows:
            self._open[task].append(name)
            self._instances[name] = _decode(data, f"instance {name!r}")

    def version(self) -> int:
        row = self._rows("SELECT version FROM sessions WHERE uid = ?")
        return int(row[0][0]) if row else 0

    def tasks(self, names: Iterable[str]) -> dict[str, RawRecord]:
        wanted = list(names)
        found = {n: self._tasks[n] for n in wanted if n in self._tasks}
        missing = [n for n in wanted if n not in self._tasks]
        if missing:
            sql = (
                "SELECT name, config FROM tasks WHERE session = ? AND name IN ({marks})"
            )
            found.update(self._by_names(sql, missing, "task"))
        return found

    def task_names_for_trigger(self, trigger: str) -> list[str]:
        if trigger in self._trigger_tasks:
            return self._trigger_tasks[trigger]
        sql = "SELECT task FROM task_triggers WHERE session = ? AND trigger_name = ?"
        return [row[0] for row in self._rows(sql, trigger)]

    def instances(self, names: Iterable[str]) -> dict[str, RawRecord]:
        wanted = list(names)
        found = {n: self._instances[n] for n in wanted if n in self._instances}
        missing = [n for n in wanted if n not in self._instances]
        if missing:
            sql = (
                "SELECT name, data FROM instances WHERE session = ? "
                "AND name IN ({marks})"
            )
            found.update(self._by_names(sql, missing, "instance"))
        return found

    def open_instance_names(self, task: str) -> list[str]:
        if task in self._open:
            return list(self._open[task])
        sql = (
            "SELECT name FROM instances INDEXED BY instances_by_status "
            "WHERE session = ? AND status = ? AND task = ?"
        )
        return [row[0] for row in self._rows(sql, Status.UNSTARTED.value, task)]

    def instance_count(self, task: str) -> int:
        if task in self._counts:
            return self._counts[task]
        sql = "SELECT instance_count FROM tasks WHERE session = ? AND name = ?"
        rows = self._rows(sql, task)
        return int(rows[0][0]) if rows else 0

    def latest_kwargs(self, triggers: Iterable[str]) -> dict[str, RawRecord]:
        sql = (
            "SELECT name, kwargs FROM fired_triggers "
            "WHERE session = ? AND name IN ({marks})"
        )
        return self._by_names(sql, triggers, "trigger kwargs")

    def all_tasks(self) -> dict[str, RawRecord]:
        rows = self._rows("SELECT name, config FROM tasks WHERE session = ?")
        return {name: _decode(text, f"task {name!r}") for name, text in rows}

    def all_instances(self) -> dict[str, RawRecord]:
        rows = self._rows(
            "SELECT name, data FROM instances WHERE session = ? ORDER BY task, idx"
        )
        return {name: _decode(text, f"instance {name!r}") for name, text in rows}

    def task_instance_names(self, task: str) -> list[str]:
        sql = (
            "SELECT name FROM instances INDEXED BY instances_by_task "
            "WHERE session = ? AND task = ? ORDER BY idx"
        )
        return [row[0] for row in self._rows(sql, task)]

    def all_latest_kwargs(self) -> dict[str, RawRecord]:
        rows = self._rows("SELECT name, kwargs FROM fired_triggers WHERE session = ?")
        return {name: _decode(text, f"trigger kwargs {name!r}") for name, text in rows}

    def changes_since(self, version: int) -> RawChanges:
        def pick(table: str, column: str, what: str) -> dict[str, RawRecord]:
            sql = (
                f"SELECT name, {column} FROM {table} WHERE session = ? AND version > ?"
            )
            rows = self._rows(sql, version)
            return {name: _decode(text, f"{what} {name!r}") for name, text in rows}

        return RawChanges(
            version=self.version(),
            tasks=pick("tasks", "config", "task"),
            instances=pick(
                "instances INDEXED BY instances_by_version", "data", "instance"
            ),
            triggers=pick("fired_triggers", "kwargs", "trigger kwargs"),
        )


class SQLiteBackend(Backend):
    """Sessions in one SQLite file, safe for many threads and processes."""

    scheme = "sqlite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        rest = url.split("://", 1)[1]
        path_part, _, query = rest.partition("?")
        if not path_part:
            raise ValueError(f"sqlite URL needs a file path: {url!r}")
        self.path = Path(path_part)
        try:
            self.timeout = float(parse_qs(query).get("timeout", ["30"])[0])
        except ValueError:
            raise ValueError(f"sqlite URL has a non-numeric timeout: {url!r}") from None
        self._local = threading.local()
        self._checked = False
        self._check_lock = threading.Lock()
        self._connect()  # fail now, not at the first fire, if the file is wrong

    # -- connections ------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if not self._checked:
                with self._check_lock:
                    if not self._checked:
                        self._prepare(conn)
                        self._checked = True
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from None
        except OSError as exc:
            raise StorageUnavailableError(f"cannot open {self.path}: {exc}") from None
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Create the schema in a new file; refuse files that are not ours."""
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
            raise NotATriggersStoreError(
                f"{self.path} is an SQLite database but not a triggers store "
                f"(application id {app_id:#x}, tables: {', '.join(sorted(tables))})"
            )
        if app_id == APPLICATION_ID:
            row = conn.execute(
                "SELECT value FROM triggers_meta WHERE key = 'schema_version'"
            ).fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise NotATriggersStoreError(
                    f"{self.path} has triggers schema version {found}, newer than "
                    f"this library's {SCHEMA_VERSION}: upgrade triggers to open it"
                )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO triggers_meta VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _explain(self, exc: sqlite3.Error) -> StorageError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return NotATriggersStoreError(
                f"{self.path} is not a triggers store: {text}"
            )
        if "locked" in text or "busy" in text:
            return StorageUnavailableError(
                f"{self.path} stayed locked for more than {self.timeout:g}s: {text}"
            )
        if "unable to open" in text or "readonly" in text:
            return StorageUnavailableError(f"cannot write {self.path}: {text}")
        return StorageError(f"SQLite error on {self.path}: {text}")

    # -- reading and writing ---------------------------------------------

    @contextmanager
    def read(self, uid: str) -> Iterator[Reader]:
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            try:
                yield _SQLiteReader(conn, uid)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._explain(exc) from None

    def transact(self, uid: str, body: Callable[[Transaction], T]) -> T:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        try:
            reader = _SQLiteReader(conn, uid)
            txn = Transaction(uid, reader)
            result = body(txn)
            if txn.writes:
                self._apply(conn, uid, txn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise self._explain(exc) from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return result

    @staticmethod
    def _apply(conn: sqlite3.Connection, uid: str, txn: Transaction) -> None:
        writes = txn.writes
        now = time.time()
        (version,) = conn.execute(
            "INSERT INTO sessions (uid, version, created, updated) VALUES (?, 1, ?, ?) "
            "ON CONFLICT (uid) DO UPDATE SET version = version + 1, "
            "updated = excluded.updated RETURNING version",
            (uid, now, now),
        ).fetchone()
        if writes.tasks:
            conn.executemany(
                "INSERT INTO tasks (session, name, config, version) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (session, name) DO UPDATE SET "
                "config = excluded.config, version = excluded.version",
                [
                    (uid, n, dumps(c.to_json()), version)
                    for n, c in writes.tasks.items()
                ],
            )
            added, removed = writes.trigger_index_changes()
            conn.executemany(
                "DELETE FROM task_triggers "
                "WHERE session = ? AND trigger_name = ? AND task = ?",
                [(uid, trigger, task) for trigger, task in removed],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO task_triggers VALUES (?, ?, ?)",
                [(uid, trigger, task) for trigger, task in added],
            )
        if writes.instances:
            conn.executemany(
                "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        uid,
                        n,
                        i.task_name,
                        i.index,
                        str(i.status),
                        dumps(i.to_json()),
                        version,
                    )
                    for n, i in writes.instances.items()
                ],
            )
            counts: dict[str, int] = {}
            for name, instance in writes.instances.items():
                if writes.previous_status.get(name) is None:
                    task = instance.task_name
                    counts[task] = max(counts.get(task, 0), instance.index + 1)
            conn.executemany(
                "UPDATE tasks SET instance_count = MAX(instance_count, ?) "
                "WHERE session = ? AND name = ?",
                [(count, uid, task) for task, count in counts.items()],
            )
        if writes.latest_kwargs:
            conn.executemany(
                "INSERT OR REPLACE INTO fired_triggers VALUES (?, ?, ?, ?)",
                [(uid, n, dumps(k), version) for n, k in writes.latest_kwargs.items()],
            )

    # -- sessions ---------------------------------------------------------

    def list_sessions(self) -> list[SessionSummary]:
        conn = self._connect()
        unresolved = ",".join(f"'{s}'" for s in sorted(UNRESOLVED))
        sql = f"""
            SELECT s.uid, s.created, s.updated, s.version,
              (SELECT COUNT(*) FROM tasks t WHERE t.session = s.uid),
              (SELECT COUNT(*) FROM instances i WHERE i.session = s.uid),
              (SELECT COUNT(*) FROM instances i
                 WHERE i.session = s.uid AND i.status = 'failed'),
              (SELECT COUNT(*) FROM instances i
                 WHERE i.session = s.uid AND i.status IN ({unresolved}))
            FROM sessions s ORDER BY s.updated DESC
        """
        try:
            rows = conn.execute(sql).fetchall()
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        return [
            SessionSummary(
                uid=row[0],
                created=row[1],
                updated=row[2],
                version=row[3],
                task_count=row[4],
                instance_count=row[5],
                failed_count=row[6],
                unresolved_count=row[7],
            )
            for row in rows
        ]

    def session_exists(self, uid: str) -> bool:
        row = self._connect().execute("SELECT 1 FROM sessions WHERE uid = ?", (uid,))
        return row.fetchone() is not None

    def delete_session(self, uid: str) -> None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("tasks", "task_triggers", "instances", "fired_triggers"):
                conn.execute(f"DELETE FROM {table} WHERE session = ?", (uid,))
            conn.execute("DELETE FROM sessions WHERE uid = ?", (uid,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
