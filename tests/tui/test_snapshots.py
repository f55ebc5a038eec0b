"""Snapshots of the dashboard's screens (pytest-textual-snapshot).

Every picture is of the demo session seeded by `snapshot_demo` (fixed
order, times and paths), opened from a relative SQLite URL so the header
reads the same in every checkout. ``--snapshot-update`` rewrites them after
a deliberate change; look at ``snapshot_report.html`` first.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

from triggers_tui.app import TriggersApp
from triggers_tui.screens import PickerScreen, SessionScreen
from triggers_tui.widgets import JsonEditor, NodeRef

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
URL = "sqlite://snapshots.db"
UID = "demo-snapshot"
#: What the picker shows as "updated" (the store's real times vary).
UPDATED = 1714979880.0


@pytest.fixture
def demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    # Times on screen are local: make local UTC.
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    subprocess.run(
        [sys.executable, str(HERE / "snapshot_demo.py"), URL, UID],
        check=True,
        capture_output=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TZ": "UTC"},
    )
    yield URL
    monkeypatch.undo()
    time.tzset()


async def _loaded(pilot: Pilot[Any]) -> SessionScreen:
    app = pilot.app
    while not isinstance(app.screen, SessionScreen) or not app.screen.state.loaded:
        await pilot.pause(0.05)
    await pilot.pause(0.1)
    return app.screen


def _edit(pilot: Pilot[Any], text: str) -> None:
    area = pilot.app.screen.query_one(JsonEditor).query_one(TextArea)
    area.clear()
    area.insert(text)


def test_session_screen(snap_compare: Any, demo_store: str) -> None:
    assert snap_compare(
        TriggersApp(demo_store, UID), run_before=_loaded, terminal_size=(110, 34)
    )


def test_session_screen_80x24(snap_compare: Any, demo_store: str) -> None:
    assert snap_compare(TriggersApp(demo_store, UID), run_before=_loaded)


def test_no_colour(
    snap_compare: Any, demo_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(TriggersApp(demo_store, UID), run_before=_loaded)


def test_traceback(snap_compare: Any, demo_store: str) -> None:
    async def show_traceback(pilot: Pilot[Any]) -> None:
        screen = await _loaded(pilot)
        await pilot.press("z")
        detail = screen.detail
        detail.scroll_to_widget(
            detail.query_one("#traceback-heading"), top=True, animate=False
        )
        await pilot.pause()

    assert snap_compare(TriggersApp(demo_store, UID), run_before=show_traceback)


def test_replay_modal_with_invalid_json(snap_compare: Any, demo_store: str) -> None:
    async def break_kwargs(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("r")
        await pilot.pause()
        _edit(pilot, '{\n  "t_importResponses": {"answers": 3,}\n}')
        await pilot.pause()

    assert snap_compare(TriggersApp(demo_store, UID), run_before=break_kwargs)


def test_skip_modal_with_invalid_result(snap_compare: Any, demo_store: str) -> None:
    async def break_result(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("s")
        await pilot.pause()
        await pilot.click("#cascade")
        _edit(pilot, '["mean", 3]')
        await pilot.pause()

    assert snap_compare(
        TriggersApp(demo_store, UID), run_before=break_result, terminal_size=(80, 30)
    )


def test_fire_modal_with_unknown_trigger(snap_compare: Any, demo_store: str) -> None:
    async def fire_unknown(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("f", *"reminderDoe")
        _edit(pilot, '{"due": tomorrow}')
        await pilot.pause()

    assert snap_compare(TriggersApp(demo_store, UID), run_before=fire_unknown)


def test_bulk_replay_counts(snap_compare: Any, demo_store: str) -> None:
    async def mark_two(pilot: Pilot[Any]) -> None:
        screen = await _loaded(pilot)
        await pilot.press("space")
        screen.session_tree.move_to(NodeRef("instance", "t_importSubject#0"))
        await pilot.press("space", "r")
        await pilot.pause()

    assert snap_compare(TriggersApp(demo_store, UID), run_before=mark_two)


def test_help(snap_compare: Any, demo_store: str) -> None:
    async def help_(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(TriggersApp(demo_store, UID), run_before=help_)


def test_picker(snap_compare: Any, demo_store: str) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "snapshot_demo.py"), URL, "demo-other"],
        check=True,
        capture_output=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )

    async def listed(pilot: Pilot[Any]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, PickerScreen)
        while len(screen.sessions) < 2:
            await pilot.pause(0.05)
        # The store stamps real times; show fixed ones, in the store's order.
        screen.sessions = [
            replace(s, updated=UPDATED - i, created=UPDATED)
            for i, s in enumerate(screen.sessions)
        ]
        screen.refill()
        await pilot.press(*"demo")
        await pilot.pause()

    assert snap_compare(TriggersApp(demo_store), run_before=listed)
