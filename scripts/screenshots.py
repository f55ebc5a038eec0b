"""Make the SVG screenshots in ``screenshots/`` from the demo session.

The demo is seeded by ``tests/tui/snapshot_demo.py`` (fixed order, times and
paths), so the pictures only change when the dashboard does. Run from the
repository root: ``python scripts/screenshots.py``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "screenshots"
UID = "demo-20240506"


async def shoot(
    url: str,
    name: str,
    steps: Callable[..., Awaitable[None]],
    size: tuple[int, int] = (100, 30),
) -> None:
    from textual.widgets import TextArea

    from triggers_tui.app import TriggersApp
    from triggers_tui.screens import SessionScreen
    from triggers_tui.widgets import JsonEditor

    app = TriggersApp(url, UID)
    async with app.run_test(size=size) as pilot:
        while not isinstance(app.screen, SessionScreen) or not app.screen.state.loaded:
            await pilot.pause(0.05)
        await pilot.pause(0.2)

        def edit(text: str) -> None:
            area = app.screen.query_one(JsonEditor).query_one(TextArea)
            area.clear()
            area.insert(text)

        await steps(pilot, app.screen, edit)
        await pilot.pause(0.3)
        svg = app.export_screenshot(title=f"triggers-tui: {name}")
    (OUT / f"{name}.svg").write_text(svg, encoding="utf-8")
    print(f"wrote screenshots/{name}.svg")


async def session(pilot, screen, edit) -> None:  # type: ignore[no-untyped-def]
    pass


async def traceback(pilot, screen, edit) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("z")
    screen.detail.scroll_to_widget(
        screen.detail.query_one("#error-heading"), top=True, animate=False
    )


async def replay(pilot, screen, edit) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("r")
    await pilot.pause()
    edit('{\n  "t_importResponses": {"answers": 3, "page": 1}\n}')


async def skip(pilot, screen, edit) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("s")
    await pilot.pause()
    await pilot.click("#cascade")


async def failed(pilot, screen, edit) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("3")


async def help_(pilot, screen, edit) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("question_mark")


def main() -> int:
    OUT.mkdir(exist_ok=True)
    os.environ["TZ"] = "UTC"
    time.tzset()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        url = "sqlite://demo.db"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "tests" / "tui" / "snapshot_demo.py"),
                url,
                UID,
            ],
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for name, steps, size in [
            ("session", session, (100, 30)),
            ("session-80x24", session, (80, 24)),
            ("traceback", traceback, (100, 30)),
            ("replay", replay, (100, 30)),
            ("skip", skip, (100, 30)),
            ("failed-view", failed, (100, 30)),
            ("keys", help_, (100, 30)),
        ]:
            asyncio.run(shoot(url, name, steps, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
