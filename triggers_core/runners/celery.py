"""``celery``: run instances on a fleet of Celery workers.

Scheduling publishes one Celery message per instance. The message carries
names and references only (instance name, session UID, storage URL, the
manager's registered name, the manager's default runner name and the task
reference); the worker reopens the store, rebuilds the manager from the
registry and calls `TriggerManager.run_instance`, the code path every runner
ends in. Nothing travels in the message that the store does not hold.

Which Celery app is used:

* ``CeleryTaskRunner(app)`` uses ``app``; register such an instance with
  ``triggers_core.register("runners", "celery", CeleryTaskRunner(app))`` in a
  module that both the firing processes and the workers import.
* ``CeleryTaskRunner()`` (what the built-in ``celery`` name gives) uses the
  module's default `app`, whose broker is ``TRIGGERS_CELERY_BROKER_URL``.

Start a worker with ``triggers worker --import myapp.tasks`` or
``celery -A triggers_core.runners.celery worker --include myapp.tasks``
(see ``docs/celery.md``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any, ClassVar

from celery import Celery

from .. import registry
from ..errors import (
    ConcurrentUpdateError,
    ConfigurationError,
    RegistryError,
    StorageUnavailableError,
)
from ..session import SessionStorage, open_storage
from ..status import Status
from ..storage.base import Transaction, new_status_timestamp
from .base import TaskRunner

if TYPE_CHECKING:
    from ..manager import TriggerManager
    from ..model import TaskInstance

logger = logging.getLogger(__name__)

#: Environment variable holding the default app's broker URL.
BROKER_ENV = "TRIGGERS_CELERY_BROKER_URL"

#: Name of the Celery task that runs one instance on a worker.
TASK_NAME = "triggers.run_instance"

#: Broker connection attempts when publishing: refuse fast, so the caller of
#: ``fire`` hears about a dead broker in well under a second.
PUBLISH_CONNECTION_OPTIONS: dict[str, Any] = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
}

#: How often a worker retries a delivery when the store is unreachable.
STORAGE_RETRIES = 5


def make_app(broker_url: str | None = None, **config: Any) -> Celery:
    """A Celery app configured for triggers, with the run task installed.

    ``broker_url`` defaults to ``TRIGGERS_CELERY_BROKER_URL``, read when the
    app's configuration is first used. ``config`` overrides any setting.
    """
    app = Celery("triggers", set_as_current=False)

    def defaults() -> dict[str, Any]:
        return {
            "broker_url": broker_url or os.environ.get(BROKER_ENV) or None,
            # Stored state is JSON only; so are messages.
            "task_serializer": "json",
            "accept_content": ["json"],
            "task_ignore_result": True,
            "broker_transport_options": dict(PUBLISH_CONNECTION_OPTIONS),
            "broker_connection_retry_on_startup": True,
            # One message at a time per pool process: fair spread, and a dead
            # worker holds back as few unstarted messages as possible.
            "worker_prefetch_multiplier": 1,
        }

    app.add_defaults(defaults)
    if config:
        app.conf.update(config)
    install(app)
    return app


def install(app: Celery) -> Any:
    """Register the ``triggers.run_instance`` task on ``app``; idempotent.

    `CeleryTaskRunner` calls it for the app it is given, so an application
    that brings its own app only needs to create the runner.
    """
    installed = getattr(app, "_triggers_run_task", None)
    if installed is not None:
        return installed
    task = app.task(
        name=TASK_NAME,
        bind=True,
        # Acknowledge after the run: a worker lost before the instance went
        # ``running`` gets the message redelivered and the instance still
        # runs. A redelivery after that is harmless: `run_instance` only
        # starts a ``scheduled`` instance.
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        # Known limit: a store unreachable for longer than these retries
        # (half a minute at most, with backoff) drops the message and
        # leaves the instance ``scheduled``; an operator sees it there,
        # without the "celery" note a delivered instance gets.
        autoretry_for=(StorageUnavailableError, ConcurrentUpdateError),
        retry_backoff=True,
        max_retries=STORAGE_RETRIES,
    )(_run_instance)
    app._triggers_run_task = task
    return task


def _run_instance(
    task: Any,
    instance_name: str,
    session_uid: str,
    storage_url: str,
    manager_name: str,
    default_runner: str,
    run: str | None = None,
) -> None:
    """The Celery task body: rebuild storage and manager, run the instance.

    ``run`` (the task reference) travels for monitors and logs; the worker
    runs what the stored configuration says, which is the same unless the
    configuration changed since the instance was scheduled.
    """
    storage = open_storage(storage_url, session_uid)
    try:
        manager_class = registry.resolve("managers", manager_name)
        manager = manager_class(storage, default_runner=default_runner)
    except (RegistryError, ConfigurationError) as exc:
        # This worker cannot rebuild what the firing process used: say so on
        # the instance rather than leave it ``scheduled`` forever.
        _fail_scheduled(
            storage,
            instance_name,
            ConfigurationError(
                f"worker {task.request.hostname} cannot rebuild manager "
                f"{manager_name!r} with default runner {default_runner!r} "
                f"for {instance_name}: {exc}"
            ),
        )
        raise
    _warn_if_foreign_app(manager, default_runner, task.app)
    # Known limit: a worker that dies from here on, or a store that fails
    # while the outcome is recorded, leaves the instance ``running``: no
    # message or retry can tell a dead run from a slow one. See
    # `suspect_lost_instances` and docs/celery.md for the repair.
    manager.run_instance(instance_name, runner_metadata=_delivery_note(task.request))


def _delivery_note(request: Any) -> dict[str, Any]:
    """Which worker took the instance, recorded in the write that starts it.

    The note (``metadata["celery"]``) is what lets an operator find the
    worker of an instance left ``running`` by a crash.
    """
    return {
        "celery": {
            "taskId": request.id,
            "worker": request.hostname,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "deliveredAt": time.time(),
        }
    }


def _fail_scheduled(storage: SessionStorage, name: str, error: Exception) -> None:
    """Fail ``name`` with ``error`` if it is still ``scheduled``."""
    from ..manager import failure_metadata

    def body(txn: Transaction) -> None:
        instance = txn.instance(name)
        if instance.status != Status.SCHEDULED:
            return
        new_status_timestamp(instance, Status.FAILED)
        instance.metadata.update(failure_metadata(error))
        txn.save(instance)

    storage.transact(body)


_warned_apps: set[int] = set()


def _warn_if_foreign_app(manager: TriggerManager, runner_name: str, app: Any) -> None:
    try:
        runner = manager.get_runner(runner_name)
    except ConfigurationError:
        return
    if (
        isinstance(runner, CeleryTaskRunner)
        and runner.app is not app
        and id(app) not in _warned_apps
    ):
        _warned_apps.add(id(app))
        logger.warning(
            "runner %r publishes through app %r, not through the app %r this "
            "worker serves; register CeleryTaskRunner(app) under %r in a module "
            "this worker imports",
            runner_name,
            runner.app,
            app,
            runner_name,
        )


class CeleryTaskRunner(TaskRunner):
    """Sends each ready instance to a Celery worker.

    ``app`` is the Celery app to publish through (default: this module's
    `app`, configured from ``TRIGGERS_CELERY_BROKER_URL``). ``queue`` routes
    the messages to one queue (default: the app's routing). With
    ``publish_retry`` False (the default) a broker that refuses the message
    makes `schedule` raise at once, so the manager returns the instance to
    ``unstarted`` and the error reaches the caller of ``fire``.
    """

    # Known limit: when a worker publishes a cascade or a retry and the
    # broker refuses it, the new instances are left ``unstarted`` (runnable)
    # and the error is only in the worker's log; the next firing of any of
    # their task's triggers schedules them.

    name: ClassVar[str] = "celery"

    def __init__(
        self,
        app: Celery | None = None,
        *,
        queue: str | None = None,
        publish_retry: bool = False,
    ) -> None:
        self._app = app
        if app is not None:
            install(app)
        self.queue = queue
        self.publish_retry = publish_retry
        self._checked_managers: set[tuple[type[Any], str]] = set()

    def __repr__(self) -> str:
        return f"<CeleryTaskRunner app={self.app.main!r} queue={self.queue!r}>"

    @property
    def app(self) -> Celery:
        return self._app if self._app is not None else app

    def check_storage(self, storage: SessionStorage) -> None:
        # Known limit: an ``sqlite://`` store passes this check but serves
        # only workers on the machine that holds the file.
        if not storage.backend.shared_across_processes:
            raise ConfigurationError(
                f"the celery runner cannot use {storage.display_url}: Celery "
                "workers run in other processes and cannot reach a store that "
                "lives in this process's memory; use a store workers can open, "
                "e.g. 'redis://host:6379/0' (or 'sqlite:///path' when every "
                "worker runs on this machine)"
            )
        if self._app is None and not self.app.conf.broker_url:
            raise ConfigurationError(
                f"the celery runner has no broker: set {BROKER_ENV} "
                "(e.g. redis://localhost:6379/0), or register "
                "CeleryTaskRunner(your_celery_app) under 'celery'"
            )

    def schedule(
        self, manager: TriggerManager, instance: TaskInstance, countdown: float = 0.0
    ) -> None:
        self._check_manager(manager)
        storage = manager.storage
        kwargs = {
            "instance_name": instance.name,
            "session_uid": storage.uid,
            "storage_url": storage.url,
            "manager_name": manager.name,
            "default_runner": manager.default_runner,
            "run": instance.config.run if instance.config else None,
        }
        # Known limit: the storage URL, password included, travels in the
        # message (a worker needs it); the broker must be trusted as much as
        # the store. Only logs and monitors get the redacted form.
        options: dict[str, Any] = {
            "retry": self.publish_retry,
            # Logs and monitors show this instead of the URL's password.
            "kwargsrepr": repr({**kwargs, "storage_url": storage.display_url}),
        }
        if countdown > 0:
            # Known limit: with a Redis broker a worker holds a message with
            # a countdown unacknowledged; past the broker's visibility
            # timeout (1 hour by default) it is delivered again. The copy
            # that comes second finds the instance no longer ``scheduled``
            # and only logs a warning.
            options["countdown"] = countdown
        if self.queue is not None:
            options["queue"] = self.queue
        self.app.send_task(TASK_NAME, kwargs=kwargs, **options)
        logger.debug("sent %s to celery (countdown %.3gs)", instance.name, countdown)

    def _check_manager(self, manager: TriggerManager) -> None:
        """Refuse a manager a worker could not rebuild from its names."""
        key = (type(manager), manager.default_runner)
        if key in self._checked_managers:
            return
        try:
            registered = registry.resolve("managers", manager.name)
        except RegistryError as exc:
            registered = exc
        if registered is not type(manager):
            raise ConfigurationError(
                f"workers rebuild the manager from its registered name "
                f"{manager.name!r}, which gives {registered!r}, not "
                f"{type(manager).__qualname__}; set a unique `name` on the class "
                "and register it (entry point group 'triggers.managers' or "
                "triggers_core.register('managers', name, cls))"
            )
        if manager.default_runner not in registry.names("runners"):
            raise ConfigurationError(
                f"workers cannot rebuild default runner {manager.default_runner!r}:"
                " register it by that name"
            )
        self._checked_managers.add(key)


def suspect_lost_instances(
    storage: SessionStorage, celery_app: Celery | None = None, timeout: float = 2.0
) -> list[TaskInstance]:
    """``running`` instances that no live worker is executing.

    Asks every worker of ``celery_app`` (default: the default `app`) for its
    active tasks (``inspect().active()``, waiting
    ``timeout`` seconds for replies) and returns the running instances whose
    Celery task id (``metadata["celery"]["taskId"]``) none of them reports:
    most likely their worker died. It only reports; a worker that was too
    busy or cut off from the broker to answer makes its instances look lost
    too, so check before repairing (see ``docs/celery.md``).
    """
    running = [
        i for i in storage.get_unresolved_instances() if i.status == Status.RUNNING
    ]
    if not running:
        return []
    inspector = (celery_app or app).control.inspect(timeout=timeout)
    replies = inspector.active()
    active = {
        str(task.get("id"))
        for tasks in (replies or {}).values()
        for task in tasks or []
    }
    return [
        i
        for i in running
        if str(i.metadata.get("celery", {}).get("taskId")) not in active
    ]


#: The default app: ``celery -A triggers_core.runners.celery worker`` runs it.
app = make_app()
