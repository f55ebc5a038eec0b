"""`SkipModal`: skip one or several failed instances, with or without cascade."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.markup import escape
from textual.widgets import Checkbox, Label, Static

from ..state import Dependent
from ..widgets.json_editor import JsonEditor
from .form import FormScreen


@dataclass(frozen=True)
class SkipRequest:
    """Skip ``instances``; with ``cascade``, fire each task with ``result``."""

    instances: tuple[str, ...]
    cascade: bool
    result: dict[str, Any]
    reason: str | None


class SkipModal(FormScreen[SkipRequest]):
    """A cascade switch, a JSON editor for the simulated result, and the tasks
    that wait on the skipped instances' tasks (those that would run with the
    cascade, and what the others still wait for). With several instances the
    heading and button say how many.
    """

    def __init__(
        self,
        instances: Sequence[str],
        dependents: Mapping[str, list[Dependent]],
        not_failed: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.instances = tuple(instances)
        self.dependents = dependents
        self.not_failed = tuple(not_failed)

    def heading(self) -> str:
        if len(self.instances) == 1:
            return f"Skip {self.instances[0]}"
        return f"Skip {len(self.instances)} instances"

    def submit_label(self) -> str:
        return "Skip" if len(self.instances) == 1 else f"Skip {len(self.instances)}"

    def compose_form(self) -> ComposeResult:
        if len(self.instances) > 1 or self.not_failed:
            lines = [f"✗ {name}" for name in self.instances]
            if self.not_failed:
                lines.append(f"left out, not failed: {', '.join(self.not_failed)}")
            with VerticalScroll(classes="dialog-list"):
                yield Static("\n".join(lines))
        yield Checkbox(
            "Cascade: fire the task's name with the result, as if it finished",
            id="cascade",
        )
        yield Static(id="dependents", classes="dialog-note")
        yield Label("Result (the kwargs of the cascade):")
        yield JsonEditor({}, id="result")

    def on_mount(self) -> None:
        super().on_mount()
        self._show_dependents()

    @property
    def cascade(self) -> bool:
        return self.query_one("#cascade", Checkbox).value

    def _show_dependents(self) -> None:
        lines = []
        for task, dependents in self.dependents.items():
            if not dependents:
                lines.append(f"no task waits for {escape(task)}")
                continue
            for dependent in dependents:
                if not self.cascade:
                    lines.append(f"{escape(dependent.name)}: will not run (no cascade)")
                elif dependent.would_run:
                    lines.append(f"[$success]▶ {escape(dependent.name)}: would run[/]")
                else:
                    lines.append(
                        f"{escape(dependent.name)}: would still wait for "
                        f"{escape(', '.join(dependent.missing))}"
                    )
        self.query_one("#dependents", Static).update(
            Content.from_markup("\n".join(lines))
        )

    def problem(self) -> str | None:
        editor = self.query_one(JsonEditor)
        if editor.problem is not None:
            return "the result above is not a valid JSON object"
        if not self.instances:
            return "none of the marked instances is failed"
        return None

    def build_result(self) -> SkipRequest:
        result = self.query_one(JsonEditor).value
        return SkipRequest(self.instances, self.cascade, dict(result), self.reason)

    @on(Checkbox.Changed, "#cascade")
    def _cascade_changed(self) -> None:
        self._show_dependents()

    @on(JsonEditor.Validated)
    def _result_changed(self) -> None:
        self.refresh_problem()
