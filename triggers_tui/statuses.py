"""How a status reads on screen: a symbol, a word and a style class.

The symbol and the word carry the meaning, so the dashboard reads without
colour (``NO_COLOR``, monochrome terminals, screen readers); the style
class adds the colour from the theme.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.markup import escape

from triggers_core import Status

#: One cell wide in every common terminal font.
SYMBOLS: Mapping[str, str] = {
    Status.UNSTARTED: "○",
    Status.SCHEDULED: "◔",
    Status.RUNNING: "▶",
    Status.FAILED: "✗",
    Status.FINISHED: "✓",
    Status.REPLAYED: "↻",
    Status.SKIPPED: "»",
    Status.ABANDONED: "⊘",
}

#: Display order: what needs an operator first.
ORDER: tuple[Status, ...] = (
    Status.FAILED,
    Status.RUNNING,
    Status.SCHEDULED,
    Status.UNSTARTED,
    Status.FINISHED,
    Status.REPLAYED,
    Status.SKIPPED,
    Status.ABANDONED,
)

#: Theme variable that colours each status (used by the CSS and markup).
THEME_VARIABLES: Mapping[str, str] = {
    Status.UNSTARTED: "$text-muted",
    Status.SCHEDULED: "$warning",
    Status.RUNNING: "$accent",
    Status.FAILED: "$error",
    Status.FINISHED: "$success",
    Status.REPLAYED: "$secondary",
    Status.SKIPPED: "$text-muted",
    Status.ABANDONED: "$text-disabled",
}


def symbol(status: str) -> str:
    """The one-cell symbol of ``status`` (``?`` for an unknown one)."""
    return SYMBOLS.get(status, "?")


def style_class(status: str) -> str:
    """The component class that colours ``status`` in the tree."""
    return f"status--{status}"


def markup(status: str, text: str | None = None, *, tight: bool = False) -> str:
    """Content markup for ``status``: coloured symbol and word (or ``text``).

    ``tight`` drops the space after the symbol, for crowded lines.
    """
    variable = THEME_VARIABLES.get(status, "$foreground")
    shown = status if text is None else escape(text)
    space = "" if tight else " "
    return f"[{variable}]{symbol(status)}{space}{shown}[/]"


def worst(statuses: Iterable[str]) -> str | None:
    """The status that needs attention first, or None for no statuses."""
    present = set(statuses)
    for status in ORDER:
        if status in present:
            return status
    return None
