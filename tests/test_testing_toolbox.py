"""The testing toolbox's assertion helpers explain their failures."""

from __future__ import annotations

import pytest

from triggers_core import SessionStorage, TriggerManager
from triggers_core.runners import ThreadingTaskRunner
from triggers_core.testing import (
    assert_failed,
    assert_finished,
    assert_instance_status,
    assert_statuses,
)


@pytest.fixture
def failed_session(manager: TriggerManager, storage: SessionStorage) -> SessionStorage:
    manager.update_configuration(
        {"t_x": {"after": ["go"], "run": "triggers_core.testing.FailingTask"}}
    )
    manager.fire("go", {"k": 1})
    assert ThreadingTaskRunner.join_all(timeout=60)
    return storage


def test_failure_message_has_traceback_and_state(
    failed_session: SessionStorage,
) -> None:
    with pytest.raises(AssertionError) as info:
        assert_finished(failed_session, "t_x#0")
    message = str(info.value)
    assert "expected t_x#0 to be finished" in message
    assert "t_x#0: failed" in message
    assert "Traceback (most recent call last)" in message
    assert '"go"' in message


def test_missing_instance_lists_known(failed_session: SessionStorage) -> None:
    with pytest.raises(
        AssertionError, match=r"no instance 't_y#0' \(instances: t_x#0\)"
    ):
        assert_instance_status(failed_session, "t_y#0", "failed")


def test_helpers_pass_on_matching_state(failed_session: SessionStorage) -> None:
    assert assert_failed(failed_session, "t_x#0", "RuntimeError").name == "t_x#0"
    assert_statuses(failed_session, {"t_x#0": "failed"})
    with pytest.raises(AssertionError, match="t_x#1: missing"):
        assert_statuses(failed_session, {"t_x#0": "failed", "t_x#1": "finished"})
    with pytest.raises(AssertionError, match="to fail with KeyError"):
        assert_failed(failed_session, "t_x#0", "KeyError")
