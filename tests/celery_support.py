"""Helpers for the Celery tests: real worker processes, waiting, the queue.

Workers run as separate processes in their own process group, with the
worktree on ``PYTHONPATH`` so they import this checkout (and
``tests.celery_tasks``), never an installed copy.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.celery_tasks import COUNTER_ENV
from triggers_core.runners.celery import BROKER_ENV

ROOT = Path(__file__).resolve().parent.parent
TASKS_MODULE = "tests.celery_tasks"


def redis_url(port: int, db: int) -> str:
    return f"redis://127.0.0.1:{port}/{db}"


def store_url(redis_port: int) -> str:
    """The store the test and its workers share: Redis db 2 of the test's
    own redis-server (the broker uses another db of the same server)."""
    return redis_url(redis_port, 2)


def wait_for(
    condition: Callable[[], Any], what: str | Callable[[], str], timeout: float = 120
) -> Any:
    """Poll ``condition`` until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {detail}")
        time.sleep(0.1)


class CeleryWorker:
    """One ``celery worker`` process (its pool processes in its group).

    ``via="cli"`` starts it as ``python -m triggers_core.cli worker``;
    ``via="celery"`` as ``celery -A triggers_core.runners.celery worker``:
    the two documented ways.
    """

    def __init__(
        self,
        directory: Path,
        broker_url: str,
        counter_url: str,
        name: str,
        *,
        via: str = "cli",
        concurrency: int = 2,
        pool: str = "prefork",
    ) -> None:
        self.directory = directory
        self.broker_url = broker_url
        self.counter_url = counter_url
        self.name = name
        self.via = via
        self.concurrency = concurrency
        self.pool = pool
        self.log_path = directory / f"worker-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def nodename(self) -> str:
        return f"{self.name}@{os.uname().nodename}"

    def command(self) -> list[str]:
        common = [
            f"--concurrency={self.concurrency}",
            f"--pool={self.pool}",
            f"--hostname={self.nodename}",
            "--loglevel=INFO",
        ]
        if self.via == "cli":
            return [
                sys.executable, "-m", "triggers_core.cli", "worker",
                "--broker", self.broker_url, "--import", TASKS_MODULE, *common,
            ]  # fmt: skip
        return [
            sys.executable, "-m", "celery", "-A", "triggers_core.runners.celery",
            "worker", "--include", TASKS_MODULE, *common,
        ]  # fmt: skip

    def start(self, wait_ready: bool = True) -> CeleryWorker:
        env = dict(os.environ)
        env.pop("CELERY_BROKER_URL", None)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        env[BROKER_ENV] = self.broker_url
        env[COUNTER_ENV] = self.counter_url
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait_ready:
            self.wait_for_log(f"{self.nodename} ready.", timeout=120)
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 120) -> None:
        def seen() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"worker {self.name} exited ({self.process.returncode}):\n"
                    + self.log()[-4000:]
                )
            return text in self.log()

        def describe() -> str:
            return f"{text!r} in the log of {self.name}:\n{self.log()[-4000:]}"

        wait_for(seen, describe, timeout)

    def kill(self) -> None:
        """SIGKILL the whole worker (main and pool processes), as a crash would."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        """Warm shutdown, then kill whatever is left of the process group."""
        if self.process is None:
            return
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None


def queued_messages(broker_url: str, queue: str = "celery") -> list[dict[str, Any]]:
    """The messages waiting in a Redis-broker queue, decoded (oldest first)."""
    client = redis.Redis.from_url(broker_url)
    messages = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        envelope = json.loads(raw)
        body = envelope["body"]
        if envelope["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, kwargs, _embed = json.loads(body)
        messages.append(
            {"headers": envelope["headers"], "args": args, "kwargs": kwargs}
        )
    client.close()
    return messages
