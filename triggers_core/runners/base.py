"""The task runner contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..manager import TriggerManager
    from ..model import TaskInstance
    from ..session import SessionStorage


class TaskRunner(ABC):
    """Executes ready task instances somewhere: a thread, a Celery worker.

    The manager claims an instance as ``scheduled`` in the same write that
    makes it ready, then calls `schedule`. Wherever the instance ends up
    running, it must go through `TriggerManager.run_instance`, which moves it
    from ``scheduled`` to ``running`` exactly once.
    """

    #: The name tasks use in ``using`` and managers take as default runner.
    name: ClassVar[str] = ""

    def check_storage(self, storage: SessionStorage) -> None:  # noqa: B027 - optional
        """Refuse (`ConfigurationError`) a storage this runner cannot serve."""

    @abstractmethod
    def schedule(
        self, manager: TriggerManager, instance: TaskInstance, countdown: float = 0.0
    ) -> None:
        """Arrange for ``instance`` to run in ``countdown`` seconds or more.

        Raise if the instance cannot be accepted; the manager then returns it
        to ``unstarted`` and passes the error to its caller.
        """
