"""Replaying and skipping failed instances, changing instances by hand, hooks."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from triggers_core import (
    InvalidKwargsError,
    InvalidStatusError,
    SessionStorage,
    Status,
    TaskInstance,
    TriggerManager,
    UnknownInstanceError,
)
from triggers_core.runners import ThreadingTaskRunner
from triggers_core.testing import assert_finished, assert_statuses

PASS = "triggers_core.testing.PassThruTask"
FAIL = "triggers_core.testing.FailingTask"


def join() -> None:
    assert ThreadingTaskRunner.join_all(timeout=60)


@pytest.fixture
def failed(manager: TriggerManager, storage: SessionStorage) -> str:
    """``t_flaky#0`` failed; ``t_after`` waits for it; run is switchable."""
    manager.update_configuration(
        {
            "t_flaky": {"after": ["go"], "run": FAIL},
            "t_after": {"after": ["t_flaky"], "run": PASS},
        }
    )
    manager.fire("go", {"k": "original"})
    join()
    assert storage["t_flaky#0"].status == Status.FAILED
    return "t_flaky#0"


def fix_task(manager: TriggerManager) -> None:
    manager.update_configuration({"t_flaky": {"after": ["go"], "run": PASS}})


def test_replay_keeps_kwargs(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    fix_task(manager)
    clone = manager.replay_failed_instance(failed)
    assert clone.name == "t_flaky#1"
    join()
    original = storage[failed]
    assert original.status == Status.REPLAYED
    assert "exceptionInfo" in original.metadata  # keeps everything it had
    assert original.metadata["replays"] == ["t_flaky#1"]
    assert storage["t_flaky#1"].metadata["parent"] == failed
    assert storage["t_flaky#1"].metadata["depth"] == 1
    result = assert_finished(storage, "t_flaky#1")
    assert result == {"kwargs": {"go": {"k": "original"}}}
    assert_finished(storage, "t_after#0")  # the replay cascades


def test_replay_with_replacement_kwargs(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    fix_task(manager)
    manager.replay_failed_instance(failed, replacement_kwargs={"go": {"k": "edited"}})
    join()
    assert storage["t_flaky#1"].kwargs == {"go": {"k": "edited"}}
    assert assert_finished(storage, "t_flaky#1") == {"kwargs": {"go": {"k": "edited"}}}


def test_replay_with_empty_replacement_means_no_kwargs(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    fix_task(manager)
    manager.replay_failed_instance(failed, replacement_kwargs={})
    join()
    assert assert_finished(storage, "t_flaky#1") == {"kwargs": {}}


def test_replay_that_fails_again_can_be_replayed(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    manager.replay_failed_instance(failed)
    join()
    manager.replay_failed_instance("t_flaky#1")
    join()
    assert_statuses(
        storage,
        {"t_flaky#0": "replayed", "t_flaky#1": "replayed", "t_flaky#2": "failed"},
    )
    assert storage["t_flaky#2"].metadata["depth"] == 2


def test_replay_records_history(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    manager.replay_failed_instance(failed, reason="upstream fixed", source="dashboard")
    join()
    (entry,) = storage[failed].metadata["history"]
    assert entry["action"] == "replay"
    assert entry["reason"] == "upstream fixed"
    assert entry["source"] == "dashboard"
    assert entry["replay"] == "t_flaky#1"
    assert "@" in entry["by"] and entry["at"] > 0


def test_skip_without_cascade(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    instance = manager.skip_failed_instance(failed)
    join()
    assert instance.status == Status.SKIPPED
    assert storage[failed].status == Status.SKIPPED
    assert storage[failed].metadata["cascade"] is False
    assert storage.instances_of_task("t_after") == []
    assert storage.get_unresolved_instances() == []


def test_skip_with_cascade_and_result(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    manager.skip_failed_instance(failed, cascade=True, result={"simulated": 1})
    join()
    skipped = storage[failed]
    assert skipped.metadata["cascade"] is True
    assert skipped.metadata["result"] == {"simulated": 1}
    result = assert_finished(storage, "t_after#0")
    assert result == {"kwargs": {"t_flaky": {"simulated": 1}}}


@pytest.mark.parametrize("action", ["replay", "skip"])
def test_only_failed_instances_can_be_repaired(
    manager: TriggerManager, storage: SessionStorage, failed: str, action: str
) -> None:
    manager.skip_failed_instance(failed)
    before = storage.debug_repr()
    with pytest.raises(InvalidStatusError) as info:
        if action == "replay":
            manager.replay_failed_instance(failed)
        else:
            manager.skip_failed_instance(failed, cascade=True)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == (
        "instance 't_flaky#0' is 'skipped'; only a 'failed' instance can be "
        "replayed or skipped"
    )
    assert storage.debug_repr() == before


def test_repairing_an_unknown_instance(manager: TriggerManager) -> None:
    with pytest.raises(UnknownInstanceError, match="t_none#0"):
        manager.replay_failed_instance("t_none#0")
    with pytest.raises(ValueError, match="instance name"):
        manager.skip_failed_instance("t_none")


@pytest.mark.parametrize(
    "replacement",
    [[1], {"go": "not an object"}, {"go": {"n": float("inf")}}],
)
def test_bad_replacement_kwargs_change_nothing(
    manager: TriggerManager, storage: SessionStorage, failed: str, replacement: Any
) -> None:
    before = storage.debug_repr()
    with pytest.raises(InvalidKwargsError):
        manager.replay_failed_instance(failed, replacement_kwargs=replacement)
    if replacement != {"go": "not an object"}:  # a fine result, bad kwargs
        with pytest.raises(InvalidKwargsError):
            manager.skip_failed_instance(failed, cascade=True, result=replacement)
    assert storage.debug_repr() == before


def test_two_operators_replaying_at_once_one_wins(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    fix_task(manager)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def operator(n: int) -> None:
        barrier.wait()
        try:
            if n % 2:
                manager.replay_failed_instance(failed)
                outcomes.append("replayed")
            else:
                manager.skip_failed_instance(failed, cascade=True)
                outcomes.append("skipped")
        except InvalidStatusError:
            outcomes.append("refused")

    threads = [threading.Thread(target=operator, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    join()
    assert outcomes.count("refused") == 7
    assert len(storage.instances_of_task("t_after")) == 1
    winner = storage[failed].status
    assert winner in (Status.REPLAYED, Status.SKIPPED)
    assert len(storage.instances_of_task("t_flaky")) == (
        2 if winner == "replayed" else 1
    )


def test_update_instance_status_and_metadata(
    manager: TriggerManager, storage: SessionStorage, failed: str
) -> None:
    manager.update_instance_metadata(failed, {"note": "looked at it"})
    manager.update_instance_status(
        failed,
        "finished",
        metadata={"by": "hand"},
        cascade=True,
        cascade_kwargs={"v": 1},
    )
    join()
    instance = storage[failed]
    assert instance.status == Status.FINISHED
    assert instance.metadata["note"] == "looked at it"
    assert instance.metadata["by"] == "hand"
    assert "finished" in instance.metadata["timestamps"]
    assert assert_finished(storage, "t_after#0") == {"kwargs": {"t_flaky": {"v": 1}}}
    with pytest.raises(ValueError, match="unknown status 'done'"):
        manager.update_instance_status(failed, "done")


class HookedManager(TriggerManager):
    name = "hooked-test"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[Any, ...]] = []

    def _post_fire(self, trigger_name: str, scheduled: list[TaskInstance]) -> None:
        self.calls.append(("fire", trigger_name, [i.name for i in scheduled]))
        if not self.storage.get_unresolved_instances() and trigger_name != "finalized":
            self.fire("finalized")

    def _post_replay(self, instance: TaskInstance) -> None:
        self.calls.append(("replay", instance.name))

    def _post_skip(self, instance: TaskInstance, cascade: bool) -> None:
        self.calls.append(("skip", instance.name, cascade))


def test_hooks(storage: SessionStorage) -> None:
    manager = HookedManager(storage)
    manager.update_configuration(
        {
            "t_a": {"after": ["go"], "run": FAIL},
            "t_b": {"after": ["t_a"], "run": PASS},
        }
    )
    manager.fire("go")
    join()
    manager.replay_failed_instance("t_a#0")
    join()
    manager.skip_failed_instance("t_a#1", cascade=True, result={"r": 1})
    join()
    assert manager.calls[0] == ("fire", "go", ["t_a#0"])
    assert ("replay", "t_a#1") in manager.calls
    skip_at = manager.calls.index(("skip", "t_a#1", True))
    assert manager.calls[skip_at - 1] == ("fire", "t_a", ["t_b#0"])
    assert ("fire", "finalized", []) in manager.calls
