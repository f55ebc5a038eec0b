"""`TriggerManager`: fires triggers, schedules and runs instances, repairs.

Every operation is one `Transaction` on the session's storage: the engine
reads the few records it needs, decides, and the backend applies the writes
atomically. Instances that become ready are claimed as ``scheduled`` inside
that same write, so no concurrent writer can schedule them again, and are
handed to their runners only after the write committed.
"""

from __future__ import annotations

import copy
import getpass
import logging
import socket
import time
import traceback
from collections.abc import Mapping
from typing import Any, ClassVar

from . import registry
from .context import (
    DEFAULT_MAX_RETRIES,
    MaxRetriesExceeded,
    RetryRequested,
    SkipRequested,
    TaskContext,
    TriggerTask,
)
from .errors import (
    ConfigurationError,
    InvalidKwargsError,
    InvalidStatusError,
    RegistryError,
    TaskResolutionError,
    UnknownTaskError,
)
from .jsonutil import deep_merge, dumps, ensure_json_object
from .model import TaskConfig, TaskInstance
from .runners.base import TaskRunner
from .session import SessionStorage
from .status import Status
from .storage.base import Transaction, new_status_timestamp

logger = logging.getLogger(__name__)

InstanceRef = TaskInstance | str


class SchedulingError(RuntimeError):
    """A runner refused instances; they were returned to ``unstarted``."""

    def __init__(self, instance_names: list[str], cause: BaseException) -> None:
        self.instance_names = instance_names
        super().__init__(
            f"runner refused {', '.join(instance_names)}: "
            f"{type(cause).__name__}: {cause}"
            " (the instances stay unstarted and runnable)"
        )


class TriggerManager:
    """Drives one session: configuration, triggers, execution, repair.

    ``default_runner`` names the runner (or is a `TaskRunner`) used by tasks
    without ``using``. Subclasses override the ``_post_*`` hooks and register
    themselves under `name` (entry point group ``triggers.managers``) so
    remote workers can rebuild them.
    """

    #: Registered name; a worker rebuilds the manager from it.
    name: ClassVar[str] = "default"

    def __init__(
        self, storage: SessionStorage, default_runner: str | TaskRunner = "threading"
    ) -> None:
        self.storage = storage
        self._runners: dict[str, TaskRunner] = {}
        if isinstance(default_runner, TaskRunner):
            default_runner.check_storage(storage)
            self._runners[default_runner.name] = default_runner
            self.default_runner = default_runner.name
        else:
            self.default_runner = default_runner
        self.get_runner(self.default_runner)

    def __repr__(self) -> str:
        kind = type(self).__name__
        return f"<{kind} {self.storage.uid!r} runner={self.default_runner!r}>"

    # -- runners ----------------------------------------------------------

    def get_runner(self, name: str) -> TaskRunner:
        """The runner registered as ``name``, checked against this storage."""
        if name not in self._runners:
            try:
                target = registry.resolve("runners", name)
            except RegistryError as exc:
                raise ConfigurationError(str(exc)) from None
            runner = target() if isinstance(target, type) else target
            if not isinstance(runner, TaskRunner):
                raise ConfigurationError(
                    f"runner {name!r} is not a TaskRunner: {runner!r}"
                )
            runner.check_storage(self.storage)
            self._runners[name] = runner
        return self._runners[name]

    # -- configuration ----------------------------------------------------

    def update_configuration(self, configuration: Mapping[str, Any]) -> None:
        """Add or replace tasks, all or none (see SEMANTICS.md directives).

        Raises `ConfigurationError` naming the task and directive at fault;
        nothing is stored then.
        """
        if not isinstance(configuration, Mapping):
            raise ConfigurationError(
                f"configuration must map task names to directives, "
                f"got {type(configuration).__name__}"
            )
        configs = [TaskConfig.from_directives(n, d) for n, d in configuration.items()]
        for config in configs:
            if config.using is not None:
                try:
                    self.get_runner(config.using)
                except ConfigurationError as exc:
                    raise ConfigurationError(
                        f"task {config.name!r}, directive 'using': {exc}"
                    ) from None

        def body(txn: Transaction) -> None:
            for config in configs:
                txn.put_task(config)

        self.storage.transact(body)
        logger.info(
            "session %s: configured %s",
            self.storage.uid,
            ", ".join(c.name for c in configs),
        )

    # -- firing -----------------------------------------------------------

    def fire(
        self, trigger_name: str, trigger_kwargs: Mapping[str, Any] | None = None
    ) -> list[TaskInstance]:
        """Fire ``trigger_name``; return the instances it scheduled.

        ``trigger_kwargs`` must be a JSON object; anything else raises
        `InvalidKwargsError` before anything is written.
        """
        _check_trigger_name(trigger_name)
        kwargs = ensure_json_object(
            trigger_kwargs, f"kwargs of trigger {trigger_name!r}"
        )
        ready = self.storage.transact(
            lambda txn: self._fire_in(txn, trigger_name, kwargs)
        )
        scheduled = self._hand_off(ready)
        self._post_fire(trigger_name, scheduled)
        return scheduled

    def _fire_in(
        self, txn: Transaction, trigger: str, kwargs: dict[str, Any]
    ) -> list[TaskInstance]:
        """Apply one firing inside ``txn``; return the instances it made ready."""
        txn.reader.prefetch_trigger(trigger)
        ready: list[TaskInstance] = []
        for config in txn.tasks_for_trigger(trigger):
            open_ = txn.open_instances(config)
            touched: list[TaskInstance] = []
            if not open_ and txn.instance_count(config) == 0:
                touched.append(self._new_instance(txn, config, trigger, kwargs))
            else:
                touched = [i for i in open_ if _offer(i, config, trigger, kwargs)]
                if trigger == config.and_every and not touched:
                    new = self._new_instance(txn, config, trigger, kwargs)
                    touched.append(new)
                    open_.append(new)
            touched_names = {i.name for i in touched}
            for instance in {i.name: i for i in open_ + touched}.values():
                if instance.can_abandon:
                    new_status_timestamp(instance, Status.ABANDONED)
                elif instance.can_run:
                    new_status_timestamp(instance, Status.SCHEDULED)
                    ready.append(instance)
                elif instance.name not in touched_names:
                    continue
                txn.save(instance)
        txn.set_latest_kwargs(trigger, kwargs)
        return ready

    @staticmethod
    def _new_instance(
        txn: Transaction, config: TaskConfig, trigger: str, kwargs: dict[str, Any]
    ) -> TaskInstance:
        instance = txn.new_instance(config)
        new_status_timestamp(instance, Status.UNSTARTED)
        earlier = txn.latest_kwargs(t for t in config.triggers if t != trigger)
        for name, fired in earlier.items():
            if name in config.after:
                instance.kwargs[name] = fired
            if name in config.unless:
                instance.unless_kwargs[name] = fired
        _offer(instance, config, trigger, kwargs)
        return instance

    def _hand_off(
        self, ready: list[TaskInstance], countdown: float = 0.0
    ) -> list[TaskInstance]:
        """Give claimed instances to their runners; undo the claim of refusals."""
        accepted: list[TaskInstance] = []
        refused: list[TaskInstance] = []
        first_error: BaseException | None = None
        for instance in ready:
            config = instance.config
            assert config is not None
            try:
                runner = self.get_runner(config.using or self.default_runner)
                runner.schedule(self, instance, countdown)
            except Exception as exc:
                logger.error("runner refused %s: %s", instance.name, exc)
                refused.append(instance)
                first_error = first_error or exc
            else:
                accepted.append(instance)
        if refused:
            self.storage.transact(lambda txn: self._unclaim(txn, refused))
            assert first_error is not None
            raise SchedulingError(
                [i.name for i in refused], first_error
            ) from first_error
        return accepted

    @staticmethod
    def _unclaim(txn: Transaction, instances: list[TaskInstance]) -> None:
        for refused in instances:
            instance = txn.instance(refused.name)
            if instance.status == Status.SCHEDULED:
                instance.status = Status.UNSTARTED
                instance.metadata.get("timestamps", {}).pop(
                    Status.SCHEDULED.value, None
                )
                txn.save(instance)

    # -- running ----------------------------------------------------------

    def run_instance(
        self, instance_name: str, runner_metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Run a ``scheduled`` instance here and now; every runner ends here.

        Moves it to ``running`` (exactly once: a second call for the same
        instance logs and returns), calls the task, and records the outcome.
        A task's exception is recorded and then re-raised. A runner's
        ``runner_metadata`` (which worker took it, say) is merged into the
        instance's metadata in the same write that starts it.
        """
        note = ensure_json_object(runner_metadata, "runner metadata")
        started = self.storage.transact(
            lambda txn: self._start(txn, instance_name, note)
        )
        if started is None:
            return
        instance, config = started
        context = TaskContext(
            instance_name=instance.name,
            task_name=config.name,
            session_uid=self.storage.uid,
            storage_url=self.storage.url,
            manager_name=self.name,
            trigger_kwargs=copy.deepcopy(instance.metadata["actualKwargs"]),
            manager=self,
            depth=int(instance.metadata.get("depth", 0)),
        )
        try:
            task = resolve_task(config.run)
            result = task(context)
            if result is None:
                result = {}
            if not isinstance(result, Mapping):
                raise TypeError(
                    f"task {config.run!r} returned {type(result).__name__}; "
                    "a task must return a mapping (or None)"
                )
            result = ensure_json_object(result, f"result of {instance.name!r}")
        except SkipRequested as request:
            try:
                extra = ensure_json_object(request.metadata, "skip metadata")
            except InvalidKwargsError as exc:
                self._end(context, Status.FAILED, failure_metadata(exc))
                raise
            self._end(context, Status.SKIPPED, extra)
        except RetryRequested as request:
            self._retry(context, task, request)
        except Exception as exc:
            self._end(context, Status.FAILED, failure_metadata(exc))
            raise
        else:
            self._end(context, Status.FINISHED, {"result": result}, cascade=result)

    def _start(
        self, txn: Transaction, name: str, note: dict[str, Any]
    ) -> tuple[TaskInstance, TaskConfig] | None:
        instance = txn.instance(name)
        if instance.status != Status.SCHEDULED:
            logger.warning(
                "not running %s: it is %s, not scheduled (delivered twice?)",
                name,
                instance.status,
            )
            return None
        config = txn.task(instance.task_name)
        if config is None:
            raise UnknownTaskError(
                f"instance {name!r} has no task {instance.task_name!r}"
            )
        new_status_timestamp(instance, Status.RUNNING)
        instance.metadata.update(note)
        instance.metadata["actualKwargs"] = deep_merge(
            config.with_params, instance.kwargs
        )
        txn.save(instance)
        return instance, config

    def _end(
        self,
        context: TaskContext,
        status: Status,
        metadata: Mapping[str, Any],
        cascade: dict[str, Any] | None = None,
    ) -> None:
        """Record how a run ended and, on success, cascade; all in one write."""

        def body(txn: Transaction) -> list[TaskInstance] | None:
            instance = txn.instance(context.instance_name)
            if not _still_running(instance, status):
                return None
            new_status_timestamp(instance, status)
            instance.metadata.update(metadata)
            _record_logs(instance, context)
            txn.save(instance)
            if cascade is None:
                return []
            return self._fire_in(txn, instance.task_name, cascade)

        ready = self.storage.transact(body)
        if cascade is not None and ready is not None:
            self._post_fire(context.task_name, self._hand_off(ready))

    def _retry(self, context: TaskContext, task: Any, request: RetryRequested) -> None:
        max_retries = int(getattr(task, "max_retries", DEFAULT_MAX_RETRIES))
        try:
            if context.depth >= max_retries:
                raise MaxRetriesExceeded(
                    f"{context.instance_name} asked for retry {context.depth + 1} "
                    f"but its task allows max_retries={max_retries}"
                )
            replacement = _check_kwargs(
                request.replacement_kwargs, "retry replacement kwargs"
            )
            extra = ensure_json_object(request.metadata, "retry metadata")
        except (MaxRetriesExceeded, InvalidKwargsError) as exc:
            # A retry that cannot happen fails the instance, so it is not
            # left ``running``.
            self._end(context, Status.FAILED, failure_metadata(exc))
            raise
        retry_info = {"cooldown": request.cooldown, **extra}

        def body(txn: Transaction) -> TaskInstance | None:
            instance = txn.instance(context.instance_name)
            if not _still_running(instance, Status.FAILED):
                return None
            new_status_timestamp(instance, Status.FAILED)
            instance.metadata["retry"] = retry_info
            _record_logs(instance, context)
            return self._replay_in(txn, instance, replacement, None)

        clone = self.storage.transact(body)
        if clone is None:
            return
        logger.info(
            "%s retries as %s in %.3gs",
            context.instance_name,
            clone.name,
            request.cooldown,
        )
        self._hand_off([clone], countdown=request.cooldown)

    # -- repair -----------------------------------------------------------

    def replay_failed_instance(
        self,
        failed_instance: InstanceRef,
        replacement_kwargs: Mapping[str, Any] | None = None,
        *,
        reason: str | None = None,
        source: str = "api",
    ) -> TaskInstance:
        """Replay a ``failed`` instance as a new instance; return the clone.

        The failed instance becomes ``replayed``. ``replacement_kwargs``
        (trigger name -> kwargs) replaces the clone's kwargs wholly; ``None``
        keeps them. Raises `InvalidStatusError` (a `ValueError`) if the
        instance is not ``failed``, e.g. because another operator was first.
        """
        name = _name_of(failed_instance)
        replacement = _check_kwargs(replacement_kwargs, "replacement kwargs")
        entry = _audit("replay", source, reason, replacedKwargs=replacement is not None)

        def body(txn: Transaction) -> TaskInstance:
            instance = txn.instance(name)
            if instance.status != Status.FAILED:
                raise InvalidStatusError(name, instance.status, Status.FAILED)
            return self._replay_in(txn, instance, replacement, entry)

        clone = self.storage.transact(body)
        logger.info("replayed %s as %s", name, clone.name)
        self._hand_off([clone])
        self._post_replay(clone)
        return clone

    def _replay_in(
        self,
        txn: Transaction,
        failed: TaskInstance,
        replacement: dict[str, Any] | None,
        entry: dict[str, Any] | None,
    ) -> TaskInstance:
        config = txn.task(failed.task_name)
        if config is None:
            raise UnknownTaskError(
                f"task {failed.task_name!r} of {failed.name!r} is gone"
            )
        clone = txn.new_instance(config)
        clone.kwargs = copy.deepcopy(
            failed.kwargs if replacement is None else replacement
        )
        clone.unless_kwargs = copy.deepcopy(failed.unless_kwargs)
        clone.metadata["parent"] = failed.name
        clone.metadata["depth"] = int(failed.metadata.get("depth", 0)) + 1
        new_status_timestamp(clone, Status.UNSTARTED)
        new_status_timestamp(clone, Status.SCHEDULED)
        txn.save(clone)

        new_status_timestamp(failed, Status.REPLAYED)
        failed.metadata.setdefault("replays", []).append(clone.name)
        if entry is not None:
            failed.metadata.setdefault("history", []).append(
                {**entry, "replay": clone.name}
            )
        txn.save(failed)
        return clone

    def skip_failed_instance(
        self,
        failed_instance: InstanceRef,
        cascade: bool = False,
        result: Mapping[str, Any] | None = None,
        *,
        reason: str | None = None,
        source: str = "api",
    ) -> TaskInstance:
        """Mark a ``failed`` instance ``skipped``; return it.

        With ``cascade=True`` the task's name fires with ``result`` as kwargs,
        as if the instance had finished with that result. Raises
        `InvalidStatusError` if the instance is not ``failed``.
        """
        name = _name_of(failed_instance)
        checked = ensure_json_object(result, f"result given to skip {name!r}")
        entry = _audit("skip", source, reason, cascade=bool(cascade))

        def body(txn: Transaction) -> tuple[TaskInstance, list[TaskInstance]]:
            instance = txn.instance(name)
            if instance.status != Status.FAILED:
                raise InvalidStatusError(name, instance.status, Status.FAILED)
            new_status_timestamp(instance, Status.SKIPPED)
            instance.metadata["cascade"] = bool(cascade)
            instance.metadata["result"] = checked
            instance.metadata.setdefault("history", []).append(entry)
            txn.save(instance)
            ready = self._fire_in(txn, instance.task_name, checked) if cascade else []
            return instance, ready

        instance, ready = self.storage.transact(body)
        logger.info("skipped %s (cascade=%s)", name, bool(cascade))
        if cascade:
            self._post_fire(instance.task_name, self._hand_off(ready))
        self._post_skip(instance, bool(cascade))
        return instance

    def update_instance_status(
        self,
        instance: InstanceRef,
        status: str,
        metadata: Mapping[str, Any] | None = None,
        cascade: bool = False,
        cascade_kwargs: Mapping[str, Any] | None = None,
    ) -> TaskInstance:
        """Set an instance's status by hand (merging ``metadata``); optionally
        fire its task's name with ``cascade_kwargs``. Only the record changes:
        setting ``scheduled`` does not hand the instance to a runner.
        """
        name = _name_of(instance)
        try:
            new_status = Status(status)
        except ValueError:
            raise ValueError(
                f"unknown status {status!r} for {name!r}; one of {', '.join(Status)}"
            ) from None
        extra = ensure_json_object(metadata, f"metadata for {name!r}")
        kwargs = ensure_json_object(cascade_kwargs, f"cascade kwargs for {name!r}")

        def body(txn: Transaction) -> tuple[TaskInstance, list[TaskInstance]]:
            found = txn.instance(name)
            new_status_timestamp(found, new_status)
            found.metadata.update(extra)
            txn.save(found)
            ready = self._fire_in(txn, found.task_name, kwargs) if cascade else []
            return found, ready

        found, ready = self.storage.transact(body)
        if cascade:
            self._post_fire(found.task_name, self._hand_off(ready))
        return found

    def update_instance_metadata(
        self, instance: InstanceRef, metadata: Mapping[str, Any]
    ) -> TaskInstance:
        """Merge ``metadata`` (a JSON object) into an instance's metadata."""
        name = _name_of(instance)
        extra = ensure_json_object(metadata, f"metadata for {name!r}")

        def body(txn: Transaction) -> TaskInstance:
            found = txn.instance(name)
            found.metadata.update(extra)
            txn.save(found)
            return found

        return self.storage.transact(body)

    def mark_instance_logs_resolved(
        self, instance: InstanceRef, *, reason: str | None = None, source: str = "api"
    ) -> TaskInstance:
        """Acknowledge an instance's ERROR logs so they stop counting as open."""
        name = _name_of(instance)
        entry = _audit("resolve-logs", source, reason)

        def body(txn: Transaction) -> TaskInstance:
            found = txn.instance(name)
            found.metadata["logsResolved"] = True
            found.metadata.setdefault("history", []).append(entry)
            txn.save(found)
            return found

        return self.storage.transact(body)

    # -- hooks ------------------------------------------------------------

    def _post_fire(
        self, trigger_name: str, scheduled_instances: list[TaskInstance]
    ) -> None:
        """Called after a fire or cascade committed and its instances were
        handed to their runners, outside the write."""

    def _post_replay(self, instance: TaskInstance) -> None:
        """Called after a replay, with the new (clone) instance."""

    def _post_skip(self, instance: TaskInstance, cascade: bool) -> None:
        """Called after a skip, and after its cascade if it had one."""


def resolve_task(reference: str) -> Any:
    """The callable a ``run`` directive names: a registered name or an import path.

    A `TriggerTask` subclass is instantiated. Raises `TaskResolutionError`.
    """
    try:
        target = registry.resolve("tasks", reference)
    except RegistryError:
        try:
            target = registry.import_path(reference)
        except RegistryError as exc:
            raise TaskResolutionError(
                f"cannot resolve task {reference!r}: {exc}"
            ) from None
    if isinstance(target, type) and issubclass(target, TriggerTask):
        target = target()
    if not callable(target):
        raise TaskResolutionError(f"task {reference!r} is not callable: {target!r}")
    return target


def failure_metadata(exc: BaseException) -> dict[str, Any]:
    """How a failure is stored: traceback, dotted type, message, context."""
    kind = type(exc)
    dotted = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return {
        "exceptionInfo": "".join(traceback.format_exception(exc)),
        "exceptionType": dotted,
        "exceptionMessage": str(exc),
        "exceptionContext": _jsonable(getattr(exc, "context", None)),
    }


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    try:
        dumps(value)
    except (TypeError, ValueError):
        if isinstance(value, Mapping):
            return {str(k): _jsonable(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [_jsonable(v) for v in value]
        return repr(value)
    return value


def _still_running(instance: TaskInstance, outcome: str) -> bool:
    """Whether a run may record its ``outcome``; an operator may have changed
    the instance while it ran, and their change wins."""
    if instance.status == Status.RUNNING:
        return True
    logger.warning(
        "%s ended as %s but is now %s; keeping the change made meanwhile",
        instance.name,
        outcome,
        instance.status,
    )
    return False


def _record_logs(instance: TaskInstance, context: TaskContext) -> None:
    level = context.logger.highest_level_name
    if level is not None:
        instance.metadata["logLevel"] = level
        instance.metadata["logs"] = context.logger.records


def _offer(
    instance: TaskInstance, config: TaskConfig, trigger: str, kwargs: dict[str, Any]
) -> bool:
    # Instances may share ``kwargs``: within a transaction nothing mutates
    # trigger kwargs, and each instance is serialised on its own.
    took = False
    if trigger in config.after and trigger not in instance.kwargs:
        instance.kwargs[trigger] = kwargs
        took = True
    if trigger in config.unless and trigger not in instance.unless_kwargs:
        instance.unless_kwargs[trigger] = kwargs
        took = True
    return took


def _audit(
    action: str, source: str, reason: str | None, **details: Any
) -> dict[str, Any]:
    if reason is not None and not isinstance(reason, str):
        raise ValueError(f"reason must be a string, got {type(reason).__name__}")
    return {
        "action": action,
        "at": time.time(),
        "by": f"{_user()}@{socket.gethostname()}",
        "source": source,
        "reason": reason or None,
        **details,
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _name_of(instance: InstanceRef) -> str:
    name = instance.name if isinstance(instance, TaskInstance) else instance
    if not isinstance(name, str) or "#" not in name:
        raise ValueError(
            f"expected an instance or an instance name ('<task>#<n>'), got {name!r}"
        )
    return name


def _check_trigger_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidKwargsError(
            f"trigger name must be a non-empty string, got {name!r}"
        )


def _check_kwargs(value: Mapping[str, Any] | None, what: str) -> dict[str, Any] | None:
    """Validate instance kwargs: an object mapping trigger names to objects."""
    if value is None:
        return None
    checked = ensure_json_object(value, what)
    for trigger, kwargs in checked.items():
        if not isinstance(kwargs, dict):
            raise InvalidKwargsError(
                f"{what}: the value for trigger {trigger!r} must be a JSON object, "
                f"got {type(kwargs).__name__}"
            )
    return checked
