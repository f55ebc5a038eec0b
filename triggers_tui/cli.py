"""``triggers-tui [SESSION] [--storage URL] [--read-only] [--demo]``.

Problems the operator can fix (a bad URL, an unreachable store, an unknown
session) end with one line on stderr and exit status 2, before the screen
is taken over. While the dashboard runs, logging goes to the Textual
devtools console (``textual console``) or to ``--log-file``, never to the
terminal the dashboard draws on.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence

from triggers_core import StorageError, default_url, open_store
from triggers_core.storage import redact

logger = logging.getLogger(__name__)

EXIT_USAGE = 2


class CommandError(Exception):
    """A one-line problem to report before exiting with status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triggers-tui",
        description="Watch and repair triggers sessions in the terminal.",
    )
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help="session UID to open (default: pick one from a list)",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="store URL (default: $TRIGGERS_STORAGE_URL, else a SQLite file "
        "in the user data directory)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="look only: every action that writes is disabled",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="seed the demo workflow into a new session of the store and open it",
    )
    parser.add_argument(
        "--runner",
        default="threading",
        metavar="NAME",
        help="task runner for replays and cascades started here "
        "(default: threading, in this process)",
    )
    parser.add_argument(
        "--log-file", metavar="PATH", help="also write debug logs to this file"
    )
    return parser


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password hidden, even in a malformed URL."""
    text = text.replace(url, redact(url))
    # A URL too broken to parse may still carry ``user:password@``.
    return re.sub(r"(?<=://)([^:/@\s]*):[^@\s/]+@", r"\1:***@", text)


def configure_logging(log_file: str | None) -> None:
    """Send logs to Textual's devtools (and ``log_file``), never to the screen."""
    from textual.logging import TextualHandler

    root = logging.getLogger()
    root.setLevel(logging.DEBUG if log_file else logging.INFO)
    # Task threads (replays run here) have no active app: without stderr=False
    # the handler would print their tracebacks over the dashboard.
    handler: logging.Handler = TextualHandler(stderr=False, stdout=False)
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)


def check_store(url: str, session: str | None) -> None:
    """Open the store (and check the session exists); raise `CommandError`."""
    try:
        store = open_store(url)
        if session is not None:
            if not store.session_exists(session):
                raise CommandError(
                    f"unknown session {session!r} in {store.display_url} "
                    "(run without SESSION to pick one)"
                )
        else:
            store.session_exists("triggers-tui-probe")
    except ValueError as exc:
        raise CommandError(f"bad storage URL: {scrub(str(exc), url)}") from None
    except StorageError as exc:
        raise CommandError(
            f"cannot reach the store {redact(url)}: {scrub(str(exc), url)}"
        ) from None


#: The demo keeps working after it opens, so the tree visibly changes:
#: a slow task runs this long, and this many pages arrive, one every few seconds.
DEMO_SLOW_SECONDS = 15.0
DEMO_LIVE_PAGES = 8
DEMO_PAGE_INTERVAL = 4.0


def seed_demo(url: str) -> str:
    """Seed the demo workflow into a new session of ``url``; its UID."""
    from triggers_core.demo import seed_demo as seed

    try:
        manager = seed(
            url,
            slow_seconds=DEMO_SLOW_SECONDS,
            live_pages=DEMO_LIVE_PAGES,
            live_interval=DEMO_PAGE_INTERVAL,
        )
    except (StorageError, TimeoutError) as exc:
        raise CommandError(
            f"cannot seed the demo into {redact(url)}: {scrub(str(exc), url)}"
        ) from None
    return manager.storage.uid


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = args.storage or default_url()
    try:
        if args.demo and args.session:
            raise CommandError("--demo opens a new session; give no SESSION with it")
        check_store(url, args.session)
        configure_logging(args.log_file)
        session = seed_demo(url) if args.demo else args.session
    except CommandError as exc:
        print(f"triggers-tui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130

    from .app import TriggersApp

    logger.info("triggers-tui starting on %s", redact(url))
    app = TriggersApp(url, session, read_only=args.read_only, runner=args.runner)
    app.run()
    waited = _wait_for_tasks()
    return app.return_code or waited


def _wait_for_tasks() -> int:
    """Let task threads started here (replays, cascades, the demo) finish.

    Known limit: with the threading runner, tasks started from the dashboard
    run in its process; leaving earlier would leave them ``running`` for
    ever. Ctrl+C abandons them.
    """
    from triggers_core.runners import ThreadingTaskRunner

    if ThreadingTaskRunner.join_all(timeout=0.1):
        return 0
    print(
        "triggers-tui: waiting for tasks started from the dashboard to finish "
        "(Ctrl+C to abandon them)...",
        file=sys.stderr,
    )
    try:
        ThreadingTaskRunner.join_all()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
