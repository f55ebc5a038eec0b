"""Pilot tests of the session screen against real SQLite and Redis sessions."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import tui_workflow
from conftest import (
    UID,
    run_async,
    wait_in_thread,
    wait_until,
    write_from_another_process,
)
from textual.widgets import Checkbox, Static, TextArea

from tests.redis_server import RedisServer
from triggers_core import SessionStorage, TriggerManager, open_storage
from triggers_core.runners import ThreadingTaskRunner
from triggers_tui.app import TriggersApp
from triggers_tui.screens import ReplayModal, SessionScreen, SkipModal
from triggers_tui.widgets import JsonEditor, NodeRef, SessionTree


def _screen(app: TriggersApp) -> SessionScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, SessionScreen)
    return screen


def _cursor(app: TriggersApp) -> NodeRef | None:
    node = app.screen_stack[1].query_one(SessionTree).cursor_node
    return node.data if node is not None else None


def _header(screen: SessionScreen) -> str:
    return "\n".join(str(s.render()) for s in screen.query("#header Static"))


def _edit(editor: JsonEditor, text: str) -> None:
    area = editor.query_one(TextArea)
    area.clear()
    area.insert(text)


async def _open(app: TriggersApp, pilot) -> SessionScreen:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: len(app.screen_stack) > 1)
    screen = _screen(app)
    await wait_until(pilot, lambda: screen.state.loaded and screen.connected)
    await pilot.pause()
    return screen


@run_async
async def test_opens_on_the_first_failed_instance(seeded: TriggerManager) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(app, pilot)
        assert _cursor(app) == NodeRef("instance", "t_import#1")
        tree = _screen(app).session_tree
        # Replays sit under the instance they replay.
        replay = tree.node_for(NodeRef("instance", "t_import#1"))
        assert replay is not None and replay.parent is not None
        assert replay.parent.data == NodeRef("instance", "t_import#0")


@run_async
async def test_replay_with_edited_kwargs_runs_the_clone_with_them(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(app, pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayModal))
        modal = app.screen
        edited = {"t_fetch": {"fixed": True, "subject": "S-42"}}
        _edit(modal.query_one(JsonEditor), json.dumps(edited))
        await pilot.pause()
        # Editing chose "edited kwargs" by itself.
        assert modal.query_one("#edited").value is True
        modal.query_one("#reason").value = "subject server is back"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionScreen))

        await wait_in_thread(
            lambda: (
                storage.instances.get("t_import#2") is not None
                and storage["t_import#2"].status == "finished"
            )
        )
        clone = storage["t_import#2"]
        assert clone.kwargs == edited
        assert clone.metadata["actualKwargs"] == edited
        assert clone.metadata["result"] == {"imported": "S-42"}
        failed = storage["t_import#1"]
        assert failed.status == "replayed"
        entry = failed.metadata["history"][-1]
        assert entry["action"] == "replay"
        assert entry["source"] == "dashboard"
        assert entry["reason"] == "subject server is back"
        assert entry["replacedKwargs"] is True
        assert "@" in entry["by"]
        # The cursor lands on the new instance, and the detail shows the history.
        await wait_until(
            pilot, lambda: _cursor(app) == NodeRef("instance", "t_import#2")
        )
        screen = _screen(app)
        await wait_until(
            pilot, lambda: screen.state.instances["t_import#2"].status == "finished"
        )
        # The detail pane shows who replayed, from where and why.
        screen.session_tree.move_to(NodeRef("instance", "t_import#1"))
        await wait_until(
            pilot, lambda: screen.detail.ref == NodeRef("instance", "t_import#1")
        )
        history = str(screen.query_one("#history-body").render())
        assert "replay as t_import#2 with edited kwargs by " in history
        assert "from dashboard: subject server is back" in history


@run_async
async def test_skip_with_cascade_runs_the_dependent_with_the_result(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(app, pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SkipModal))
        modal = app.screen
        dependents = str(modal.query_one("#dependents").render())
        assert "t_notify: will not run" in dependents
        modal.query_one(Checkbox).value = True
        await pilot.pause()
        dependents = str(modal.query_one("#dependents").render())
        assert "t_notify: would run" in dependents
        assert "t_report: would still wait for reviewDone" in dependents
        _edit(modal.query_one(JsonEditor), '{"imported": "by hand"}')
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_in_thread(
            lambda: (
                storage.instances.get("t_notify#0") is not None
                and storage["t_notify#0"].status == "finished"
            )
        )
        skipped = storage["t_import#1"]
        assert skipped.status == "skipped"
        assert skipped.metadata["cascade"] is True
        assert skipped.metadata["history"][-1]["source"] == "dashboard"
        assert storage["t_notify#0"].metadata["actualKwargs"] == {
            "t_import": {"imported": "by hand"}
        }
        assert storage["t_report#0"].status == "unstarted"


@run_async
async def test_invalid_json_is_shown_and_writes_nothing(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    version = storage.version
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(app, pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayModal))
        modal = app.screen
        editor = modal.query_one(JsonEditor)
        cases = [
            ('{\n  "t_fetch": {"fixed": true,}\n}', "line 2, column 29"),
            ("[1, 2]", "line 1, column 1: expected a JSON object"),
            ('{\n  "t_fetch": 3\n}', "line 2, column 14: the kwargs of trigger"),
        ]
        for text, expected in cases:
            _edit(editor, text)
            await pilot.pause()
            assert editor.problem is not None
            assert expected in str(editor.problem), editor.problem
            assert "not valid" in str(modal.query_one("#form-problem").render())
            assert modal.query_one("#submit").disabled
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is modal
        await pilot.press("escape")
        await pilot.pause(0.3)
    assert storage.version == version
    assert storage["t_import#1"].status == "failed"


@run_async
async def test_a_write_by_another_process_appears(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot)
        tree = screen.session_tree
        tree.node_for(NodeRef("task", "t_fetch")).collapse()
        await pilot.pause()
        write_from_another_process(
            seeded.storage.url,
            "m.update_instance_status('t_survey#0', 'skipped', {'by': 'other'})",
        )
        await wait_until(
            pilot, lambda: screen.state.instances["t_survey#0"].status == "skipped"
        )
        # Selection and expansion stayed where they were.
        assert _cursor(app) == NodeRef("instance", "t_import#1")
        assert not tree.node_for(NodeRef("task", "t_fetch")).is_expanded
        assert screen.state.counts["failed"] == 1


@run_async
async def test_read_only_disables_every_action(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    version = storage.version
    app = TriggersApp(seeded.storage.url, UID, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot)
        for key in ("r", "s", "l", "f"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen, key
        commands = {c.title for c in screen.palette_commands()}
        assert not any(
            c.startswith(("Replay", "Skip", "Fire", "Logs")) for c in commands
        )
        assert any(c.startswith("Filter") for c in commands)
        assert "read-only" in _header(screen)
    assert storage.version == version


@run_async
async def test_replay_refused_when_another_operator_was_first(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(app, pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayModal))
        # Another operator replays the same instance meanwhile.
        other = TriggerManager(open_storage(seeded.storage.url, UID))
        other.replay_failed_instance("t_import#1", source="elsewhere")
        await pilot.press("ctrl+s")
        await wait_until(
            pilot,
            lambda: any(
                "t_import#1 is replayed now" in str(n.message)
                for n in app._notifications
            ),
        )
    names = {n for n in storage.instances if n.startswith("t_import#")}
    assert names == {"t_import#0", "t_import#1", "t_import#2"}
    history = storage["t_import#1"].metadata["history"]
    assert [e["source"] for e in history] == ["elsewhere"]


@run_async
async def test_marks_and_bulk_skip_say_how_many(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot)
        await pilot.press("space")  # t_import#1, the cursor moves on
        assert screen.session_tree.move_to(NodeRef("instance", "t_survey#0"))
        await pilot.press("space")
        assert screen.session_tree.marks == {"t_import#1", "t_survey#0"}
        assert "2 marked" in _header(screen)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SkipModal))
        assert str(app.screen.query_one("#submit").label) == "Skip 2"
        await pilot.press("ctrl+s")
        await wait_in_thread(
            lambda: (
                storage["t_import#1"].status == "skipped"
                and storage["t_survey#0"].status == "skipped"
            )
        )
        await wait_until(pilot, lambda: not screen.session_tree.marks)


@run_async
async def test_mark_logs_resolved(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot)
        assert screen.state.has_unresolved_logs("t_import#1")
        await pilot.press("l")
        await wait_in_thread(lambda: storage["t_import#1"].metadata.get("logsResolved"))
        entry = storage["t_import#1"].metadata["history"][-1]
        assert (entry["action"], entry["source"]) == ("resolve-logs", "dashboard")
        await wait_until(
            pilot, lambda: not screen.state.has_unresolved_logs("t_import#1")
        )


@run_async
async def test_fire_a_trigger_by_hand(
    seeded: TriggerManager, storage: SessionStorage
) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(app, pilot)
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"surveyP", "right")  # completes from the configuration
        assert app.screen.query_one("#trigger").value == "surveyPage"
        await pilot.press("enter")  # prefills the latest kwargs
        await pilot.pause()
        assert json.loads(app.screen.query_one(JsonEditor).text) == {"page": 2}
        _edit(app.screen.query_one(JsonEditor), '{"page": 3}')
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_in_thread(lambda: storage.instances.get("t_survey#2") is not None)
        assert storage["t_survey#2"].kwargs == {"surveyPage": {"page": 3}}
        await wait_until(
            pilot, lambda: _cursor(app) == NodeRef("instance", "t_survey#2")
        )


@run_async
async def test_filters_and_query(seeded: TriggerManager) -> None:
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot)
        tree = screen.session_tree
        await pilot.press("3")  # failed
        shown = {r.name for r in tree.shown if r.kind == "instance"}
        # The failed replay shows with the instance it replays.
        assert shown == {"t_import#0", "t_import#1", "t_survey#0"}
        await pilot.press("1", "slash", *"task:t_survey", "enter")
        shown = {r.name for r in tree.shown if r.kind == "instance"}
        assert shown == {"t_survey#0", "t_survey#1"}
        await pilot.press("slash", *"status:nope")
        await pilot.pause()
        assert "unknown status 'nope'" in str(
            screen.query_one("#filter-problem").render()
        )
        await pilot.press("escape")
        assert {r.name for r in tree.shown if r.kind == "instance"} == shown


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone (it gets killed), persisting every
    write to its append-only file so the session survives the kill."""
    server = RedisServer(
        tmp_path, extra_args=["--appendonly", "yes", "--appendfsync", "always"]
    ).start()
    yield server
    server.stop()


def _toasts(app: TriggersApp) -> str:
    return "\n".join(f"{n.title}: {n.message}" for n in app._notifications)


@run_async
async def test_a_dropped_redis_shows_the_banner_and_recovers(
    own_redis: RedisServer,
) -> None:
    url = f"{own_redis.url}?prefix=drop-{uuid.uuid4().hex[:8]}:"
    tui_workflow.seed(url, UID)
    storage = open_storage(url, UID)
    version = storage.version
    app = TriggersApp(url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot)
        banner = screen.query_one("#banner", Static)
        assert not banner.display
        # An operator has the replay modal open when the server dies.
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayModal))

        own_redis.kill()
        await wait_until(pilot, lambda: not screen.connected, timeout=60)
        assert banner.display
        assert "Connection to the store lost" in str(banner.render())
        assert "actions are disabled" in str(banner.render())
        assert "connection lost" in _header(screen)
        # Confirming the open modal is refused, and says why.
        await pilot.press("ctrl+s")
        await wait_until(
            pilot,
            lambda: "Could not replay t_import#1" in _toasts(app),
            timeout=60,
        )
        assert "the write was not applied" in _toasts(app)
        assert app.screen is screen
        # The last state stays readable: the tree, the cursor, the detail.
        tree = screen.session_tree
        assert tree.node_for(NodeRef("instance", "t_survey#0")) is not None
        assert screen.state.instances["t_import#1"].status == "failed"
        assert tree.move_to(NodeRef("instance", "t_survey#0"))
        await wait_until(
            pilot, lambda: screen.detail.ref == NodeRef("instance", "t_survey#0")
        )
        # Every writing action is disabled: no modal opens, nothing runs.
        for key in ("r", "s", "l", "f"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen, key
        commands = {c.title for c in screen.palette_commands()}
        assert not any(c.startswith(("Replay", "Skip", "Fire")) for c in commands)

        # The watcher keeps trying (and failing): the banner shows its third
        # delay, so the outage spans several failed reconnects.
        await wait_until(
            pilot, lambda: "retrying in 2s" in str(banner.render()), timeout=60
        )
        assert not screen.connected
        # The server comes back on the same port, with its data.
        own_redis.start()
        await wait_until(pilot, lambda: screen.connected, timeout=60)
        await wait_until(pilot, lambda: not banner.display)
        assert "● live" in _header(screen)
        assert await asyncio.to_thread(lambda: storage.version) == version
        # The feed is followed again: a write by another process shows.
        write_from_another_process(
            url, "m.update_instance_status('t_survey#0', 'skipped', {'by': 'other'})"
        )
        await wait_until(
            pilot,
            lambda: screen.state.instances["t_survey#0"].status == "skipped",
            timeout=30,
        )
        # The detail pane, still on t_survey#0, follows the write.
        await wait_until(
            pilot,
            lambda: "skipped" in str(screen.query_one("#summary-body").render()),
        )
        # Actions work again.
        assert screen.session_tree.move_to(NodeRef("instance", "t_import#1"))
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayModal))
        await pilot.press("escape")
    assert ThreadingTaskRunner.join_all(timeout=60), "task threads still running"


@run_async
async def test_a_redis_that_stops_answering_shows_the_banner(
    own_redis: RedisServer,
) -> None:
    # A frozen server keeps its connections open: every call waits for its
    # socket timeout (10 s, retried: about 40 s), and the banner must not.
    url = f"{own_redis.url}?prefix=frozen-{uuid.uuid4().hex[:8]}:"
    tui_workflow.seed(url, UID)
    app = TriggersApp(url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open(app, pilot)
        banner = screen.query_one("#banner", Static)
        own_redis.freeze()
        try:
            await wait_until(pilot, lambda: not screen.connected, timeout=60)
            assert "the store has not answered for" in str(banner.render())
            assert "connection lost" in _header(screen)
            assert screen.session_tree.node_for(NodeRef("instance", "t_survey#0"))
            await pilot.press("r")
            await pilot.pause()
            assert app.screen is screen
        finally:
            own_redis.thaw()
        await wait_until(pilot, lambda: screen.connected, timeout=60)
        assert not banner.display
        write_from_another_process(
            url, "m.update_instance_status('t_survey#0', 'skipped', {'by': 'other'})"
        )
        await wait_until(
            pilot,
            lambda: screen.state.instances["t_survey#0"].status == "skipped",
            timeout=30,
        )
