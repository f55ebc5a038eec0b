"""`HelpScreen`: every key of the session screen, from the key table."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..keys import OTHER_KEYS, SESSION_KEYS


class HelpScreen(ModalScreen[None]):
    """A scrollable list of keys; any of escape, ? or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        rows = [(key.shown_key, key.help) for key in SESSION_KEYS]
        rows.extend(OTHER_KEYS)
        width = max(len(k) for k, _ in rows)
        text = Content("\n").join(
            Content.from_markup("[b $accent]$key[/] $help", key=k.ljust(width), help=h)
            for k, h in rows
        )
        with VerticalScroll(classes="dialog help"):
            yield Label("Keys", classes="dialog-title")
            yield Static(text)
            yield Static(
                Content.from_markup(
                    "[$text-muted]Status: ✗ failed ▶ running ◔ scheduled ○ unstarted "
                    "✓ finished ↻ replayed » skipped ⊘ abandoned; "
                    "! unresolved error logs; ● marked[/]"
                )
            )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
