"""``inline``: run each instance at once, in the caller's thread."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .base import TaskRunner

if TYPE_CHECKING:
    from ..manager import TriggerManager
    from ..model import TaskInstance

logger = logging.getLogger(__name__)


class InlineTaskRunner(TaskRunner):
    """Runs an instance inside `schedule`, cascades included, then returns.

    For scripts, seeding and deterministic tests: when ``fire`` returns,
    everything it set off has run. A task's failure is recorded on its
    instance, so it is logged here and not raised to the caller of ``fire``.
    Cooldowns are not waited for.
    """

    name = "inline"

    def schedule(
        self, manager: TriggerManager, instance: TaskInstance, countdown: float = 0.0
    ) -> None:
        try:
            manager.run_instance(instance.name)
        except Exception as exc:
            logger.info("%s failed: %s: %s", instance.name, type(exc).__name__, exc)
