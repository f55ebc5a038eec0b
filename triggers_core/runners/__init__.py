"""Task runners: where ready instances execute."""

from .base import TaskRunner
from .inline import InlineTaskRunner
from .threading import ThreadingTaskRunner

__all__ = ["InlineTaskRunner", "TaskRunner", "ThreadingTaskRunner"]
