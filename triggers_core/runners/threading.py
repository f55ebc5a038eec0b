"""``threading``: run each instance in a thread of the firing process."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, ClassVar

from .base import TaskRunner

if TYPE_CHECKING:
    from ..manager import TriggerManager
    from ..model import TaskInstance

logger = logging.getLogger(__name__)


class ThreadingTaskRunner(TaskRunner):
    """One daemon thread per instance, in the process that fired.

    Cascades started by an instance are scheduled from its thread before that
    thread ends, so `join_all` (which waits until no thread of this runner is
    alive) also waits for every cascade.
    """

    name = "threading"

    _active = 0
    _idle: ClassVar[threading.Condition] = threading.Condition()

    def schedule(
        self, manager: TriggerManager, instance: TaskInstance, countdown: float = 0.0
    ) -> None:
        cls = type(self)
        with cls._idle:
            ThreadingTaskRunner._active += 1
        thread = threading.Thread(
            target=self._run,
            args=(manager, instance.name, countdown),
            name=f"triggers:{instance.name}",
            daemon=True,
        )
        try:
            thread.start()
        except BaseException:
            self._done()
            raise

    @staticmethod
    def _run(manager: TriggerManager, instance_name: str, countdown: float) -> None:
        try:
            if countdown > 0:
                time.sleep(countdown)
            manager.run_instance(instance_name)
        except Exception as exc:
            # The traceback is stored on the instance; one line is enough here.
            logger.warning("%s failed: %s: %s", instance_name, type(exc).__name__, exc)
        finally:
            ThreadingTaskRunner._done()

    @staticmethod
    def _done() -> None:
        with ThreadingTaskRunner._idle:
            ThreadingTaskRunner._active -= 1
            ThreadingTaskRunner._idle.notify_all()

    @classmethod
    def join_all(cls, timeout: float | None = None) -> bool:
        """Wait until every instance (and cascade) of this runner has ended.

        Returns False if ``timeout`` seconds passed first.
        """
        with ThreadingTaskRunner._idle:
            return ThreadingTaskRunner._idle.wait_for(
                lambda: ThreadingTaskRunner._active == 0, timeout=timeout
            )
