"""Task runners: where ready instances execute."""

from .base import TaskRunner
from .threading import ThreadingTaskRunner

__all__ = ["TaskRunner", "ThreadingTaskRunner"]
