"""triggers_tui: the operator's dashboard for triggers sessions, built on Textual.

Run ``triggers-tui [SESSION]`` (see `triggers_tui.cli`). The dashboard reads
and repairs sessions through `triggers_core`'s public API only: the engine
imports and works without this package.
"""

from __future__ import annotations

__all__ = ["TriggersApp"]


def __getattr__(name: str) -> object:
    # Importing the package must stay cheap (the CLI reports bad arguments
    # before Textual loads), so the app is imported on first use.
    if name == "TriggersApp":
        from .app import TriggersApp

        return TriggersApp
    raise AttributeError(name)
