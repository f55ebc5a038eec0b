"""The SQLite file: what it refuses, where it lives, how it survives."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from triggers_core import TriggerManager, default_url, open_storage
from triggers_core.errors import (
    CorruptRecordError,
    NotATriggersStoreError,
    StorageError,
)
from triggers_core.runners import ThreadingTaskRunner
from triggers_core.storage.sqlite import SCHEMA_VERSION

PASS = "triggers_core.testing.PassThruTask"


def test_text_file_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 50)
    with pytest.raises(NotATriggersStoreError, match="not a triggers store"):
        open_storage(f"sqlite://{path}", "s")
    assert path.read_text().startswith("these are my notes")


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    with pytest.raises(NotATriggersStoreError, match="customers"):
        open_storage(f"sqlite://{path}", "s")
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["customers"]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 't.db'}"
    manager = TriggerManager(open_storage(url, "s"))
    manager.update_configuration({"t_x": {"after": ["go"], "run": PASS}})
    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute(
            "UPDATE triggers_meta SET value = ? WHERE key = 'schema_version'",
            (str(SCHEMA_VERSION + 1),),
        )
    code = f"from triggers_core import open_storage\nopen_storage({url!r}, 's')\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "newer than this library" in result.stderr
    assert "NotATriggersStoreError" in result.stderr


def test_unreadable_row_is_reported(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 't.db'}"
    storage = open_storage(url, "s")
    manager = TriggerManager(storage)
    manager.update_configuration({"t_x": {"after": ["a", "b"], "run": PASS}})
    manager.fire("a")
    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute("UPDATE instances SET data = '{broken' WHERE name = 't_x#0'")
    with pytest.raises(CorruptRecordError, match="t_x#0"):
        storage["t_x#0"]
    with pytest.raises(CorruptRecordError, match="t_x#0"):
        manager.fire("b")
    assert isinstance(CorruptRecordError("x"), StorageError)
    with sqlite3.connect(tmp_path / "t.db") as conn:
        (data,) = conn.execute("SELECT data FROM instances").fetchone()
    assert data == "{broken"  # reported, not overwritten


def test_state_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 't.db'}"
    manager = TriggerManager(open_storage(url, "s"))
    manager.update_configuration({"t_x": {"after": ["go"], "run": PASS}})
    manager.fire("go", {"n": 1})
    ThreadingTaskRunner.join_all()
    code = (
        "from triggers_core import open_storage\n"
        f"print(open_storage({url!r}, 's')['t_x#0'].metadata['result'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "{'kwargs': {'go': {'n': 1}}}"


def test_default_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRIGGERS_STORAGE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_url() == f"sqlite://{tmp_path / 'triggers' / 'triggers.db'}"
    monkeypatch.setenv("TRIGGERS_STORAGE_URL", "memory://configured")
    assert default_url() == "memory://configured"
    assert open_storage(None, "s").url == "memory://configured"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("no-scheme", "scheme://"),
        ("ftp://host/x", "unsupported storage URL"),
        ("sqlite://", "needs a file path"),
        ("sqlite:///tmp/x.db?timeout=soon", "non-numeric timeout"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_storage(url, "s")


def test_bad_session_uid() -> None:
    with pytest.raises(ValueError, match="session UID"):
        open_storage("memory://", "")


def test_wal_mode(tmp_path: Path) -> None:
    open_storage(f"sqlite://{tmp_path / 't.db'}", "s")
    with sqlite3.connect(tmp_path / "t.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
