"""Many processes fire into one SQLite session at once; nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import multiprocess


@pytest.mark.slow
def test_four_processes_fire_into_one_sqlite_session(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'shared.db'}"
    log = tmp_path / "runs.log"
    shape = {"processes": 4, "pairs": 250, "ticks": 130}
    fires = multiprocess.run(url, "busy", log, **shape)
    assert fires >= 1000
    multiprocess.check(url, "busy", log, **shape)
