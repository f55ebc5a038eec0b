"""`SessionHeader`: which session, which store, connection, counts."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.markup import escape
from textual.widgets import Static

from .. import statuses


class SessionHeader(Static):
    """Two short lines: identity and connection, then the status counts."""

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
        tally = " ".join(
            statuses.markup(s, f"{counts[s]} {s}", tight=True)
            for s in statuses.ORDER
            if counts.get(s)
        )
        second = [tally or "no instances"]
        if marks:
            second.append(f"[$accent]● {marks} marked[/]")
        if view:
            second.append(f"[$text-muted]view: {escape(view)}[/]")
        self.update(Content.from_markup(first + "\n" + " │ ".join(second)))
