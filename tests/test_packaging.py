"""Import boundaries and registration by name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from triggers_core import TriggerManager, open_storage, register
from triggers_core.errors import ConfigurationError, RegistryError
from triggers_core.registry import names, resolve


def test_core_imports_without_the_dashboard() -> None:
    code = (
        "import sys, triggers_core, triggers_core.demo, triggers_core.testing\n"
        "import triggers_core.runners, triggers_core.storage.sqlite\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('textual', 'triggers_tui', 'rich'))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_builtin_names() -> None:
    assert {"memory", "sqlite", "redis"} <= names("storages")
    assert {"threading", "inline", "celery"} <= names("runners")
    assert "default" in names("managers")
    assert resolve("managers", "default") is TriggerManager


def test_unknown_names_are_clear() -> None:
    with pytest.raises(RegistryError, match="no runner registered as 'nope'"):
        resolve("runners", "nope")
    with pytest.raises(ConfigurationError, match=r"known: .*threading"):
        TriggerManager(open_storage("memory://", "s"), default_runner="nope")


def test_custom_manager_rebuilt_by_name() -> None:
    class AuditManager(TriggerManager):
        name = "audit-test"

    register("managers", "audit-test", AuditManager)
    rebuilt = resolve("managers", AuditManager.name)(open_storage("memory://x", "s"))
    assert isinstance(rebuilt, AuditManager)


def test_entry_points_are_installed() -> None:
    from importlib.metadata import entry_points

    found = {ep.name for ep in entry_points(group="triggers.storages")}
    if not found:
        pytest.skip("distribution not installed (running from a bare checkout)")
    assert {"memory", "sqlite"} <= found
