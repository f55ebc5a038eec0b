"""The questionnaire demo: a session with an instance in every status.

A survey application fires ``firstPageReceived``, ``pageReceived`` (once per
page) and ``questionnaireComplete``; the tasks import the subject and the
responses, score them and notify people. Seeding leaves the session with:

* ``finished``: the subject import and each page's response import;
* ``failed``: the scoring task (a real ``ZeroDivisionError`` wrapped in a
  `ScoringError` with context), replayed once and failing again;
* ``replayed``: the first scoring attempt;
* ``skipped``: the thank-you e-mail, skipped by an operator;
* ``abandoned``: the browser-metadata import, as the survey is embedded;
* ``unstarted``: the reminder, still waiting for ``reminderDue``;
* ``running``: a slow norms computation, for ``slow_seconds``.

Run ``python -m triggers_core.demo`` to seed the default store.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .context import TaskContext
from .manager import TriggerManager
from .runners.base import TaskRunner
from .session import SessionStorage, open_storage
from .status import Status

logger = logging.getLogger(__name__)

# Not __name__: run as ``python -m triggers_core.demo`` that is "__main__",
# which no other process (a worker, the dashboard) could import.
_HERE = "triggers_core.demo"

CONFIGURATION: dict[str, dict[str, Any]] = {
    "t_importSubject": {
        "after": ["firstPageReceived", "questionnaireComplete"],
        "run": f"{_HERE}.import_subject",
    },
    "t_importResponses": {
        "after": ["t_importSubject"],
        "andEvery": "pageReceived",
        "run": f"{_HERE}.import_responses",
    },
    "t_importBrowserMetadata": {
        "after": ["t_importSubject", "pageReceived"],
        "unless": ["isEmbeddedApplication"],
        "run": f"{_HERE}.import_responses",
    },
    "t_scoreResponses": {
        "after": ["t_importResponses"],
        "run": f"{_HERE}.score_responses",
        "withParams": {"scoring": {"scale": "likert-5"}},
    },
    "t_sendThankYouEmail": {
        "after": ["t_importSubject"],
        "run": f"{_HERE}.send_thank_you_email",
    },
    "t_sendReminder": {
        "after": ["questionnaireComplete", "reminderDue"],
        "run": "triggers_core.testing.DevNullTask",
    },
    "t_computeNorms": {
        "after": ["t_importSubject"],
        "run": f"{_HERE}.compute_norms",
        "withParams": {"norms": {"seconds": 20}},
    },
}


class ScoringError(Exception):
    """Raised by the demo's scoring task; carries context for the operator."""

    def __init__(self, message: str, context: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.context = dict(context)


def import_subject(context: TaskContext) -> Mapping[str, Any]:
    first = context.trigger_kwargs.get("firstPageReceived", {})
    context.logger.info("importing subject %s", first.get("subject"))
    return {"subjectId": first.get("subject", "anonymous"), "imported": True}


def import_responses(context: TaskContext) -> Mapping[str, Any]:
    page = context.trigger_kwargs.get("pageReceived", {})
    return {"page": page.get("page"), "answers": len(page.get("answers", []))}


def score_responses(context: TaskContext) -> Mapping[str, Any]:
    responses = context.trigger_kwargs.get("t_importResponses", {})
    answers = [1] * int(responses.get("answers") or 0)
    scale = context.trigger_kwargs.get("scoring", {}).get("scale")
    try:
        mean = sum(answers) / len(answers)
    except ZeroDivisionError as exc:
        context.logger.error("no answers to score on page %s", responses.get("page"))
        raise ScoringError(
            "cannot score a questionnaire without answers",
            {"page": responses.get("page"), "scale": scale, "answers": len(answers)},
        ) from exc
    return {"mean": mean, "scale": scale}


def send_thank_you_email(context: TaskContext) -> Mapping[str, Any]:
    subject = context.trigger_kwargs.get("t_importSubject", {}).get("subjectId")
    raise ConnectionRefusedError(f"SMTP server refused the thank-you mail to {subject}")


def compute_norms(context: TaskContext) -> Mapping[str, Any]:
    seconds = float(context.trigger_kwargs.get("norms", {}).get("seconds", 20))
    context.logger.info("computing norms for %.0fs", seconds)
    time.sleep(seconds)
    return {"norms": "updated"}


def seed_demo(
    url: str | None = None,
    uid: str | None = None,
    *,
    slow_seconds: float = 20.0,
    live_pages: int = 0,
    live_interval: float = 3.0,
    timeout: float = 60.0,
    default_runner: str | TaskRunner = "threading",
) -> TriggerManager:
    """Seed the demo into session ``uid`` (default: a new ``demo-...`` UID).

    Returns once every instance but the slow one is at rest; the slow one
    runs in a thread of this process for ``slow_seconds``. With
    ``live_pages``, a thread then fires that many more ``pageReceived``
    triggers, one every ``live_interval`` seconds, so a viewer sees the
    session change. ``default_runner="inline"`` seeds without threads (the
    slow instance then finishes before this returns).
    """
    uid = uid or f"demo-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    storage = open_storage(url, uid)
    manager = TriggerManager(storage, default_runner=default_runner)
    configuration = dict(CONFIGURATION)
    configuration["t_computeNorms"] = {
        **CONFIGURATION["t_computeNorms"],
        "withParams": {"norms": {"seconds": slow_seconds}},
    }
    manager.update_configuration(configuration)

    manager.fire("isEmbeddedApplication", {"host": "survey.example.org"})
    manager.fire("firstPageReceived", {"subject": "S-0042", "page": 1})
    manager.fire("pageReceived", {"page": 1, "answers": []})
    manager.fire("pageReceived", {"page": 2, "answers": []})
    manager.fire("questionnaireComplete", {"pages": 2})
    _wait_for(storage, {"t_scoreResponses#0": Status.FAILED}, timeout)
    _wait_for(storage, {"t_sendThankYouEmail#0": Status.FAILED}, timeout)

    manager.replay_failed_instance(
        "t_scoreResponses#0", reason="retry once after the import finished"
    )
    _wait_for(storage, {"t_scoreResponses#1": Status.FAILED}, timeout)
    manager.skip_failed_instance(
        "t_sendThankYouEmail#0", reason="subject opted out of e-mail"
    )
    _wait_for(storage, {"t_importResponses#1": Status.FINISHED}, timeout)

    if live_pages:
        threading.Thread(
            target=_fire_pages,
            args=(manager, live_pages, live_interval),
            name="triggers-demo-pages",
            daemon=True,
        ).start()
    return manager


def _fire_pages(manager: TriggerManager, count: int, interval: float) -> None:
    for page in range(3, 3 + count):
        time.sleep(interval)
        manager.fire("pageReceived", {"page": page, "answers": [3, 4, 5]})


def _wait_for(
    storage: SessionStorage, expected: Mapping[str, str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    version = 0
    while True:
        instances = dict(storage.instances.items())
        missing = {
            n: s
            for n, s in expected.items()
            if n not in instances or instances[n].status != s
        }
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo did not reach {missing} in {timeout:g}s")
        version = storage.wait_for_change(version, 0.5)


def main(argv: list[str] | None = None) -> None:
    """``python -m triggers_core.demo``: seed the demo and print the session."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--storage",
        help="storage URL (default: TRIGGERS_STORAGE_URL "
        "or the user data directory's SQLite file)",
    )
    parser.add_argument("--session", help="session UID (default: a new demo-... UID)")
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    # The demo fails on purpose; its tracebacks belong in the store, not here.
    logging.basicConfig(level=logging.CRITICAL)

    manager = seed_demo(args.storage, args.session, slow_seconds=args.slow_seconds)
    storage = manager.storage
    print(f"seeded session {storage.uid} in {storage.display_url}")
    for name, instance in sorted(storage.instances.items()):
        print(f"  {name:<28} {instance.status}")
    print(f"t_computeNorms#0 keeps running for {args.slow_seconds:g}s ...")
    from .runners import ThreadingTaskRunner

    ThreadingTaskRunner.join_all()
    print(f"done: t_computeNorms#0 is {storage['t_computeNorms#0'].status}")


if __name__ == "__main__":
    main()
