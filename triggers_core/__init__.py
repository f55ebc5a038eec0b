"""triggers_core: a workflow engine for distributed applications.

Applications fire named triggers into a session; tasks run once every trigger
they wait for has fired, and their success fires their own name onward.
See ``SEMANTICS.md`` for the exact behaviour and ``README.md`` to start.
"""

from .context import MaxRetriesExceeded, TaskContext, TriggerTask
from .errors import (
    ConfigurationError,
    InvalidKwargsError,
    InvalidStatusError,
    StorageError,
    StorageUnavailableError,
    TriggersError,
    UnknownInstanceError,
    UnknownTaskError,
)
from .manager import SchedulingError, TriggerManager
from .model import TaskConfig, TaskInstance
from .registry import register
from .session import Changes, SessionStorage, open_storage
from .status import Status
from .storage import SessionSummary, default_url, open_store

__all__ = [
    "Changes",
    "ConfigurationError",
    "InvalidKwargsError",
    "InvalidStatusError",
    "MaxRetriesExceeded",
    "SchedulingError",
    "SessionStorage",
    "SessionSummary",
    "Status",
    "StorageError",
    "StorageUnavailableError",
    "TaskConfig",
    "TaskContext",
    "TaskInstance",
    "TriggerManager",
    "TriggerTask",
    "TriggersError",
    "UnknownInstanceError",
    "UnknownTaskError",
    "default_url",
    "open_storage",
    "open_store",
    "register",
]
