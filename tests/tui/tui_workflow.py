"""A small questionnaire workflow for the dashboard's tests.

`seed` fires it so instances rest in every status the dashboard draws:
finished, failed (a real traceback with exception context), replayed and
failing again (a retry chain), skipped, abandoned and unstarted. Tasks are
named by import path, so a dashboard or writer in another process (the PTY
test, the benchmark) can run them with ``tests/tui`` on ``PYTHONPATH``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triggers_core import TaskContext, TriggerManager, TriggerTask, open_storage
from triggers_core.runners import ThreadingTaskRunner


class ImportTimeout(Exception):
    """What `FlakyImport` raises while its input is not fixed."""


class FlakyImport(TriggerTask):
    """Fails unless the kwargs of ``t_fetch`` say ``"fixed": true``."""

    def run(self, context: TaskContext) -> Mapping[str, Any]:
        fetched = context.trigger_kwargs.get("t_fetch", {})
        if fetched.get("fixed") is True:
            return {"imported": fetched.get("subject", "?")}
        context.logger.error("no answer from subjects.example")
        error = ImportTimeout(f"subject server timed out for {context.instance_name}")
        error.context = {"server": "subjects.example", "attempt": context.depth + 1}  # type: ignore[attr-defined]
        raise error


PASS = "triggers_core.testing.PassThruTask"
FLAKY = "tui_workflow.FlakyImport"

CONFIGURATION: dict[str, dict[str, Any]] = {
    "t_fetch": {"after": ["pageReceived"], "run": PASS},
    "t_import": {"after": ["t_fetch"], "run": FLAKY},
    "t_notify": {"after": ["t_import"], "run": PASS},
    "t_report": {"after": ["t_import", "reviewDone"], "run": PASS},
    "t_archive": {"after": ["sessionClosed"], "unless": ["cancelled"], "run": PASS},
    "t_survey": {"after": ["surveyPage"], "andEvery": "surveyPage", "run": FLAKY},
}


def seed(url: str, uid: str) -> TriggerManager:
    """Configure and fire the workflow in session ``uid``; wait for the tasks.

    Leaves: ``t_fetch#0`` finished; ``t_import#0`` replayed as ``t_import#1``
    which failed again (a retrying chain); ``t_survey#0`` failed;
    ``t_survey#1`` skipped; ``t_archive#0`` abandoned; ``t_report`` and
    ``t_notify`` without instances.
    """
    manager = TriggerManager(open_storage(url, uid))
    manager.update_configuration(CONFIGURATION)
    manager.fire("pageReceived", {"subject": "S-42", "page": 1})
    _join()
    manager.replay_failed_instance("t_import#0", reason="server was down")
    _join()
    manager.fire("surveyPage", {"page": 1})
    manager.fire("surveyPage", {"page": 2})
    _join()
    manager.skip_failed_instance("t_survey#1", reason="page 2 is optional")
    manager.fire("cancelled", {"by": "user"})
    manager.fire("sessionClosed", {})
    return manager


def _join() -> None:
    assert ThreadingTaskRunner.join_all(timeout=60), "task threads still running"
