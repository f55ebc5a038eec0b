"""Storage URLs: the default location, and redaction for display."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV_VAR = "TRIGGERS_STORAGE_URL"


def default_url() -> str:
    """``TRIGGERS_STORAGE_URL`` if set, else a SQLite file in the user data dir."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured

    import platformdirs

    directory = Path(platformdirs.user_data_dir("triggers", appauthor=False))
    return f"sqlite://{directory / 'triggers.db'}"


def redact(url: str) -> str:
    """Hide the password of a URL (``redis://user:***@host``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scheme_of(url: str) -> str:
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(
            f"storage URL must look like 'scheme://...', got {url!r} "
            "(e.g. 'sqlite:///var/lib/app/triggers.db', 'memory://', "
            "'redis://localhost:6379/0')"
        )
    return url.split("://", 1)[0].lower()
