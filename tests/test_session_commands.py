"""``triggers sessions|show|fire|replay|skip``, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from triggers_core import SessionStorage, Status, TriggerManager, open_storage
from triggers_core.runners import ThreadingTaskRunner

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A SQLite store with session ``s1``: ``t_flaky#0`` failed, ``t_after``
    waits for it, ``t_page`` runs for every ``page``."""
    url = f"sqlite://{tmp_path / 'cli.db'}"
    manager = TriggerManager(open_storage(url, "s1"))
    manager.update_configuration(
        {
            "t_flaky": {"after": ["go"], "run": "triggers_core.testing.FailingTask"},
            "t_after": {
                "after": ["t_flaky"],
                "run": "triggers_core.testing.PassThruTask",
            },
            "t_page": {
                "after": ["go"],
                "andEvery": "page",
                "run": "triggers_core.testing.PassThruTask",
            },
        }
    )
    manager.fire("go", {"n": 1})
    assert ThreadingTaskRunner.join_all(timeout=60)
    return url


def triggers(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRIGGERS_STORAGE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "triggers_core.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def storage(url: str) -> SessionStorage:
    return open_storage(url, "s1")


def test_sessions_and_show(url: str) -> None:
    listed = triggers(url, "sessions")
    assert listed.returncode == 0, listed.stderr
    assert "s1" in listed.stdout and "failed 1" in listed.stdout

    shown = triggers(url, "show", "s1")
    assert shown.returncode == 0, shown.stderr
    assert "t_flaky#0  failed  RuntimeError" in shown.stdout

    as_json = triggers(url, "show", "s1", "--json")
    assert json.loads(as_json.stdout) == storage(url).debug_repr()


def test_fire_runs_the_task_and_waits(url: str) -> None:
    result = triggers(url, "fire", "s1", "page", '{"p": 2}')
    assert result.returncode == 0, result.stderr
    assert "scheduled t_page#0" in result.stdout
    assert "t_page#0: finished" in result.stdout
    assert storage(url)["t_page#0"].metadata["result"] == {
        "kwargs": {"go": {"n": 1}, "page": {"p": 2}}
    }


def test_replay_with_kwargs_records_the_reason(url: str) -> None:
    result = triggers(
        url, "replay", "s1", "t_flaky#0", "--kwargs", '{"go": {"n": 2}}',
        "--reason", "retry by hand",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "replayed t_flaky#0 as t_flaky#1" in result.stdout
    found = storage(url)
    assert found["t_flaky#1"].kwargs == {"go": {"n": 2}}
    (entry,) = found["t_flaky#0"].metadata["history"]
    assert (entry["source"], entry["reason"]) == ("cli", "retry by hand")


def test_skip_with_cascade_runs_the_dependent(url: str) -> None:
    result = triggers(
        url, "skip", "s1", "t_flaky#0", "--cascade", "--result", '{"r": 1}'
    )
    assert result.returncode == 0, result.stderr
    assert "t_after#0: finished" in result.stdout
    found = storage(url)
    assert found["t_flaky#0"].status == Status.SKIPPED
    assert found["t_after#0"].metadata["result"] == {"kwargs": {"t_flaky": {"r": 1}}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fire", "s1", "page", "{bad"), "kwargs is not valid JSON: Expecting"),
        (("fire", "s1", "page", "[1]"), "kwargs must be a JSON object, got list"),
        (("fire", "nope", "page"), "no session 'nope'"),
        (("replay", "s1", "t_flaky#0", "--kwargs", '{"go": 1}'), "must be a JSON"),
        (("skip", "s1", "t_after#9"), "no instance 't_after#9'"),
        (("skip", "s1", "t_flaky#0", "--result", "{"), "--result is not valid"),
        (("show", "s1", "--storage", "ftp://x"), "unsupported storage URL"),
    ],
)
def test_mistakes_are_one_line_and_change_nothing(
    url: str, args: tuple[str, ...], message: str
) -> None:
    before = storage(url).debug_repr()
    result = triggers(url, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert storage(url).debug_repr() == before


def test_repairing_twice_is_refused(url: str) -> None:
    assert triggers(url, "skip", "s1", "t_flaky#0").returncode == 0
    again = triggers(url, "replay", "s1", "t_flaky#0")
    assert again.returncode == 2
    assert "is 'skipped'; only a 'failed' instance" in again.stderr
