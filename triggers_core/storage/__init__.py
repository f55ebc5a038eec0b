"""Storage backends and the functions that open them by URL."""

from __future__ import annotations

import os
import threading

from .. import registry
from ..errors import RegistryError
from .base import Backend, SessionSummary
from .urls import ENV_VAR, default_url, redact, scheme_of

__all__ = [
    "ENV_VAR",
    "Backend",
    "SessionSummary",
    "default_url",
    "open_store",
    "redact",
]

_cache: dict[tuple[int, str], Backend] = {}
_cache_lock = threading.Lock()


def open_store(url: str | None = None) -> Backend:
    """The backend for ``url`` (default: `default_url`), shared per process.

    Raises `ValueError` for a malformed URL or an unknown scheme, and
    `triggers_core.errors.StorageError` when the store cannot be opened.
    """
    url = url or default_url()
    scheme = scheme_of(url)
    key = (os.getpid(), url)
    with _cache_lock:
        if key in _cache and scheme != "memory":
            return _cache[key]
    try:
        backend_class = registry.resolve("storages", scheme)
    except RegistryError as exc:
        raise ValueError(f"unsupported storage URL {redact(url)!r}: {exc}") from None
    backend: Backend = backend_class(url)
    with _cache_lock:
        return _cache.setdefault((os.getpid(), backend.url), backend)
