"""`PickerScreen`: the sessions of a store, newest first, filtered by typing."""

from __future__ import annotations

import logging
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from triggers_core import SessionSummary, StorageError, open_store
from triggers_core.storage import redact

from ..formatting import format_time
from ..messages import SessionsListed

logger = logging.getLogger(__name__)


class PickerScreen(Screen[None]):
    """Type to filter; up and down choose; enter opens the session."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", priority=True),
        Binding("up", "move(-1)", "Up", show=False, priority=True),
        Binding("down", "move(1)", "Down", show=False, priority=True),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("escape", "app.quit", "Quit"),
    ]

    def __init__(self, store_url: str) -> None:
        super().__init__()
        self.store_url = store_url
        self.sessions: list[SessionSummary] = []

    def compose(self) -> ComposeResult:
        yield Static(
            Content.from_markup(
                "[b]Sessions[/b] in $store (newest first)", store=redact(self.store_url)
            ),
            id="picker-title",
        )
        yield Input(placeholder="type to filter sessions", id="picker-filter")
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static(id="picker-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("session", key="uid")
        table.add_column("failed", key="failed")
        table.add_column("unresolved", key="unresolved")
        table.add_column("instances", key="instances")
        table.add_column("tasks", key="tasks")
        table.add_column("updated", key="updated")
        self.query_one("#picker-filter").focus()
        self.action_reload()

    # Known limit: the list is read on open, on return from a session and on
    # ctrl+r; it does not follow new sessions live.
    def on_screen_resume(self) -> None:
        if self.sessions:
            self.action_reload()

    def action_reload(self) -> None:
        self.query_one("#picker-status", Static).update("reading the store…")
        self._list_sessions()

    @work(thread=True, group="picker", exclusive=True, exit_on_error=False)
    def _list_sessions(self) -> None:
        try:
            store = open_store(self.store_url)
            sessions = store.list_sessions()
        except (StorageError, ValueError) as exc:
            logger.warning("cannot list sessions: %s", exc)
            self.post_message(
                SessionsListed(
                    [], redact(self.store_url), f"cannot list sessions: {exc}"
                )
            )
            return
        self.post_message(SessionsListed(sessions, store.display_url))

    def on_sessions_listed(self, message: SessionsListed) -> None:
        status = self.query_one("#picker-status", Static)
        if message.error is not None:
            status.update(Content.from_markup("[$error]✗ $text[/]", text=message.error))
            return
        self.sessions = message.sessions
        self.refill()

    @on(Input.Changed, "#picker-filter")
    def _filter_changed(self) -> None:
        self.refill()

    def refill(self) -> None:
        """Show `sessions` again, filtered by what was typed."""
        table = self.query_one(DataTable)
        selected = self.selected_uid
        words = self.query_one("#picker-filter", Input).value.lower().split()
        table.clear()
        for summary in self.sessions:
            if all(word in summary.uid.lower() for word in words):
                table.add_row(
                    summary.uid,
                    Content.from_markup(f"[$error]✗ {summary.failed_count}[/]")
                    if summary.failed_count
                    else "0",
                    str(summary.unresolved_count),
                    str(summary.instance_count),
                    str(summary.task_count),
                    format_time(summary.updated, compact=True),
                    key=summary.uid,
                )
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        shown = table.row_count
        self.query_one("#picker-status", Static).update(
            f"{shown} of {len(self.sessions)} sessions"
            + ("" if shown else " (no session matches)")
        )

    @property
    def selected_uid(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    def action_move(self, step: int) -> None:
        table = self.query_one(DataTable)
        if step < 0:
            table.action_cursor_up()
        else:
            table.action_cursor_down()

    def action_open(self) -> None:
        uid = self.selected_uid
        if uid is None:
            self.app.bell()
            return
        self.app.open_session(uid)  # type: ignore[attr-defined]
