"""Names for pluggable parts: storage schemes, task runners, managers, tasks.

A worker in another process rebuilds the manager and storage of a session
from names and a URL, so every pluggable part is registered under a name.
Three sources, looked up in this order:

1. `register` calls made at run time (tests, applications);
2. the ``triggers.<kind>`` entry point groups of installed distributions
   (``triggers.storages``, ``triggers.runners``, ``triggers.managers``,
   ``triggers.tasks``);
3. the built-ins below, so an uninstalled source checkout still works.

Values are import paths (``module:attribute``) until first use, so optional
extras (Celery, Redis) are imported only by those who name them.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any, Literal

from .errors import RegistryError

logger = logging.getLogger(__name__)

Kind = Literal["storages", "runners", "managers", "tasks"]

_BUILTINS: dict[str, dict[str, str]] = {
    "storages": {
        "memory": "triggers_core.storage.memory:MemoryBackend",
        "sqlite": "triggers_core.storage.sqlite:SQLiteBackend",
        "redis": "triggers_core.storage.redis:RedisBackend",
        "rediss": "triggers_core.storage.redis:RedisBackend",
        "unix": "triggers_core.storage.redis:RedisBackend",
    },
    "runners": {
        "threading": "triggers_core.runners.threading:ThreadingTaskRunner",
        "inline": "triggers_core.runners.inline:InlineTaskRunner",
        "celery": "triggers_core.runners.celery:CeleryTaskRunner",
    },
    "managers": {
        "default": "triggers_core.manager:TriggerManager",
    },
    "tasks": {},
}

#: What to install when a built-in's import fails for lack of an extra.
_EXTRAS = {
    "triggers_core.storage.redis": "pip install 'triggers[redis]'",
    "triggers_core.runners.celery": "pip install 'triggers[celery]'",
}

_registered: dict[str, dict[str, Any]] = {kind: {} for kind in _BUILTINS}


def register(kind: Kind, name: str, target: Any) -> None:
    """Register ``target`` (an object or a ``module:attr`` path) under ``name``."""
    if kind not in _registered:
        raise RegistryError(f"unknown registry {kind!r}; one of {sorted(_registered)}")
    _registered[kind][name] = target


def names(kind: Kind) -> set[str]:
    """Every name known for ``kind``, from all three sources."""
    found = set(_BUILTINS[kind]) | set(_registered[kind])
    found |= {ep.name for ep in entry_points(group=f"triggers.{kind}")}
    return found


def resolve(kind: Kind, name: str) -> Any:
    """The object registered as ``name``; `RegistryError` if there is none."""
    if name in _registered[kind]:
        target = _registered[kind][name]
    else:
        matches = entry_points(group=f"triggers.{kind}", name=name)
        if matches:
            target = next(iter(matches)).value
        elif name in _BUILTINS[kind]:
            target = _BUILTINS[kind][name]
        else:
            known = ", ".join(sorted(names(kind))) or "none"
            raise RegistryError(
                f"no {kind[:-1]} registered as {name!r} (known: {known})"
            )
    if isinstance(target, str):
        target = import_path(target)
    return target


def import_path(path: str) -> Any:
    """Import ``module:attr`` or ``module.attr``; `RegistryError` if it fails."""
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise RegistryError(
            f"{path!r} is not an import path like 'package.module.name'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = _EXTRAS.get(module_name)
        extra = f"; {hint}" if hint else ""
        raise RegistryError(
            f"cannot import {module_name!r} for {path!r}: {exc}{extra}"
        ) from None
    try:
        value = module
        for part in attr.split("."):
            value = getattr(value, part)
    except AttributeError:
        raise RegistryError(
            f"module {module_name!r} has no attribute {attr!r}"
        ) from None
    return value
