"""The dashboard's speed, headless (Textual's Pilot), on a real SQLite store.

Three figures, printed as a table:

1. **open**: from creating the app to the first full render of a session of
   10,000 instances (ten tasks, a tenth of the instances failed, the rest
   unstarted), and how long the watcher's snapshot read took within that;
2. **busy**: while another process makes 50 writes a second (each fire adds
   an instance), how late the UI's event loop runs a 20 ms timer (p50, p99,
   max) and how long a key press (cursor down) takes to be handled;
3. **latency**: from another process's write (it stamps ``time.time()`` into
   the trigger kwargs, then fires) to the end of the screen refresh that
   shows the new instance; median and p90 over the samples.

The 10,000-instance store is built once (about a minute) and kept in the
temporary directory for later runs.

Usage: ``python benchmarks/tui.py [--instances N] [--samples N] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from triggers_core import TriggerManager, open_storage

UID = "bench-tui"
TASKS = 10


def seed(url: str, instances: int) -> None:
    """``instances`` instances over ``TASKS`` tasks; one in ten failed."""
    storage = open_storage(url, UID)
    if len(storage.instances) >= instances:
        return
    manager = TriggerManager(storage, default_runner="inline")
    configuration: dict[str, Any] = {
        f"t_wait{k}": {
            "after": [f"tick{k}", "never"],
            "andEvery": f"tick{k}",
            "run": "triggers_core.testing.DevNullTask",
        }
        for k in range(TASKS - 1)
    }
    configuration["t_fail"] = {
        "after": ["boom"],
        "andEvery": "boom",
        "run": "triggers_core.testing.FailingTask",
    }
    configuration["t_live"] = {
        "after": ["live", "never"],
        "andEvery": "live",
        "run": "triggers_core.testing.DevNullTask",
    }
    manager.update_configuration(configuration)
    started = time.perf_counter()
    for n in range(instances):
        if n % 10 == 0:
            manager.fire("boom", {"n": n})
        else:
            manager.fire(f"tick{n % (TASKS - 1)}", {"n": n})
        if n % 1000 == 999:
            print(f"  seeded {n + 1} instances", file=sys.stderr)
    print(f"seeded in {time.perf_counter() - started:.0f}s", file=sys.stderr)


WRITER = """
import sys, time
from triggers_core import TriggerManager, open_storage
url, uid, rate, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
manager = TriggerManager(open_storage(url, uid))
start = time.monotonic()
for n in range(count):
    delay = start + n / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    manager.fire("live", {"sent": time.time(), "n": n})
"""


def writer(url: str, rate: float, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, UID, str(rate), str(count)]
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, samples: int) -> dict[str, Any]:
    from textual import events

    from triggers_tui.app import TriggersApp
    from triggers_tui.screens import SessionScreen

    latencies: list[float] = []

    class BenchApp(TriggersApp):
        def on_session_screen_updated(self, message: SessionScreen.Updated) -> None:
            screen = self.screen
            if not isinstance(screen, SessionScreen):
                return
            sent = [
                screen.state.instances[n].kwargs.get("live", {}).get("sent")
                for n in message.delta.new_instances
            ]
            stamps = [s for s in sent if isinstance(s, float)]
            if stamps:
                screen.call_after_refresh(
                    lambda: latencies.extend(time.time() - s for s in stamps)
                )

    figures: dict[str, Any] = {}
    started = time.perf_counter()
    app = BenchApp(url, UID)
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, SessionScreen) or not app.screen.state.loaded:
            await asyncio.sleep(0.005)
        screen = app.screen
        await pilot.pause()
        figures["open"] = time.perf_counter() - started
        figures["instances"] = len(screen.state.instances)

        # Busy: 50 writes a second for 6 seconds.
        lags: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            lags.append(now - last[0] - 0.02)
            last[0] = now

        timer = app.set_interval(0.02, tick)
        keys: list[float] = []
        process = writer(url, 50, 300)
        tree = screen.session_tree
        key = "down"
        while process.poll() is None:
            # As a terminal would: a key event arrives; time until the cursor
            # moved (pilot.press also waits for the app to go idle).
            line = tree.cursor_line
            before = time.perf_counter()
            app.post_message(events.Key(key, None))
            while tree.cursor_line == line and time.perf_counter() - before < 5:
                await asyncio.sleep(0.001)
            keys.append(time.perf_counter() - before)
            key = "up" if key == "down" else "down"
            await asyncio.sleep(0.1)
        timer.stop()
        figures["lag"] = lags[5:]
        figures["keys"] = keys
        latencies.clear()

        # Latency: one write every 200 ms.
        process = writer(url, 5, samples)
        while process.poll() is None or len(latencies) < samples:
            await asyncio.sleep(0.05)
            if process.poll() is not None and time.perf_counter() - started > 600:
                break
        figures["latency"] = list(latencies)
        figures["total"] = len(screen.state.instances)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument(
        "--keep",
        type=Path,
        default=Path(tempfile.gettempdir()) / "triggers-tui-bench",
        help="directory of the seeded store, reused by later runs",
    )
    args = parser.parse_args(argv)
    args.keep.mkdir(parents=True, exist_ok=True)
    url = f"sqlite://{args.keep / f'bench-{args.instances}.db'}"
    seed(url, args.instances)
    f = asyncio.run(measure(url, args.samples))
    lag_ms = [x * 1000 for x in f["lag"]]
    key_ms = [x * 1000 for x in f["keys"]]
    lat_ms = [x * 1000 for x in f["latency"]]
    rows = [
        (
            "open: first full render",
            f"{f['instances']:,} instances",
            f"{f['open'] * 1000:.0f} ms",
        ),
        (
            "busy: timer lag p50 / p99 / max",
            "50 writes/s",
            f"{pct(lag_ms, 0.5):.1f} / {pct(lag_ms, 0.99):.1f} / {max(lag_ms):.1f} ms",
        ),
        (
            "busy: key press handled p50 / max",
            "50 writes/s",
            f"{pct(key_ms, 0.5):.1f} / {max(key_ms):.1f} ms",
        ),
        (
            "write -> on screen median / p90",
            f"{len(lat_ms)} writes",
            f"{statistics.median(lat_ms):.0f} / {pct(lat_ms, 0.9):.0f} ms",
        ),
    ]
    print("| measure | load | result |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
