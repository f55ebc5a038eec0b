"""The filter language and the dashboard's state, on a real seeded session."""

from __future__ import annotations

import asyncio

import pytest
from conftest import UID, run_async, wait_until

from triggers_core import SessionStorage, TriggerManager
from triggers_tui.app import TriggersApp
from triggers_tui.query import QueryError, parse_query
from triggers_tui.screens import SessionScreen
from triggers_tui.state import FilterMode, SessionState
from triggers_tui.widgets import NodeRef, session_tree


def _state(storage: SessionStorage) -> SessionState:
    state = SessionState()
    version = storage.version
    state.load(version, *storage.snapshot())
    return state


def _names(state: SessionState, mode: FilterMode, text: str) -> set[str]:
    query = parse_query(text)
    return {
        n for n, i in state.instances.items() if state.instance_matches(i, mode, query)
    }


def test_query_terms(storage: SessionStorage) -> None:
    state = _state(storage)
    everything = FilterMode.ALL
    assert _names(state, everything, "status:failed") == {"t_import#1", "t_survey#0"}
    assert _names(state, everything, "task:t_surv*") == {"t_survey#0", "t_survey#1"}
    assert _names(state, everything, "kwargs:page=2") == {"t_survey#1"}
    assert _names(state, everything, "kwargs:surveyPage.page=1") == {"t_survey#0"}
    assert _names(state, everything, "error:timed -task:t_survey") == {
        "t_import#0",
        "t_import#1",
    }
    assert _names(state, everything, "fetch") == {"t_fetch#0"}
    assert _names(state, FilterMode.RETRYING, "") == {"t_import#1"}
    assert _names(state, FilterMode.UNRESOLVED, "") == {"t_import#1", "t_survey#0"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour:red", "unknown field 'colour'"),
        ("status:broken", "unknown status 'broken'"),
        ("task:", "needs a value"),
        ('error:"unclosed', "cannot split"),
    ],
)
def test_query_errors(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text)


def test_dependents_and_waiting(storage: SessionStorage) -> None:
    state = _state(storage)
    dependents = {d.name: d.missing for d in state.dependents_of("t_import")}
    assert dependents == {"t_notify": (), "t_report": ("reviewDone",)}
    assert state.waiting_for("t_report") == ("t_import", "reviewDone")
    assert state.counts["failed"] == 2


@run_async
async def test_big_tasks_start_collapsed_and_fill_on_expand(
    seeded: TriggerManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_tree, "EXPAND_LIMIT", 1)
    app = TriggersApp(seeded.storage.url, UID)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SessionScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.state.loaded)
        tree = screen.session_tree
        # t_survey has two instances: collapsed, and its nodes not made yet.
        assert NodeRef("instance", "t_survey#1") not in set(tree.shown)
        task = tree.node_for(NodeRef("task", "t_survey"))
        assert task is not None and not task.is_expanded
        task.expand()
        await wait_until(
            pilot, lambda: NodeRef("instance", "t_survey#1") in set(tree.shown)
        )
        await asyncio.sleep(0)
