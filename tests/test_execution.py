"""Running instances: statuses, failures, skips, retries, logs, timestamps."""

from __future__ import annotations

import pytest

from triggers_core import SessionStorage, Status, TriggerManager
from triggers_core.runners import ThreadingTaskRunner
from triggers_core.testing import (
    assert_failed,
    assert_finished,
    assert_instance_status,
    assert_statuses,
)

PASS = "triggers_core.testing.PassThruTask"


def join() -> None:
    assert ThreadingTaskRunner.join_all(timeout=60)


def run_one(manager: TriggerManager, run: str, kwargs: dict | None = None) -> None:
    manager.update_configuration({"t_x": {"after": ["go"], "run": run}})
    manager.fire("go", kwargs)
    join()


def test_finished_records_result_and_timestamps(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, PASS, {"k": 1})
    instance = storage["t_x#0"]
    assert instance.status == Status.FINISHED and instance.is_resolved
    assert instance.metadata["result"] == {"kwargs": {"go": {"k": 1}}}
    stamps = instance.metadata["timestamps"]
    assert stamps["created"] <= stamps["scheduled"] <= stamps["running"]
    assert stamps["running"] <= stamps["finished"] <= stamps["lastModified"]
    assert instance.metadata["actualKwargs"] == {"go": {"k": 1}}


def test_none_result_means_empty(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "triggers_core.testing.DevNullTask")
    assert assert_finished(storage, "t_x#0") == {}


def test_failure_records_traceback_type_and_context(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {
            "t_x": {"after": ["go"], "run": "triggers_core.testing.FailingTask"},
            "t_next": {"after": ["t_x"], "run": PASS},
        }
    )
    manager.fire("go", {"k": 1})
    join()
    instance = assert_failed(storage, "t_x#0", "RuntimeError")
    metadata = instance.metadata
    assert "Traceback (most recent call last)" in metadata["exceptionInfo"]
    assert "failed on purpose" in metadata["exceptionInfo"]
    assert metadata["exceptionContext"] == {"kwargs": {"go": {"k": 1}}}
    assert instance.can_replay and instance.can_skip and not instance.is_resolved
    assert storage.instances_of_task("t_next") == []  # failures do not cascade


def test_exception_type_is_dotted(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "triggers_core.demo.score_responses")
    instance = assert_failed(storage, "t_x#0", "triggers_core.demo.ScoringError")
    assert "ZeroDivisionError" in instance.metadata["exceptionInfo"]


def test_non_mapping_result_is_a_failure(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "tests.tasks.return_list")
    instance = assert_failed(storage, "t_x#0", "TypeError")
    assert "must return a mapping" in instance.metadata["exceptionMessage"]


def test_unserialisable_result_is_a_failure(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "tests.tasks.return_unserialisable")
    instance = assert_failed(storage, "t_x#0")
    assert "cannot be stored as JSON" in instance.metadata["exceptionMessage"]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("no_such_module_xyz.task", "cannot import"),
        ("tests.tasks.missing", "has no attribute"),
        ("tests.tasks.not_callable", "not callable"),
        ("bare", "not an import path"),
    ],
)
def test_unresolvable_task_fails_the_instance(
    manager: TriggerManager, storage: SessionStorage, reference: str, message: str
) -> None:
    run_one(manager, reference)
    instance = assert_failed(
        storage, "t_x#0", "triggers_core.errors.TaskResolutionError"
    )
    assert message in instance.metadata["exceptionMessage"]


def test_registered_task_name(manager: TriggerManager, storage: SessionStorage) -> None:
    from triggers_core import register

    register("tasks", "double", lambda ctx: {"n": ctx.trigger_kwargs["go"]["n"] * 2})
    run_one(manager, "double", {"n": 21})
    assert assert_finished(storage, "t_x#0") == {"n": 42}


def test_self_skipping_task(manager: TriggerManager, storage: SessionStorage) -> None:
    manager.update_configuration(
        {
            "t_x": {"after": ["go"], "run": "triggers_core.testing.SelfSkippingTask"},
            "t_next": {"after": ["t_x"], "run": PASS},
        }
    )
    manager.fire("go", {"k": 1})
    join()
    instance = assert_instance_status(storage, "t_x#0", Status.SKIPPED)
    assert instance.metadata["kwargs"] == {"go": {"k": 1}}
    assert storage.instances_of_task("t_next") == []


def test_self_retrying_task_retries_until_max(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {
            "t_x": {
                "after": ["go"],
                "run": "triggers_core.testing.SelfRetryingTask",
                "withParams": {"retries": {"max": 2}},
            },
            "t_next": {"after": ["t_x"], "run": PASS},
        }
    )
    manager.fire("go")
    join()
    assert_statuses(
        storage,
        {"t_x#0": "replayed", "t_x#1": "replayed", "t_x#2": "finished"},
    )
    assert storage["t_x#2"].metadata["result"] == {"count": 2}
    assert storage["t_x#1"].metadata["parent"] == "t_x#0"
    assert storage["t_x#2"].metadata["depth"] == 2
    assert storage["t_x#0"].metadata["replays"] == ["t_x#1"]
    assert_finished(storage, "t_next#0")


def test_retry_with_replacement_kwargs_and_metadata(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "tests.tasks.RetryWithNewKwargs", {"x": "old"})
    assert storage["t_x#0"].status == Status.REPLAYED
    assert storage["t_x#0"].metadata["retry"] == {"cooldown": 0.01, "why": "transient"}
    assert storage["t_x#1"].kwargs == {"x": {"fixed": True}}
    assert assert_finished(storage, "t_x#1") == {"kwargs": {"x": {"fixed": True}}}


def test_retry_past_max_retries_fails(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "tests.tasks.AlwaysRetry")
    assert_statuses(storage, {"t_x#0": "replayed", "t_x#1": "replayed"})
    instance = assert_failed(
        storage, "t_x#2", "triggers_core.context.MaxRetriesExceeded"
    )
    assert "max_retries=2" in instance.metadata["exceptionMessage"]
    assert len(storage.instances_of_task("t_x")) == 3


def test_logs_record_highest_level(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {
            "t_err": {"after": ["go"], "run": "tests.tasks.log_error"},
            "t_warn": {"after": ["go"], "run": "tests.tasks.log_warning"},
            "t_quiet": {"after": ["go"], "run": PASS},
        }
    )
    manager.fire("go")
    join()
    assert storage["t_err#0"].metadata["logLevel"] == "ERROR"
    assert storage["t_err#0"].metadata["logs"][1]["message"] == (
        "something looks wrong: details"
    )
    assert storage["t_warn#0"].metadata["logLevel"] == "WARNING"
    assert "logLevel" not in storage["t_quiet#0"].metadata
    unresolved = storage.get_instances_with_unresolved_logs()
    assert [i.name for i in unresolved] == ["t_err#0"]

    manager.mark_instance_logs_resolved("t_err#0")
    assert storage.get_instances_with_unresolved_logs() == []
    assert storage["t_err#0"].metadata["logsResolved"] is True


def test_error_logs_of_settled_instances_are_resolved(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "triggers_core.demo.score_responses")
    assert [i.name for i in storage.get_instances_with_unresolved_logs()] == ["t_x#0"]
    manager.skip_failed_instance("t_x#0")
    assert storage.get_instances_with_unresolved_logs() == []


def test_run_instance_refuses_an_instance_not_scheduled(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "tests.tasks.record_run")
    from tests import tasks

    runs = tasks.RUNS.count("t_x#0")
    before = storage.version
    manager.run_instance("t_x#0")  # a duplicate delivery, say
    assert tasks.RUNS.count("t_x#0") == runs
    assert storage.version == before


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("tests.tasks.retry_with_bad_kwargs", "retry replacement kwargs"),
        ("tests.tasks.skip_with_unstorable_metadata", "skip metadata"),
    ],
)
def test_unusable_retry_or_skip_request_fails_the_instance(
    manager: TriggerManager, storage: SessionStorage, reference: str, message: str
) -> None:
    run_one(manager, reference)
    instance = assert_failed(
        storage, "t_x#0", "triggers_core.errors.InvalidKwargsError"
    )
    assert message in instance.metadata["exceptionMessage"]
    assert len(storage.instances_of_task("t_x")) == 1


def test_bad_log_format_does_not_fail_the_task(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    run_one(manager, "tests.tasks.log_badly")
    instance = storage["t_x#0"]
    assert instance.status == Status.FINISHED
    messages = [record["message"] for record in instance.metadata["logs"]]
    assert messages == ["100% done with %d of %d (3,)", "50% of the work"]


def test_an_operator_change_during_a_run_wins(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    import threading

    from tests import tasks

    tasks.GATE.clear()
    manager.update_configuration(
        {
            "t_x": {"after": ["go"], "run": "tests.tasks.wait_for_gate"},
            "t_next": {"after": ["t_x"], "run": PASS},
        }
    )
    manager.fire("go")
    while storage["t_x#0"].status != Status.RUNNING:
        threading.Event().wait(0.01)
    manager.update_instance_status("t_x#0", "failed", metadata={"by": "operator"})
    tasks.GATE.set()
    join()
    instance = storage["t_x#0"]
    assert instance.status == Status.FAILED
    assert "result" not in instance.metadata
    assert storage.instances_of_task("t_next") == []


def test_inline_runner_finishes_everything_before_fire_returns(
    storage: SessionStorage,
) -> None:
    manager = TriggerManager(storage, default_runner="inline")
    manager.update_configuration(
        {
            "t_x": {"after": ["go"], "run": PASS},
            "t_next": {"after": ["t_x"], "run": "triggers_core.testing.FailingTask"},
        }
    )
    scheduled = manager.fire("go", {"k": 1})  # the failure is not raised here
    assert [i.name for i in scheduled] == ["t_x#0"]
    assert_statuses(storage, {"t_x#0": "finished", "t_next#0": "failed"})
