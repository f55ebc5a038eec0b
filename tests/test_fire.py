"""Firing triggers: instance creation, andEvery, unless, withParams, cascades."""

from __future__ import annotations

import math

import pytest

from triggers_core import (
    InvalidKwargsError,
    SessionStorage,
    Status,
    TriggerManager,
    UnknownInstanceError,
)
from triggers_core.runners import ThreadingTaskRunner
from triggers_core.testing import assert_finished, assert_statuses

PASS = "triggers_core.testing.PassThruTask"
DEVNULL = "triggers_core.testing.DevNullTask"


def join() -> None:
    assert ThreadingTaskRunner.join_all(timeout=60)


def test_semantics_example(manager: TriggerManager, storage: SessionStorage) -> None:
    manager.update_configuration(
        {
            "t_importSubject": {
                "after": ["firstPageReceived", "questionnaireComplete"],
                "run": DEVNULL,
            }
        }
    )
    assert [t.name for t in storage.get_unresolved_tasks()] == ["t_importSubject"]
    assert storage.get_unresolved_instances() == []

    manager.fire("firstPageReceived")
    instance = storage.instances["t_importSubject#0"]
    assert instance.status == Status.UNSTARTED
    assert instance.can_schedule and not instance.can_run
    assert instance.waiting_for == ("questionnaireComplete",)
    assert [i.name for i in storage.get_unresolved_instances()] == ["t_importSubject#0"]
    with pytest.raises(KeyError):
        storage.instances["t_importSubject"]


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_runs_after_all_triggers_in_any_order(
    manager: TriggerManager, storage: SessionStorage, order: tuple[str, str]
) -> None:
    manager.update_configuration({"t_x": {"after": ["a", "b"], "run": PASS}})
    manager.fire(order[0], {"n": order[0]})
    assert storage["t_x#0"].status == Status.UNSTARTED
    scheduled = manager.fire(order[1], {"n": order[1]})
    assert [i.name for i in scheduled] == ["t_x#0"]
    join()
    result = assert_finished(storage, "t_x#0")
    assert result == {"kwargs": {"a": {"n": "a"}, "b": {"n": "b"}}}


def test_one_shot_task_runs_once(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration({"t_x": {"after": ["a"], "run": PASS}})
    manager.fire("a", {"n": 1})
    join()
    manager.fire("a", {"n": 2})
    join()
    assert [i.name for i in storage.instances_of_task("t_x")] == ["t_x#0"]
    assert storage.latest_kwargs["a"] == {"n": 2}


def test_instance_keeps_first_kwargs_of_a_trigger(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration({"t_x": {"after": ["a", "b"], "run": PASS}})
    manager.fire("a", {"n": 1})
    manager.fire("a", {"n": 2})
    assert storage["t_x#0"].kwargs == {"a": {"n": 1}}
    assert len(storage.instances_of_task("t_x")) == 1


def test_and_every_creates_one_instance_per_firing(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {"t_page": {"after": ["start"], "andEvery": "page", "run": PASS}}
    )
    manager.fire("page", {"p": 1})
    manager.fire("page", {"p": 2})
    names = [i.name for i in storage.instances_of_task("t_page")]
    assert names == ["t_page#0", "t_page#1"]
    assert all(
        i.status == Status.UNSTARTED for i in storage.instances_of_task("t_page")
    )

    manager.fire("start", {"s": 1})  # both waiting instances take it and run
    manager.fire("page", {"p": 3})  # a new one, complete at once
    join()
    results = [assert_finished(storage, f"t_page#{n}") for n in range(3)]
    assert [r["kwargs"]["page"]["p"] for r in results] == [1, 2, 3]
    assert all(r["kwargs"]["start"] == {"s": 1} for r in results)


def test_unless_abandons_waiting_instance(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {"t_x": {"after": ["a", "b"], "unless": ["cancel"], "run": PASS}}
    )
    manager.fire("a")
    manager.fire("cancel", {"why": "user left"})
    instance = storage["t_x#0"]
    assert instance.status == Status.ABANDONED
    assert instance.unless_kwargs == {"cancel": {"why": "user left"}}
    manager.fire("b")
    join()
    assert storage["t_x#0"].status == Status.ABANDONED
    assert storage.get_unresolved_tasks() == []


def test_unless_fired_first_abandons_new_instance(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {"t_x": {"after": ["a"], "unless": ["embedded"], "run": PASS}}
    )
    manager.fire("embedded")
    assert storage["t_x#0"].status == Status.ABANDONED
    assert manager.fire("a") == []


def test_unless_needs_every_unless_trigger(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {"t_x": {"after": ["a", "b"], "unless": ["u1", "u2"], "run": PASS}}
    )
    manager.fire("a")
    manager.fire("u1")
    assert storage["t_x#0"].can_schedule and not storage["t_x#0"].can_abandon
    manager.fire("u2")
    assert storage["t_x#0"].status == Status.ABANDONED


def test_unless_does_not_stop_a_finished_instance(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {"t_x": {"after": ["a"], "unless": ["u"], "run": PASS}}
    )
    manager.fire("a")
    join()
    manager.fire("u")
    assert storage["t_x#0"].status == Status.FINISHED


def test_with_params_merge_under_instance_kwargs(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {
            "t_x": {
                "after": ["a"],
                "run": PASS,
                "withParams": {
                    "a": {"k": "static", "deep": {"s": 1, "t": 1}},
                    "z": {"q": 1},
                },
            }
        }
    )
    manager.fire("a", {"k": "fired", "deep": {"t": 2}})
    join()
    result = assert_finished(storage, "t_x#0")
    expected = {"a": {"k": "fired", "deep": {"s": 1, "t": 2}}, "z": {"q": 1}}
    assert result == {"kwargs": expected}
    assert storage["t_x#0"].metadata["actualKwargs"] == expected
    assert storage["t_x#0"].kwargs == {"a": {"k": "fired", "deep": {"t": 2}}}


def test_cascade_fires_task_name_with_result(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {
            "t_first": {"after": ["go"], "run": PASS},
            "t_second": {"after": ["t_first"], "run": PASS},
            "t_third": {"after": ["t_second", "t_first"], "run": DEVNULL},
        }
    )
    manager.fire("go", {"v": 1})
    join()
    assert_statuses(
        storage,
        {"t_first#0": "finished", "t_second#0": "finished", "t_third#0": "finished"},
    )
    second = assert_finished(storage, "t_second#0")
    assert second == {"kwargs": {"t_first": {"kwargs": {"go": {"v": 1}}}}}
    assert storage.latest_kwargs["t_first"] == {"kwargs": {"go": {"v": 1}}}


def test_task_can_fire_more_triggers(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {
            "t_a": {"after": ["go"], "run": "tests.tasks.fire_more"},
            "t_b": {"after": ["fromTask"], "run": PASS},
        }
    )
    manager.fire("go")
    join()
    assert assert_finished(storage, "t_b#0") == {
        "kwargs": {"fromTask": {"by": "t_a#0"}}
    }


def test_using_selects_a_registered_runner(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    from triggers_core import register
    from triggers_core.runners import TaskRunner

    seen: list[str] = []

    class RecordingRunner(TaskRunner):
        name = "recording"

        def schedule(self, manager, instance, countdown=0.0):  # type: ignore[no-untyped-def]
            seen.append(instance.name)
            manager.run_instance(instance.name)

    register("runners", "recording", RecordingRunner)
    manager.update_configuration(
        {
            "t_local": {"after": ["go"], "run": PASS},
            "t_special": {"after": ["go"], "run": PASS, "using": "recording"},
        }
    )
    manager.fire("go")
    join()
    assert seen == ["t_special#0"]
    assert_statuses(storage, {"t_local#0": "finished", "t_special#0": "finished"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ("text", "must be a JSON object"),
        ({"when": object()}, "cannot be stored as JSON"),
        ({"n": math.nan}, "cannot be stored as JSON"),
        ({1: "x", (1, 2): "y"}, "cannot be stored as JSON"),
    ],
)
def test_bad_trigger_kwargs_are_refused_before_writing(
    manager: TriggerManager, storage: SessionStorage, kwargs: object, message: str
) -> None:
    manager.update_configuration({"t_x": {"after": ["a"], "run": PASS}})
    before = storage.version
    with pytest.raises(InvalidKwargsError, match=message) as info:
        manager.fire("a", kwargs)  # type: ignore[arg-type]
    assert "'a'" in str(info.value)
    assert storage.version == before
    assert storage.instances_of_task("t_x") == []
    assert "a" not in storage.latest_kwargs


def test_bad_trigger_name_is_refused(manager: TriggerManager) -> None:
    with pytest.raises(InvalidKwargsError, match="trigger name"):
        manager.fire("")
    with pytest.raises(ValueError, match="trigger name"):
        manager.fire(None)  # type: ignore[arg-type]


def test_fire_kwargs_are_copied(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration({"t_x": {"after": ["a", "b"], "run": PASS}})
    kwargs = {"list": [1]}
    manager.fire("a", kwargs)
    kwargs["list"].append(2)
    assert storage["t_x#0"].kwargs == {"a": {"list": [1]}}


def test_unknown_instance_is_a_key_error(storage: SessionStorage) -> None:
    with pytest.raises(UnknownInstanceError):
        storage["t_nope#0"]
    with pytest.raises(KeyError):
        storage.instances["t_nope#3"]
