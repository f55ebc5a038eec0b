"""update_configuration: directives, validation, all-or-nothing."""

from __future__ import annotations

import pytest

from triggers_core import ConfigurationError, SessionStorage, TriggerManager
from triggers_core.runners import ThreadingTaskRunner

PASS = "triggers_core.testing.PassThruTask"


def test_directives_are_stored(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {
            "t_a": {
                "after": ["x", "y"],
                "run": PASS,
                "andEvery": "page",
                "unless": ["stop"],
                "withParams": {"x": {"k": 1}},
                "using": "threading",
                "priority": "high",
            }
        }
    )
    config = storage.tasks["t_a"]
    assert config.after == ("x", "y", "page")  # andEvery joins after
    assert config.and_every == "page"
    assert config.unless == ("stop",)
    assert config.with_params == {"x": {"k": 1}}
    assert config.using == "threading"
    assert config.extras == {"priority": "high"}
    assert config.to_json()["andEvery"] == "page"


def test_update_replaces_tasks(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration({"t_a": {"after": ["x"], "run": PASS}})
    manager.update_configuration({"t_a": {"after": ["y"], "run": PASS}})
    assert storage.tasks["t_a"].after == ("y",)
    manager.fire("x")
    assert storage.instances_of_task("t_a") == []
    manager.fire("y")
    assert [i.name for i in storage.instances_of_task("t_a")] == ["t_a#0"]


@pytest.mark.parametrize(
    ("directives", "message"),
    [
        ({"run": PASS}, "'after': is required"),
        ({"after": ["x"]}, "'run': is required"),
        ({"after": "x", "run": PASS}, "'after': must be a list"),
        ({"after": [], "run": PASS}, "'after': must name at least one"),
        ({"after": [3], "run": PASS}, "'after': trigger names must be"),
        ({"after": ["x"], "run": 5}, "'run': must be the name"),
        ({"after": ["x"], "run": PASS, "andEvery": ["p"]}, "'andEvery'"),
        ({"after": ["x"], "run": PASS, "unless": "stop"}, "'unless'"),
        ({"after": ["x"], "run": PASS, "withParams": {"x": 1}}, "'withParams'"),
        ({"after": ["x"], "run": PASS, "withParams": [1]}, "'withParams'"),
        ({"after": ["x"], "run": PASS, "using": "nope"}, "'using'"),
        ({"after": ["t_bad"], "run": PASS}, "own name"),
    ],
)
def test_bad_directives_name_task_and_directive(
    manager: TriggerManager, storage: SessionStorage, directives: dict, message: str
) -> None:
    with pytest.raises(ConfigurationError, match="t_bad") as info:
        manager.update_configuration({"t_bad": directives})
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_update_is_all_or_nothing(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration({"t_keep": {"after": ["x"], "run": PASS}})
    with pytest.raises(ConfigurationError):
        manager.update_configuration(
            {
                "t_keep": {"after": ["changed"], "run": PASS},
                "t_new": {"after": ["x"], "run": PASS},
                "t_bad": {"after": ["x"]},
            }
        )
    assert list(storage.tasks) == ["t_keep"]
    assert storage.tasks["t_keep"].after == ("x",)


def test_configuration_must_be_a_mapping(manager: TriggerManager) -> None:
    with pytest.raises(ConfigurationError, match="must map task names"):
        manager.update_configuration([("t_a", {})])  # type: ignore[arg-type]


def test_triggers_fired_before_update_do_not_create_instances(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.fire("x", {"early": True})
    manager.update_configuration({"t_a": {"after": ["x", "y"], "run": PASS}})
    assert storage.instances_of_task("t_a") == []
    # ...but their latest kwargs are there for instances created later.
    manager.fire("y", {"late": True})
    ThreadingTaskRunner.join_all()
    assert storage["t_a#0"].metadata["result"] == {
        "kwargs": {"x": {"early": True}, "y": {"late": True}}
    }
