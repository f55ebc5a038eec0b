"""`SessionHeader`: which session, which store, connection, counts."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.markup import escape
from textual.widgets import Static

from triggers_core.status import UNRESOLVED

from .. import statuses


class SessionHeader(Static):
    """Two short lines: identity and connection, then the status counts."""

    _shown = ""

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
        first = f"[b]{escape(uid)}[/b] · {escape(store)} · " + " · ".join(flags)
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
            self.update(Content.from_markup(markup))
