"""Seed the demo for snapshots and screenshots, the same on every run.

Run as a script (``python snapshot_demo.py URL UID``). Three things would
differ between runs, and are made fixed here, each through the engine's
public API:

* the order in which task threads finish: the demo is seeded with the
  ``inline`` runner, so tasks run one after the other;
* times (timestamps, log lines, audit entries) and the user@host of audit
  entries: replaced by fixed values after seeding;
* file paths in tracebacks: made relative to the checkout, and the line
  numbers of engine frames hidden, so edits to the engine do not change
  the pictures.

The slow demo task is seeded with no delay and then set back to ``running``
by hand, so it shows as running without a thread racing the snapshot.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from triggers_core.demo import seed_demo

ROOT = Path(__file__).resolve().parents[2]
#: 2024-05-06 07:08:00 UTC; each timestamp is this plus a few seconds.
T0 = 1714979280.0


def _traceback(text: str) -> str:
    text = text.replace(f"{ROOT}/", "")
    text = re.sub(r'File "[^"]*site-packages/', 'File "', text)
    return re.sub(r'(File "triggers_core/[^"]+", line )\d+', r"\g<1>…", text)


def _fixed(metadata: dict[str, Any], offset: int) -> dict[str, Any]:
    fixed: dict[str, Any] = {}
    timestamps = metadata.get("timestamps")
    if isinstance(timestamps, dict):
        fixed["timestamps"] = {k: T0 + offset + i for i, k in enumerate(timestamps)}
    if "history" in metadata:
        fixed["history"] = [
            {**entry, "at": T0 + offset + 30, "by": "operator@ops-host"}
            for entry in metadata["history"]
        ]
    if "logs" in metadata:
        fixed["logs"] = [{**line, "at": T0 + offset} for line in metadata["logs"]]
    if "exceptionInfo" in metadata:
        fixed["exceptionInfo"] = _traceback(metadata["exceptionInfo"])
    return fixed


def seed(url: str, uid: str) -> None:
    manager = seed_demo(url, uid, slow_seconds=0, default_runner="inline")
    manager.update_instance_status("t_computeNorms#0", "running")
    instances = sorted(manager.storage.instances.items())
    for offset, (name, instance) in enumerate(instances):
        manager.update_instance_metadata(name, _fixed(instance.metadata, offset * 60))


if __name__ == "__main__":
    seed(sys.argv[1], sys.argv[2])
