"""The Celery runner without workers: what it publishes, and what it refuses.

A real redis-server is the broker; messages are read back from its queue.
Worker processes are in ``test_celery_worker*.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis

from tests.celery_support import ROOT, queued_messages, redis_url
from tests.celery_tasks import COUNTER_ENV
from tests.redis_server import RedisServer
from triggers_core import (
    ConfigurationError,
    SchedulingError,
    Status,
    TriggerManager,
    open_storage,
)
from triggers_core.runners.celery import TASK_NAME, CeleryTaskRunner, make_app
from triggers_core.session import SessionStorage

PASS = "triggers_core.testing.PassThruTask"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("broker")).start()
    yield server
    server.stop()


@pytest.fixture
def broker_url(broker: RedisServer) -> Iterator[str]:
    url = redis_url(broker.port, 0)
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> SessionStorage:
    return open_storage(f"sqlite://{tmp_path / 'store.db'}", f"s-{uuid.uuid4().hex}")


def test_memory_storage_is_refused_up_front() -> None:
    runner = CeleryTaskRunner(make_app("redis://127.0.0.1:1/0"))
    storage = open_storage("memory://celery-refused", "s")
    with pytest.raises(ConfigurationError, match=r"cannot reach a store.*memory"):
        TriggerManager(storage, default_runner=runner)


def test_memory_storage_refused_for_a_task_using_celery() -> None:
    manager = TriggerManager(open_storage("memory://celery-using", "s"))
    with pytest.raises(ConfigurationError, match=r"'t_x', directive 'using'.*memory"):
        manager.update_configuration(
            {"t_x": {"after": ["go"], "run": PASS, "using": "celery"}}
        )
    assert dict(manager.storage.tasks) == {}


def test_default_app_without_broker_is_refused(tmp_path: Path) -> None:
    # A fresh interpreter: the default app reads its broker once.
    code = (
        "from triggers_core import TriggerManager, open_storage\n"
        f"s = open_storage('sqlite://{tmp_path / 'x.db'}', 's')\n"
        "try:\n"
        "    TriggerManager(s, default_runner='celery')\n"
        "except ValueError as exc:\n"
        "    print('refused:', exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if "BROKER_URL" not in k}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert "refused: the celery runner has no broker" in out.stdout, out.stderr
    assert "TRIGGERS_CELERY_BROKER_URL" in out.stdout


def test_message_carries_only_names_and_references(
    broker_url: str, sqlite_storage: SessionStorage
) -> None:
    manager = TriggerManager(
        sqlite_storage, default_runner=CeleryTaskRunner(make_app(broker_url))
    )
    manager.update_configuration({"t_a": {"after": ["go"], "run": PASS}})

    scheduled = manager.fire("go", {"secret": "kwargs stay in the store"})

    assert [i.name for i in scheduled] == ["t_a#0"]
    assert sqlite_storage["t_a#0"].status == Status.SCHEDULED
    [message] = queued_messages(broker_url)
    assert message["headers"]["task"] == TASK_NAME
    assert message["headers"]["eta"] is None
    assert message["args"] == []
    assert message["kwargs"] == {
        "instance_name": "t_a#0",
        "session_uid": sqlite_storage.uid,
        "storage_url": sqlite_storage.url,
        "manager_name": "default",
        "default_runner": "celery",
        "run": PASS,
    }


def test_retry_cooldown_becomes_the_countdown(
    broker: RedisServer,
    broker_url: str,
    sqlite_storage: SessionStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(COUNTER_ENV, redis_url(broker.port, 1))
    manager = TriggerManager(
        sqlite_storage, default_runner=CeleryTaskRunner(make_app(broker_url))
    )
    manager.update_configuration(
        {"t_r": {"after": ["go"], "run": "tests.celery_tasks.retry_later"}}
    )
    manager.fire("go", {"cooldown": 45})
    [first] = queued_messages(broker_url)
    assert first["headers"]["eta"] is None
    redis.Redis.from_url(broker_url).delete("celery")

    # What a worker does with the message, done here: the task asks to retry.
    manager.run_instance("t_r#0")

    failed = sqlite_storage["t_r#0"]
    assert failed.status == Status.REPLAYED
    assert failed.metadata["retry"]["cooldown"] == 45
    assert sqlite_storage["t_r#1"].status == Status.SCHEDULED
    [message] = queued_messages(broker_url)
    assert message["kwargs"]["instance_name"] == "t_r#1"
    eta = datetime.fromisoformat(message["headers"]["eta"]).timestamp()
    replayed_at = failed.metadata["timestamps"]["replayed"]
    assert replayed_at + 45 <= eta < replayed_at + 45 + 60


def test_broker_down_leaves_the_instance_runnable(
    tmp_path: Path, sqlite_storage: SessionStorage
) -> None:
    server = RedisServer(tmp_path)  # its port is free: nothing listens yet
    url = redis_url(server.port, 0)
    manager = TriggerManager(
        sqlite_storage, default_runner=CeleryTaskRunner(make_app(url))
    )
    manager.update_configuration(
        {
            "t_a": {"after": ["go"], "run": PASS},
            "t_b": {"after": ["again"], "run": PASS},
        }
    )

    with pytest.raises(SchedulingError, match=r"t_a#0.*stay unstarted") as caught:
        manager.fire("go", {"n": 1})

    assert "Connection refused" in str(caught.value.__cause__)
    instance = sqlite_storage["t_a#0"]
    assert instance.status == Status.UNSTARTED
    assert instance.can_run
    assert "scheduled" not in instance.metadata["timestamps"]
    assert sqlite_storage.latest_kwargs["go"] == {"n": 1}

    # The broker comes up: firing again schedules the same instance.
    server.start()
    try:
        assert [i.name for i in manager.fire("go", {"n": 2})] == ["t_a#0"]
        assert sqlite_storage["t_a#0"].status == Status.SCHEDULED
        assert [m["kwargs"]["instance_name"] for m in queued_messages(url)] == ["t_a#0"]

        # A broker that dies under a connected app: refused again, promptly.
        server.kill()
        with pytest.raises(SchedulingError, match="t_b#0"):
            manager.fire("again")
        assert sqlite_storage["t_b#0"].status == Status.UNSTARTED
    finally:
        server.stop()


def test_manager_workers_cannot_rebuild_is_refused(
    broker_url: str, sqlite_storage: SessionStorage
) -> None:
    class Unregistered(TriggerManager):
        name = "not-registered-anywhere"

    manager = Unregistered(
        sqlite_storage, default_runner=CeleryTaskRunner(make_app(broker_url))
    )
    manager.update_configuration({"t_a": {"after": ["go"], "run": PASS}})

    with pytest.raises(SchedulingError, match="register it") as caught:
        manager.fire("go")

    assert isinstance(caught.value.__cause__, ConfigurationError)
    assert sqlite_storage["t_a#0"].status == Status.UNSTARTED
    assert queued_messages(broker_url) == []


def test_worker_command_reports_a_module_it_cannot_import(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from triggers_core.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["worker", "--import", "no_such_module_for_triggers"])

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--import no_such_module_for_triggers: No module named" in err


def test_worker_command_refuses_a_runner_that_is_not_celery(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from triggers_core.cli import main

    with pytest.raises(SystemExit):
        main(["worker", "--runner", "threading"])

    assert "not a CeleryTaskRunner; nothing to serve" in capsys.readouterr().err


def test_triggers_command_without_subcommand_prints_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from triggers_core.cli import main

    assert main([]) == 2
    assert "worker" in capsys.readouterr().out
