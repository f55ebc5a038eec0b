"""`SessionWatcher`: follows a session's change feed from a thread worker.

The watcher is the only code that reads a session for the screen. It reads
one snapshot, then loops on ``wait_for_change`` (SQLite polls, Redis
listens) and ``changes_since``, posting each batch as a message. When a
store call fails it posts `ConnectionLost`, waits, and tries again; after a
failure it reads a full snapshot again, so nothing missed meanwhile is lost.

A store that stops answering without closing the connection (a frozen
server, a network partition) does not fail at once: Redis calls wait for
their socket timeout, and retry, for about 40 s by default. `busy_for` says
how long the current call has been running, so the screen can say the store
is not answering meanwhile, without waiting on the store itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from textual.message import Message

from triggers_core import (
    SessionStorage,
    StorageError,
    StorageUnavailableError,
    open_storage,
)
from triggers_core.storage import redact

from .messages import ChangesArrived, ConnectionLost, ConnectionRestored, SnapshotLoaded

logger = logging.getLogger(__name__)

#: Seconds between attempts after a failure, the last one repeating.
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0)


class SessionWatcher:
    """Reads one session and posts what changes to ``post``.

    ``post`` must be thread-safe (Textual's ``post_message`` is). Call `run`
    in a thread; it returns once `stop` was called (or ``cancelled`` says so).
    """

    def __init__(
        self,
        url: str,
        uid: str,
        post: Callable[[Message], object],
        *,
        wait_timeout: float = 0.5,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.url = url
        self.uid = uid
        self.storage: SessionStorage | None = None
        self.post = post
        self.wait_timeout = wait_timeout
        self.retry_delays = retry_delays
        self._stop = threading.Event()
        self._suspect = threading.Event()
        self._stalled = threading.Event()
        self._busy_since: float | None = None

    def stop(self) -> None:
        """Ask `run` to return (within ``wait_timeout`` seconds)."""
        self._stop.set()

    def report_failure(self) -> None:
        """Another caller saw the store fail: read everything again once it works."""
        self._suspect.set()

    def busy_for(self) -> float:
        """Seconds the current store call has been running (0 between calls).

        Safe to call from any thread; it never touches the store.
        """
        started = self._busy_since
        return 0.0 if started is None else time.monotonic() - started

    def report_stall(self) -> None:
        """The screen said the store is not answering: post `ConnectionRestored`
        once a call succeeds again (no reload: a slow call misses nothing)."""
        self._stalled.set()

    def run(self, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Follow the session until stopped."""
        version: int | None = None
        failures = 0
        logger.info("watching session %s at %s", self.uid, redact(self.url))
        while not (self._stop.is_set() or cancelled()):
            try:
                if self._suspect.is_set():
                    self._suspect.clear()
                    failures = max(failures, 1)
                    version = None
                version = self._step(version)
            except StorageError as exc:
                delay = self.retry_delays[min(failures, len(self.retry_delays) - 1)]
                failures += 1
                version = None
                kind = (
                    "unreachable"
                    if isinstance(exc, StorageUnavailableError)
                    else "error"
                )
                logger.warning(
                    "session %s: store %s (%s); retrying in %.1fs",
                    self.uid,
                    kind,
                    exc,
                    delay,
                )
                self.post(ConnectionLost(str(exc), delay))
                self._stop.wait(delay)
                continue
            except Exception as exc:
                # A bug, not the store: keep the screen alive and say so.
                logger.exception("session watcher failed")
                failures += 1
                version = None
                self.post(ConnectionLost(f"{type(exc).__name__}: {exc}", 5.0))
                self._stop.wait(5.0)
                continue
            if failures or self._stalled.is_set():
                failures = 0
                self._stalled.clear()
                logger.info("session %s: store reachable again", self.uid)
                self.post(ConnectionRestored())
        logger.info("stopped watching session %s", self.uid)

    def _step(self, version: int | None) -> int:
        """One store call: open, read a snapshot, or wait for and read changes."""
        self._busy_since = time.monotonic()
        try:
            if self.storage is None:
                self.storage = open_storage(self.url, self.uid)
            if version is None:
                return self._load(self.storage)
            return self._follow(self.storage, version)
        finally:
            self._busy_since = None

    def _load(self, storage: SessionStorage) -> int:
        # Known limit: after a reconnect the whole session is read again
        # (about 0.3 s for 10,000 instances on SQLite), not only what changed.
        started = time.perf_counter()
        # The version is read first: writes landing during the snapshot are
        # read again by the next changes_since, and applying them twice is
        # harmless (records are replaced, not added up).
        version = storage.version
        tasks, instances, latest = storage.snapshot()
        seconds = time.perf_counter() - started
        logger.info(
            "session %s: read %d tasks and %d instances in %.3fs",
            self.uid,
            len(tasks),
            len(instances),
            seconds,
        )
        self.post(SnapshotLoaded(version, tasks, instances, latest, seconds))
        return version

    def _follow(self, storage: SessionStorage, version: int) -> int:
        current = storage.wait_for_change(version, self.wait_timeout)
        if current < version:
            # The session went back in time (deleted, restored): start over.
            logger.warning(
                "session %s: version went from %d back to %d; reloading",
                self.uid,
                version,
                current,
            )
            return self._load(storage)
        if current == version:
            return version
        changes = storage.changes_since(version)
        if changes:
            self.post(ChangesArrived(changes))
        return max(version, changes.version)
