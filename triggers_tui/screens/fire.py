"""`FireModal`: fire a trigger by hand, its name completed from the tasks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.markup import escape
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

from ..formatting import to_json
from ..widgets.json_editor import JsonEditor
from .form import FormScreen


@dataclass(frozen=True)
class FireRequest:
    """Fire ``trigger`` with ``kwargs``."""

    trigger: str
    kwargs: dict[str, Any]


class FireModal(FormScreen[FireRequest]):
    """Trigger name (completed with → from the configuration), kwargs, and the
    tasks that listen to that trigger."""

    ASK_REASON = False

    def __init__(
        self,
        triggers: Sequence[str],
        listeners: Mapping[str, list[str]],
        latest_kwargs: Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.triggers = list(triggers)
        self.listeners = listeners
        self.latest_kwargs = latest_kwargs

    def heading(self) -> str:
        return "Fire a trigger"

    def submit_label(self) -> str:
        return "Fire"

    def compose_form(self) -> ComposeResult:
        yield Label("Trigger:")
        yield Input(
            placeholder="trigger name (→ completes)",
            suggester=SuggestFromList(self.triggers, case_sensitive=True),
            id="trigger",
            compact=True,
        )
        yield Static(id="listeners", classes="dialog-note")
        yield Label("Kwargs (a JSON object):")
        yield JsonEditor({}, id="kwargs")

    @property
    def trigger(self) -> str:
        return self.query_one("#trigger", Input).value.strip()

    def problem(self) -> str | None:
        if not self.trigger:
            return "type the name of the trigger to fire"
        editor = self.query_one(JsonEditor)
        if editor.problem is not None:
            return "the kwargs above are not a valid JSON object"
        return None

    def build_result(self) -> FireRequest:
        return FireRequest(self.trigger, dict(self.query_one(JsonEditor).value))

    @on(Input.Changed, "#trigger")
    def _trigger_changed(self) -> None:
        trigger = self.trigger
        listeners = self.listeners.get(trigger, [])
        note = self.query_one("#listeners", Static)
        if not trigger:
            note.update(f"{len(self.triggers)} known triggers")
        elif listeners:
            note.update(
                Content.from_markup(
                    "tasks listening: $names", names=", ".join(listeners)
                )
            )
        else:
            note.update(
                Content.from_markup(
                    f"[$warning]no task listens to {escape(trigger)}[/]"
                )
            )
        self.refresh_problem()

    @on(Input.Submitted, "#trigger")
    def _trigger_submitted(self) -> None:
        editor = self.query_one(JsonEditor)
        # Start from the trigger's latest kwargs: firing again usually
        # means "the same, with one thing changed".
        if not editor.edited and self.trigger in self.latest_kwargs:
            editor.text = to_json(self.latest_kwargs[self.trigger])
        editor.query_one("TextArea").focus()

    @on(JsonEditor.Validated)
    def _kwargs_changed(self) -> None:
        self.refresh_problem()
