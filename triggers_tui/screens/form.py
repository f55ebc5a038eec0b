"""`FormScreen`: the frame shared by the action forms.

Each form is a modal screen typed by what it returns: a request dataclass
when the operator confirms, None when they cancel. A form cannot be
confirmed while `problem` returns a reason; the submit button is disabled
and the reason is shown.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

ResultT = TypeVar("ResultT")


class FormScreen(ModalScreen[ResultT | None]):
    """A dialog with a heading, form fields, an optional reason and buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Confirm"),
    ]

    #: Whether the form asks for a reason (kept in the instance's history).
    ASK_REASON: ClassVar[bool] = True

    def heading(self) -> str:
        raise NotImplementedError

    def submit_label(self) -> str:
        return "Confirm"

    def compose_form(self) -> ComposeResult:
        """The fields between the heading and the reason."""
        yield from ()

    def problem(self) -> str | None:
        """Why the form cannot be confirmed now, or None."""
        return None

    def build_result(self) -> ResultT:
        """The request to return; called only when `problem` is None."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.heading(), classes="dialog-title")
            yield from self.compose_form()
            if self.ASK_REASON:
                yield Input(
                    placeholder="Reason (optional, kept in the history)",
                    id="reason",
                    compact=True,
                )
            yield Static(id="form-problem")
            with Horizontal(classes="buttons"):
                yield Button(self.submit_label(), variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.refresh_problem()

    @property
    def reason(self) -> str | None:
        if not self.ASK_REASON:
            return None
        return self.query_one("#reason", Input).value.strip() or None

    def refresh_problem(self) -> None:
        """Show the current problem (if any) and enable or disable submit."""
        problem = self.problem()
        shown = self.query_one("#form-problem", Static)
        shown.update(
            Content.from_markup("[$error]✗ $text[/]", text=problem) if problem else ""
        )
        shown.display = problem is not None
        self.query_one("#submit", Button).disabled = problem is not None

    def action_submit(self) -> None:
        self.refresh_problem()
        if self.problem() is not None:
            self.app.bell()
            return
        self.dismiss(self.build_result())

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted, "#reason")
    def _reason_submitted(self) -> None:
        self.action_submit()
