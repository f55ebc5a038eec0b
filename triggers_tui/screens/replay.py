"""`ReplayModal`: replay one failed instance, with its kwargs or edited ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Button, Label, RadioButton, RadioSet, Static

from triggers_core import TaskInstance

from ..widgets.json_editor import JsonEditor, check_object_of_objects
from .form import FormScreen


@dataclass(frozen=True)
class ReplayRequest:
    """Replay ``instance``; ``kwargs`` None keeps the original kwargs."""

    instance: str
    kwargs: dict[str, Any] | None
    reason: str | None


class ReplayModal(FormScreen[ReplayRequest]):
    """Shows the failure, a JSON editor prefilled with the kwargs, and a
    choice between the original kwargs and the edited ones. Editing the text
    selects "edited"; invalid edited kwargs cannot be confirmed.
    """

    def __init__(self, instance: TaskInstance) -> None:
        super().__init__()
        self.instance = instance

    def heading(self) -> str:
        return f"Replay {self.instance.name}"

    def submit_label(self) -> str:
        return "Replay"

    def compose_form(self) -> ComposeResult:
        metadata = self.instance.metadata
        if metadata.get("exceptionType"):
            yield Static(
                Content.from_markup(
                    "[$error]✗ $type[/]: $message",
                    type=str(metadata["exceptionType"]),
                    message=str(metadata.get("exceptionMessage", "")),
                ),
                classes="dialog-note",
            )
        with RadioSet(id="choice"):
            yield RadioButton("original kwargs", value=True, id="original")
            yield RadioButton("edited kwargs", id="edited")
        yield Label("Kwargs of the new instance (trigger name -> kwargs):")
        yield JsonEditor(
            self.instance.kwargs, check=check_object_of_objects, id="kwargs"
        )

    @property
    def use_edited(self) -> bool:
        return self.query_one("#edited", RadioButton).value

    def problem(self) -> str | None:
        editor = self.query_one(JsonEditor)
        if self.use_edited and editor.problem is not None:
            return "the edited kwargs above are not valid JSON kwargs"
        return None

    def build_result(self) -> ReplayRequest:
        kwargs = self.query_one(JsonEditor).value if self.use_edited else None
        return ReplayRequest(self.instance.name, kwargs, self.reason)

    @on(JsonEditor.Validated)
    def _kwargs_changed(self, event: JsonEditor.Validated) -> None:
        if event.editor.edited and not self.use_edited:
            self.query_one("#edited", RadioButton).value = True
        self.refresh_problem()

    @on(RadioSet.Changed)
    def _choice_changed(self) -> None:
        self.refresh_problem()

    def refresh_problem(self) -> None:
        super().refresh_problem()
        # The radio buttons differ only by colour; the button says it in words.
        which = "edited" if self.use_edited else "original"
        self.query_one("#submit", Button).label = f"Replay ({which} kwargs)"
