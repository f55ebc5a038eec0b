"""``triggers sessions|show|fire|replay|skip``: a session from the shell.

For scripts, cron jobs and operators without the dashboard. Every command
validates its input before it touches the store; a mistake (bad JSON, an
unknown session, an instance that is not failed) prints one line on stderr
and exits with status 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .errors import StorageError
from .manager import SchedulingError, TriggerManager
from .runners.threading import ThreadingTaskRunner
from .session import SessionStorage, open_storage
from .storage import default_url, open_store, redact


class CommandError(Exception):
    """A refusal to report on one line (exit status 2)."""


def add_commands(commands: Any) -> None:
    """Add the session subcommands to ``commands`` (an argparse subparsers)."""

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(
            name, help=help_, description=help_
        )
        parser.add_argument(
            "--storage",
            metavar="URL",
            help="storage URL (default: $TRIGGERS_STORAGE_URL, else the "
            "embedded SQLite file)",
        )
        parser.set_defaults(handler=_HANDLERS[name])
        return parser

    command("sessions", "list the store's sessions, newest first")

    show = command("show", "print a session's tasks and instances")
    show.add_argument("session")
    show.add_argument(
        "--json", action="store_true", help="print the whole session as JSON"
    )

    for name, help_ in (
        ("fire", "fire a trigger into a session"),
        ("replay", "replay a failed instance"),
        ("skip", "skip a failed instance"),
    ):
        parser = command(name, help_)
        parser.add_argument("session")
        parser.add_argument(
            "--runner",
            default="threading",
            help="runner for the instances this schedules (default: %(default)s;"
            " with threads, the command waits for them)",
        )
        if name == "fire":
            parser.add_argument("trigger")
            parser.add_argument(
                "kwargs", nargs="?", default="{}", help="trigger kwargs, a JSON object"
            )
            continue
        parser.add_argument("instance", help="instance name, e.g. t_import#0")
        parser.add_argument("--reason", help="why (kept in the instance's history)")
        if name == "replay":
            parser.add_argument(
                "--kwargs",
                help="replacement kwargs, a JSON object of trigger -> kwargs "
                "(default: the failed instance's own)",
            )
        else:
            parser.add_argument(
                "--cascade", action="store_true", help="fire the task's name onward"
            )
            parser.add_argument(
                "--result", default="{}", help="simulated result (a JSON object)"
            )


def run(args: argparse.Namespace) -> int:
    """Run the parsed session command; one line on stderr and 2 on refusal."""
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        # The reader went away (``| head``): what it wanted was printed.
        sys.stderr.close()
        return 0
    except (CommandError, ValueError, KeyError, StorageError) as exc:
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"triggers {args.command}: {text}", file=sys.stderr)
        return 2


def _sessions(args: argparse.Namespace) -> int:
    url = args.storage or default_url()
    summaries = open_store(url).list_sessions()
    print(f"{len(summaries)} sessions in {redact(url)}")
    for s in summaries:
        updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.updated))
        print(
            f"{s.uid}  {updated}  tasks {s.task_count}  instances "
            f"{s.instance_count}  failed {s.failed_count}  "
            f"unresolved {s.unresolved_count}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    storage = _existing(args)
    if args.json:
        print(json.dumps(storage.debug_repr(), indent=2, sort_keys=True))
        return 0
    tasks, instances, _ = storage.snapshot()
    for name, config in sorted(tasks.items()):
        print(f"{name}  after {', '.join(config.after)}  run {config.run}")
        for instance in instances.values():
            if instance.task_name == name:
                error = instance.metadata.get("exceptionType")
                detail = f"  {error}" if error else ""
                print(f"  {instance.name}  {instance.status}{detail}")
    return 0


def _fire(args: argparse.Namespace) -> int:
    kwargs = _json_object(args.kwargs, "kwargs")
    manager = _manager(args)
    scheduled = _scheduling(lambda: manager.fire(args.trigger, kwargs))
    print(f"fired {args.trigger}: scheduled {_names(scheduled)}")
    return _wait(args, manager, scheduled)


def _replay(args: argparse.Namespace) -> int:
    kwargs = _json_object(args.kwargs, "--kwargs") if args.kwargs else None
    manager = _manager(args)
    clone = _scheduling(
        lambda: manager.replay_failed_instance(
            args.instance, kwargs, reason=args.reason, source="cli"
        )
    )
    print(f"replayed {args.instance} as {clone.name}")
    return _wait(args, manager, [clone])


def _skip(args: argparse.Namespace) -> int:
    result = _json_object(args.result, "--result")
    manager = _manager(args)
    storage = manager.storage
    before = {i.name for i in storage.get_unresolved_instances()}
    _scheduling(
        lambda: manager.skip_failed_instance(
            args.instance, args.cascade, result, reason=args.reason, source="cli"
        )
    )
    print(f"skipped {args.instance}" + (" and cascaded" if args.cascade else ""))
    started = [i for i in storage.get_unresolved_instances() if i.name not in before]
    return _wait(args, manager, started)


_HANDLERS = {
    "sessions": _sessions,
    "show": _show,
    "fire": _fire,
    "replay": _replay,
    "skip": _skip,
}


def _existing(args: argparse.Namespace) -> SessionStorage:
    url = args.storage or default_url()
    storage = open_storage(url, args.session)
    if not storage.exists():
        raise CommandError(f"no session {args.session!r} in {redact(url)}")
    return storage


def _manager(args: argparse.Namespace) -> TriggerManager:
    return TriggerManager(_existing(args), default_runner=args.runner)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise CommandError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _scheduling(action: Any) -> Any:
    try:
        return action()
    except SchedulingError as exc:
        raise CommandError(str(exc)) from None


def _names(instances: list[Any]) -> str:
    return ", ".join(i.name for i in instances) or "nothing"


def _wait(args: argparse.Namespace, manager: TriggerManager, started: list[Any]) -> int:
    """With threads, wait for the runs (and cascades) before the process ends."""
    if args.runner != ThreadingTaskRunner.name or not started:
        return 0
    ThreadingTaskRunner.join_all()
    storage = manager.storage
    for instance in started:
        print(f"  {instance.name}: {storage[instance.name].status}")
    return 0
