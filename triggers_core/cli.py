"""The ``triggers`` command.

``triggers worker`` starts a Celery worker that runs trigger task instances
(needs the ``celery`` extra)::

    triggers worker --broker redis://localhost:6379/0 --import myapp.tasks

``--import`` loads the application's modules first, so the tasks, managers
and runners they register are known to the worker. The worker serves the
Celery app of the runner registered as ``celery`` (an application's own
``CeleryTaskRunner(app)``), or else the default app of
``triggers_core.runners.celery``; ``--app module:attribute`` picks another.

``triggers sessions``, ``show``, ``fire``, ``replay`` and ``skip`` read and
repair sessions from the shell (`triggers_core.session_commands`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from . import registry, session_commands
from .errors import RegistryError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triggers", description="Tools for the triggers workflow engine."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    worker = commands.add_parser(
        "worker",
        help="start a Celery worker that runs task instances",
        description=(
            "Start a Celery worker that runs task instances scheduled by the "
            "'celery' runner. Options after '--' go to 'celery worker' as is."
        ),
    )
    worker.add_argument(
        "--broker",
        metavar="URL",
        help="broker URL (default: $TRIGGERS_CELERY_BROKER_URL or the app's own)",
    )
    worker.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (the application's tasks); repeatable",
    )
    worker.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="the Celery app to serve (default: the 'celery' runner's app)",
    )
    worker.add_argument(
        "--runner",
        default="celery",
        metavar="NAME",
        help="registered runner whose app to serve (default: %(default)s)",
    )
    worker.add_argument(
        "-c", "--concurrency", type=int, default=2, help="pool size (default: 2)"
    )
    worker.add_argument(
        "-P",
        "--pool",
        default="prefork",
        choices=["prefork", "threads", "solo"],
        help="execution pool (default: %(default)s)",
    )
    worker.add_argument(
        "-Q", "--queues", metavar="QUEUES", help="comma-separated queues to consume"
    )
    worker.add_argument(
        "-n", "--hostname", metavar="NAME", help="node name, e.g. w1@%%h"
    )
    worker.add_argument(
        "-l", "--loglevel", default="INFO", help="log level (default: %(default)s)"
    )
    worker.add_argument("celery_args", nargs="*", help=argparse.SUPPRESS)
    session_commands.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "worker":
        return _worker(parser, args)
    if args.command is not None:
        return session_commands.run(args)
    parser.print_help()
    return 2


def _worker(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        from .runners import celery as celery_runner
    except ImportError as exc:
        parser.error(f"the worker needs Celery ({exc}); pip install 'triggers[celery]'")
    if args.broker:
        # Read by the default app when its configuration is first used, and
        # inherited by the pool processes.
        os.environ[celery_runner.BROKER_ENV] = args.broker
    # Like `celery -A`, find the application's modules from where it runs.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in args.imports:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            parser.error(f"--import {module}: {exc}")
    try:
        app = _pick_app(args, celery_runner)
    except RegistryError as exc:
        parser.error(str(exc))
    if args.broker:
        app.conf.broker_url = args.broker
    worker_argv = [
        "worker",
        f"--concurrency={args.concurrency}",
        f"--pool={args.pool}",
        f"--loglevel={args.loglevel}",
    ]
    if args.hostname:
        worker_argv.append(f"--hostname={args.hostname}")
    if args.queues:
        worker_argv.append(f"--queues={args.queues}")
    worker_argv += args.celery_args
    app.worker_main(argv=worker_argv)
    return 0


def _pick_app(args: argparse.Namespace, celery_runner: ModuleType) -> Any:
    if args.app:
        app = registry.import_path(args.app)
        celery_runner.install(app)
        return app
    runner = registry.resolve("runners", args.runner)
    if isinstance(runner, celery_runner.CeleryTaskRunner):
        return runner.app
    if isinstance(runner, type) and issubclass(runner, celery_runner.CeleryTaskRunner):
        return runner().app
    raise RegistryError(
        f"runner {args.runner!r} is {runner!r}, not a CeleryTaskRunner; "
        "nothing to serve"
    )


if __name__ == "__main__":
    sys.exit(main())
