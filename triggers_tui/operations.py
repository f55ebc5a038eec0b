"""The store writes the dashboard makes, each a plain function of a manager.

They run in thread workers (never on the UI thread) and return an `Outcome`
the screen shows. Refusals by the engine (an instance that is no longer
failed, bad kwargs) are `ValueError` subclasses and propagate from the
single-instance operations; the bulk ones record them per instance and go
on, so one instance replayed meanwhile by someone else does not stop the
rest. Every write says it came from the dashboard: the engine records who,
when, why and that source in the instance's history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from triggers_core import InvalidStatusError, StorageError, TriggerManager

from .screens.bulk_replay import BulkReplayRequest
from .screens.fire import FireRequest
from .screens.replay import ReplayRequest
from .screens.skip import SkipRequest

logger = logging.getLogger(__name__)

#: The ``source`` recorded in the history of every write made here.
SOURCE = "dashboard"


@dataclass(frozen=True)
class Outcome:
    """What an operation did, in words, and where the cursor should go."""

    summary: str
    select: str | None = None
    refused: list[str] = field(default_factory=list)
    """One line per instance the engine refused (bulk operations)."""
    store_error: StorageError | None = None
    """The store failure that stopped a bulk operation part way."""


def replay(manager: TriggerManager, request: ReplayRequest) -> Outcome:
    clone = manager.replay_failed_instance(
        request.instance, request.kwargs, reason=request.reason, source=SOURCE
    )
    edited = " with edited kwargs" if request.kwargs is not None else ""
    logger.info("replayed %s as %s%s", request.instance, clone.name, edited)
    return Outcome(f"Replayed {request.instance} as {clone.name}{edited}", clone.name)


def bulk_replay(manager: TriggerManager, request: BulkReplayRequest) -> Outcome:
    def one(name: str) -> str:
        clone = manager.replay_failed_instance(
            name, reason=request.reason, source=SOURCE
        )
        return f"{name} as {clone.name}"

    return _each("Replayed", request.instances, one)


def skip(manager: TriggerManager, request: SkipRequest) -> Outcome:
    def one(name: str) -> str:
        manager.skip_failed_instance(
            name, request.cascade, request.result, reason=request.reason, source=SOURCE
        )
        return name

    if len(request.instances) == 1:
        (name,) = request.instances
        one(name)
        how = "with cascade" if request.cascade else "without cascade"
        return Outcome(f"Skipped {name} {how}", name)
    how = " with cascade" if request.cascade else ""
    return _each("Skipped", request.instances, one, how)


def _each(
    verb: str, instances: tuple[str, ...], one: Callable[[str], str], how: str = ""
) -> Outcome:
    """Apply ``one`` to every instance; refusals are noted and the rest go on,
    a store failure stops the batch and says how far it got."""
    done: list[str] = []
    refused: list[str] = []
    for name in instances:
        try:
            done.append(one(name))
        except ValueError as exc:
            logger.warning("%s refused: %s", name, exc)
            refused.append(_refusal(exc))
        except StorageError as exc:
            logger.warning("bulk %s stopped at %s: %s", verb.lower(), name, exc)
            summary = f"{verb} {len(done)} of {len(instances)} before the store failed"
            return Outcome(
                f"{summary}: {', '.join(done) or 'none'}",
                refused=[*refused, f"store error: {exc}"],
                store_error=exc,
            )
    summary = f"{verb} {len(done)} of {len(instances)}{how}"
    return Outcome(f"{summary}: {', '.join(done) or 'none'}", refused=refused)


def _refusal(exc: ValueError) -> str:
    if isinstance(exc, InvalidStatusError):
        return f"{exc.instance_name} is {exc.status} now, no longer {exc.expected}"
    return str(exc)


def resolve_logs(manager: TriggerManager, name: str) -> Outcome:
    manager.mark_instance_logs_resolved(name, source=SOURCE)
    return Outcome(f"Marked the logs of {name} resolved", name)


def fire(manager: TriggerManager, request: FireRequest) -> Outcome:
    scheduled = manager.fire(request.trigger, request.kwargs)
    names = ", ".join(i.name for i in scheduled)
    summary = f"Fired {request.trigger}: " + (
        f"scheduled {names}" if names else "no instance became ready"
    )
    return Outcome(summary, scheduled[0].name if len(scheduled) == 1 else None)
