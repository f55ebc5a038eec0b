"""`SessionHeader`: which session, which store, connection, counts."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.widgets import Static

from triggers_core.status import UNRESOLVED

from .. import statuses


class SessionHeader(Vertical):
    """Two short lines: identity and connection, then the status counts.

    The first line never wraps (a long store URL is cut, last); the second
    wraps on narrow terminals.
    """

    _shown = ""

    def compose(self) -> ComposeResult:
        yield Static(id="identity")
        yield Static(id="counts")

    def show(
        self,
        *,
        uid: str,
        store: str,
        connection: str,
        counts: Mapping[str, int],
        marks: int = 0,
        view: str = "",
        read_only: bool = False,
    ) -> None:
        """Draw the header from these values (all already safe to show)."""
        flags = [connection]
        if read_only:
            flags.append("[$warning]read-only[/]")
        first = f"[b]{escape(uid)}[/b] · " + " · ".join(flags) + f" · {escape(store)}"
        # Words for what needs attention, symbols only for what is resolved
        # (the legend is on the help screen), so the line fits 80 columns.
        open_ = [
            statuses.markup(s, f"{counts[s]} {s}", tight=True)
            for s in statuses.ORDER
            if counts.get(s) and s in UNRESOLVED
        ]
        resolved = [
            statuses.markup(s, str(counts[s]), tight=True)
            for s in statuses.ORDER
            if counts.get(s) and s not in UNRESOLVED
        ]
        tally = " ".join(open_)
        if resolved:
            tally = f"{tally} │ {' '.join(resolved)}" if tally else " ".join(resolved)
        second = [tally or "no instances"]
        if marks:
            second.append(f"[$accent]● {marks} marked[/]")
        if view:
            second.append(f"[$text-muted]view: {escape(view)}[/]")
        markup = first + "\n" + " │ ".join(second)
        if markup != self._shown:
            # Every write changes a count: skip the relayout when nothing did.
            self._shown = markup
            self.query_one("#identity", Static).update(Content.from_markup(first))
            self.query_one("#counts", Static).update(
                Content.from_markup(" │ ".join(second))
            )
