"""The command line: one-line errors with status 2, and the real program in a
terminal (tmux), read back from the screen as an operator over SSH sees it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from triggers_core import TriggerManager
from triggers_tui.cli import main

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_unknown_session(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-session", "--storage", store_url]) == 2
    line = _error_line(capsys)
    assert line.startswith("triggers-tui: error: unknown session 'no-such-session'")


def test_bad_url_hides_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["s", "--storage", "nosuch://ops:hunter2@db.example/0"]) == 2
    line = _error_line(capsys)
    assert "bad storage URL" in line
    assert "hunter2" not in line and "ops:***@" in line
    assert main(["s", "--storage", "no-scheme-at-all"]) == 2
    assert "bad storage URL" in _error_line(capsys)


def test_unusable_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_bytes(b"this is not an SQLite database" * 100)
    assert main(["s", "--storage", f"sqlite://{not_a_store}"]) == 2
    assert "cannot reach the store" in _error_line(capsys)


def test_demo_takes_no_session(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["s", "--demo"]) == 2
    assert "--demo opens a new session" in _error_line(capsys)


class Terminal:
    """The real program in an 80x24 tmux pane, on a private tmux server."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.socket = f"triggers-tui-test-{uuid.uuid4().hex[:8]}"
        shell = " ".join(command) + "; echo EXIT=$?; sleep 60"
        subprocess.run(
            [
                "tmux",
                "-L",
                self.socket,
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "24",
                shell,
            ],
            check=True,
            env=env,
        )

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed; screen:\n{screen}")
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"), reason="needs tmux"
)
def test_real_program_in_a_terminal(seeded: TriggerManager) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "TERM": "xterm-256color",
        "PYTHONPATH": f"{ROOT}:{HERE}",
        "TRIGGERS_STORAGE_URL": seeded.storage.url,
    }
    terminal = Terminal([sys.executable, "-m", "triggers_tui", "tui-test"], env)
    try:
        screen = terminal.wait_for("● live")
        lines = screen.splitlines()
        assert lines[0].startswith(" tui-test ·")
        scheme = seeded.storage.url.partition("://")[0]
        assert f"{scheme}://" in screen and "✗2 failed" in screen
        assert any("✗ #1 failed" in line for line in lines)
        assert "t_import#1  ✗ failed" in screen  # the detail pane, first failure
        assert "r Replay" in lines[-1]
        terminal.keys("3")  # only failed instances
        terminal.wait_for("view: failed")
        assert "t_fetch" not in terminal.screen()
        terminal.keys("r")
        screen = terminal.wait_for("Replay t_import#1")
        assert "ImportTimeout" in screen
        terminal.keys("Escape")
        terminal.wait_for("view: failed")
        terminal.keys("q")
        terminal.wait_for("EXIT=0")
    finally:
        terminal.close()
