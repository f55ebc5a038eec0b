"""The session screen's keys, as data.

One table drives the bindings (and so the footer), the command palette and
the help screen, so the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    """A key, the screen action it runs, and how it is described."""

    key: str
    action: str
    label: str
    """Short, for the footer."""
    help: str
    """One sentence, for the help screen and the command palette."""
    show: bool = True
    writes: bool = False
    """Whether it writes to the store (disabled read-only or offline)."""
    display: str | None = None

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.label,
            show=self.show,
            key_display=self.display,
            tooltip=self.help,
        )

    @property
    def shown_key(self) -> str:
        return self.display or self.key


SESSION_KEYS: tuple[Key, ...] = (
    Key(
        "r",
        "replay",
        "Replay",
        "Replay the failed instance under the cursor, or the marked ones",
        writes=True,
    ),
    Key(
        "s",
        "skip",
        "Skip",
        "Skip the failed instance under the cursor, or the marked ones",
        writes=True,
    ),
    Key(
        "l",
        "resolve_logs",
        "Logs",
        "Mark the error logs of the instance under the cursor resolved",
        writes=True,
    ),
    Key("f", "fire", "Fire", "Fire a trigger by hand", writes=True),
    Key(
        "slash",
        "filter",
        "Filter",
        "Filter with a query: words, status:, task:, kwargs:k=v, error:",
        display="/",
    ),
    Key(
        "v",
        "cycle_view",
        "View",
        "Show all, unresolved, failed or retrying instances, in turn",
    ),
    Key("1", "view('all')", "All", "Show every task and instance", show=False),
    Key(
        "2",
        "view('unresolved')",
        "Unresolved",
        "Show only what is still open",
        show=False,
    ),
    Key("3", "view('failed')", "Failed", "Show only failed instances", show=False),
    Key(
        "4",
        "view('retrying')",
        "Retrying",
        "Show replays still in progress or failing again",
        show=False,
    ),
    Key("U", "clear_marks", "Unmark all", "Remove every mark", show=False),
    Key(
        "z",
        "zoom",
        "Zoom",
        "Show the detail pane alone (z or escape again to come back)",
        show=False,
    ),
    Key("question_mark", "help", "Keys", "Show every key", display="?"),
    Key("q", "close", "Quit", "Leave this session"),
)

#: Keys of other widgets, listed on the help screen too.
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("space", "Mark or unmark the instance under the cursor (then move down)"),
    ("up / down", "Move the cursor"),
    ("right / left", "Expand / collapse a node (left again: go to its parent)"),
    ("enter", "Expand or collapse a task"),
    ("tab", "Move between the tree and the detail pane"),
    ("ctrl+p", "Command palette: every action by name"),
    ("escape", "Close a form, the filter or this help"),
    ("ctrl+s", "Confirm a form"),
)
