"""Instance statuses and the sets of them the engine reasons about."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """The status of a task instance (see SEMANTICS.md, "Instance status")."""

    UNSTARTED = "unstarted"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    FAILED = "failed"
    FINISHED = "finished"
    REPLAYED = "replayed"
    SKIPPED = "skipped"
    ABANDONED = "abandoned"


RESOLVED: frozenset[str] = frozenset(
    {Status.FINISHED, Status.REPLAYED, Status.SKIPPED, Status.ABANDONED}
)
UNRESOLVED: frozenset[str] = frozenset(Status) - RESOLVED

#: Statuses in which error logs no longer need an operator's attention.
LOGS_SETTLED: frozenset[str] = frozenset(
    {Status.ABANDONED, Status.REPLAYED, Status.SKIPPED}
)
