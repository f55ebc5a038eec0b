"""`TriggersApp`: opens the session picker or one session."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from .screens import PickerScreen, SessionScreen

logger = logging.getLogger(__name__)


class TriggersApp(App[None]):
    """The dashboard: a session picker, and a screen per opened session.

    ``store_url`` may hold a password; only its redacted form is shown or
    logged. With ``read_only`` every action that writes is disabled.
    ``runner`` names the task runner that runs replays and cascades started
    from the dashboard (tasks with a ``using`` directive keep theirs).
    """

    # Absolute, so subclasses defined elsewhere (benchmarks, tests) find it.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "triggers"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        store_url: str,
        session: str | None = None,
        *,
        read_only: bool = False,
        runner: str = "threading",
    ) -> None:
        super().__init__()
        self.store_url = store_url
        self.session = session
        self.read_only = read_only
        self.runner = runner

    def on_mount(self) -> None:
        if self.session is None:
            self.push_screen(PickerScreen(self.store_url))
        else:
            self.open_session(self.session)

    def open_session(self, uid: str) -> None:
        """Show session ``uid`` above whatever is on screen."""
        logger.info("opening session %s", uid)
        self.push_screen(
            SessionScreen(
                self.store_url, uid, read_only=self.read_only, runner=self.runner
            )
        )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        if isinstance(screen, SessionScreen):
            yield from screen.palette_commands()
        yield from super().get_system_commands(screen)
