"""`SessionScreen`: the tree of one session, its details, and the repairs.

Store access happens only in thread workers: the `SessionWatcher` reads the
session and follows its change feed; each action runs one function of
`triggers_tui.operations`. Both report back with messages, which this
screen's handlers apply on the UI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree
from textual.worker import get_current_worker

from triggers_core import (
    InvalidStatusError,
    StorageError,
    StorageUnavailableError,
    TaskInstance,
    TriggerManager,
    open_storage,
)
from triggers_core.storage import redact

from .. import operations
from ..keys import SESSION_KEYS
from ..messages import (
    ActionRefused,
    ActionSucceeded,
    ChangesArrived,
    ConnectionLost,
    ConnectionRestored,
    SnapshotLoaded,
)
from ..query import Query, QueryError, parse_query
from ..state import Delta, FilterMode, SessionState
from ..watcher import SessionWatcher
from ..widgets import DetailPane, NodeRef, SessionHeader, SessionTree
from .bulk_replay import BulkReplayModal, BulkReplayRequest
from .fire import FireModal, FireRequest
from .help import HelpScreen
from .replay import ReplayModal, ReplayRequest
from .skip import SkipModal, SkipRequest

logger = logging.getLogger(__name__)

#: Seconds between redraws while changes stream in.
REDRAW_INTERVAL = 0.1
#: A watcher call running longer than this means the store is not answering
#: (a normal one returns within the watcher's 0.5 s wait, plus the read).
STALL_AFTER = 5.0

_WRITE_ACTIONS = frozenset(key.action for key in SESSION_KEYS if key.writes)
_VIEWS = tuple(FilterMode)


class SessionScreen(Screen[None]):
    """One session: header, tree, detail pane, filter line and footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(key.binding() for key in SESSION_KEYS),
        Binding("escape", "escape", "Back", show=False),
    ]

    def __init__(
        self,
        store_url: str,
        uid: str,
        *,
        read_only: bool = False,
        runner: str = "threading",
    ) -> None:
        super().__init__()
        self.store_url = store_url
        self.uid = uid
        self.read_only = read_only
        self.runner = runner
        self.state = SessionState()
        self.view = FilterMode.ALL
        self.filter_query = Query("")
        self.connected = False
        self.connection_note = "[$text-muted]connecting…[/]"
        self.display_url = redact(store_url)
        self._watcher = SessionWatcher(store_url, uid, self.post_message)
        self._manager: TriggerManager | None = None
        self._manager_lock = threading.Lock()
        self._pending_select: str | None = None
        self._unshown: Delta | None = None
        self._last_error: str | None = None

    # -- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield SessionHeader(id="header")
        yield Static(id="banner")
        with Horizontal(id="main"):
            yield SessionTree(self.state, id="tree")
            yield DetailPane(self.state, id="detail")
        yield Input(
            placeholder="words status:failed task:t_x kwargs:k=v error:Timeout",
            id="filter",
            compact=True,
        )
        yield Static(id="filter-problem")
        yield Footer(compact=True)

    @property
    def session_tree(self) -> SessionTree:
        return self.query_one(SessionTree)

    @property
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    def on_mount(self) -> None:
        self.query_one("#banner").display = False
        self.query_one("#filter").display = False
        self.query_one("#filter-problem").display = False
        self.show_header()
        self.session_tree.focus()
        self.run_worker(
            self._watch,
            thread=True,
            group="watcher",
            description=f"follow session {self.uid}",
            exit_on_error=False,
        )
        self.set_interval(1.0, self._check_stall)

    def on_unmount(self) -> None:
        self._watcher.stop()

    def _watch(self) -> None:
        worker = get_current_worker()
        self._watcher.run(lambda: worker.is_cancelled)

    def show_header(self) -> None:
        view = "" if self.view is FilterMode.ALL else self.view.value
        if self.filter_query:
            view = (
                f"{view} + {self.filter_query.text}" if view else self.filter_query.text
            )
        self.query_one(SessionHeader).show(
            uid=self.uid,
            store=self.display_url,
            connection=self.connection_note,
            counts=self.state.counts,
            marks=len(self.session_tree.marks),
            view=view,
            read_only=self.read_only,
        )

    # -- the change feed ----------------------------------------------------

    def on_snapshot_loaded(self, message: SnapshotLoaded) -> None:
        first = not self.state.loaded
        delta = self.state.load(
            message.version, message.tasks, message.instances, message.latest_kwargs
        )
        if first:
            self.session_tree.rebuild()
            self._start_on_first_failure()
        else:
            self.session_tree.update(delta)
        self._set_connected(True)
        self._after_update(delta, force_detail=first)

    def on_changes_arrived(self, message: ChangesArrived) -> None:
        # The state takes every batch at once; the widgets are redrawn at most
        # every REDRAW_INTERVAL, so a burst of writes costs one tree rebuild.
        delta = self.state.apply(message.changes)
        if self._unshown is None:
            self._unshown = delta
            self.set_timer(REDRAW_INTERVAL, self._show_changes)
        else:
            self._unshown.merge(delta)

    def _show_changes(self) -> None:
        delta, self._unshown = self._unshown, None
        if delta is not None:
            self.session_tree.update(delta)
            self._after_update(delta)

    def _after_update(self, delta: Delta, force_detail: bool = False) -> None:
        self.show_header()
        ref = self.detail.ref
        if force_detail or (
            ref is not None
            and (
                (ref.kind == "instance" and ref.name in delta.instances)
                or (ref.kind == "task" and ref.name in delta.touched_tasks)
            )
        ):
            self.detail.show(self._cursor_ref())
        self._land_on_pending()
        self.post_message(self.Updated(delta))

    class Updated(Message):
        """The screen shows a new state (benchmarks and tests listen to it)."""

        def __init__(self, delta: Delta) -> None:
            self.delta = delta
            super().__init__()

    def _check_stall(self) -> None:
        """Say so when the store stops answering, before its calls time out."""
        busy = self._watcher.busy_for()
        if self.connected and busy > STALL_AFTER:
            logger.warning("session %s: store silent for %.0fs", self.uid, busy)
            self._set_connected(False, f"the store has not answered for {busy:.0f}s")
            self._watcher.report_stall()

    def on_connection_lost(self, message: ConnectionLost) -> None:
        self._set_connected(False, message.error, message.retry_in)

    def on_connection_restored(self, message: ConnectionRestored) -> None:
        self._set_connected(True)
        self.notify("Connection to the store is back.", title="Reconnected")

    def _set_connected(
        self, connected: bool, error: str | None = None, retry_in: float = 0
    ) -> None:
        banner = self.query_one("#banner", Static)
        if connected:
            self.connection_note = "[$success]● live[/]"
            banner.display = False
        else:
            self.connection_note = "[$error]✗ connection lost[/]"
            retry = f"retrying in {retry_in:g}s" if retry_in else "retrying"
            what = (
                f"showing the state as of version {self.state.version}"
                if self.state.loaded
                else "nothing read yet"
            )
            banner.update(
                Content.from_markup(
                    "[b]✗ Connection to the store lost[/b] ($error): $what; "
                    "actions are disabled; $retry.",
                    error=error or "unknown error",
                    what=what,
                    retry=retry,
                )
            )
            banner.display = True
        if connected != self.connected:
            self.connected = connected
            self.refresh_bindings()
        self.show_header()

    # -- tree and detail ----------------------------------------------------

    def _cursor_ref(self) -> NodeRef | None:
        node = self.session_tree.cursor_node
        return node.data if node is not None else None

    @on(Tree.NodeHighlighted, "#tree")
    def _node_highlighted(self, event: Tree.NodeHighlighted[NodeRef]) -> None:
        self.detail.show(event.node.data)

    @on(SessionTree.MarksChanged)
    def _marks_changed(self) -> None:
        self.show_header()

    def _start_on_first_failure(self) -> None:
        """Open on the first failed instance: what an operator came for."""
        failed = [n for n, i in self.state.instances.items() if i.status == "failed"]
        if failed:
            self.session_tree.move_to(NodeRef("instance", min(failed, key=_order)))

    def _land_on_pending(self) -> None:
        name = self._pending_select
        if name is None or name not in self.state.instances:
            return
        self._pending_select = None
        tree = self.session_tree
        tree.reveal(name)
        if tree.move_to(NodeRef("instance", name)):
            tree.focus()
            self.detail.show(NodeRef("instance", name))

    # -- filtering ------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = self.filter_query.text
        field.display = True
        field.focus()

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        problem = self.query_one("#filter-problem", Static)
        try:
            parse_query(event.value)
        except QueryError as exc:
            problem.update(Content.from_markup("[$error]✗ $text[/]", text=str(exc)))
            problem.display = True
        else:
            problem.display = False

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            query = parse_query(event.value)
        except QueryError:
            self.app.bell()
            return
        self._close_filter()
        self.filter_query = query
        self._apply_view()

    def _close_filter(self) -> None:
        self.query_one("#filter").display = False
        self.query_one("#filter-problem").display = False
        self.session_tree.focus()

    def action_view(self, name: str) -> None:
        self.view = FilterMode(name)
        self._apply_view()

    def action_cycle_view(self) -> None:
        self.view = _VIEWS[(_VIEWS.index(self.view) + 1) % len(_VIEWS)]
        self._apply_view()

    def _apply_view(self) -> None:
        self.session_tree.rebuild(self.view, self.filter_query)
        self.show_header()
        self.detail.show(self._cursor_ref())

    def action_escape(self) -> None:
        if self.query_one("#filter").display:
            self._close_filter()
        elif self.maximized is not None:
            self.minimize()
        elif self.session_tree.marks:
            self.session_tree.clear_marks()

    def action_clear_marks(self) -> None:
        self.session_tree.clear_marks()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximize(self.detail, container=False)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_close(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.dismiss(None)
        else:
            self.app.exit()

    # -- actions ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _WRITE_ACTIONS and (
            self.read_only or not self.connected or not self.state.loaded
        ):
            return None  # shown, but disabled
        return True

    def palette_commands(self) -> Iterator[SystemCommand]:
        """The screen's actions for the command palette (enabled ones only)."""
        for key in SESSION_KEYS:
            name, _, _ = key.action.partition("(")
            if self.check_action(name, ()):
                yield SystemCommand(
                    f"{key.label} ({key.shown_key})",
                    key.help,
                    partial(self.run_action, key.action),
                )

    def _cursor_instance(self) -> TaskInstance | None:
        ref = self._cursor_ref()
        if (
            ref is None
            or ref.kind != "instance"
            or ref.name not in self.state.instances
        ):
            self.notify("Put the cursor on an instance first.", severity="warning")
            return None
        return self.state.instances[ref.name]

    def _marked_split(self) -> tuple[list[str], list[str]]:
        failed: list[str] = []
        other: list[str] = []
        for name in sorted(self.session_tree.marks, key=_order):
            instance = self.state.instances.get(name)
            (failed if instance is not None and instance.can_replay else other).append(
                name
            )
        return failed, other

    def action_replay(self) -> None:
        if self.session_tree.marks:
            failed, other = self._marked_split()
            self.app.push_screen(BulkReplayModal(failed, other), self._bulk_replay)
            return
        instance = self._cursor_instance()
        if instance is None:
            return
        if not instance.can_replay:
            self.notify(
                f"{instance.name} is {instance.status}; only a failed instance "
                "can be replayed.",
                severity="warning",
            )
            return
        self.app.push_screen(ReplayModal(instance), self._replay)

    def _replay(self, request: ReplayRequest | None) -> None:
        if request is not None:
            self.run_store_action(
                f"replay {request.instance}",
                partial(operations.replay, request=request),
            )

    def _bulk_replay(self, request: BulkReplayRequest | None) -> None:
        if request is not None:
            self.session_tree.clear_marks()
            self.run_store_action(
                f"replay {len(request.instances)} instances",
                partial(operations.bulk_replay, request=request),
            )

    def action_skip(self) -> None:
        if self.session_tree.marks:
            failed, other = self._marked_split()
        else:
            instance = self._cursor_instance()
            if instance is None:
                return
            if not instance.can_skip:
                self.notify(
                    f"{instance.name} is {instance.status}; only a failed instance "
                    "can be skipped.",
                    severity="warning",
                )
                return
            failed, other = [instance.name], []
        tasks = dict.fromkeys(self.state.instances[n].task_name for n in failed)
        dependents = {task: self.state.dependents_of(task) for task in tasks}
        self.app.push_screen(SkipModal(failed, dependents, other), self._skip)

    def _skip(self, request: SkipRequest | None) -> None:
        if request is not None:
            if len(request.instances) > 1 or self.session_tree.marks:
                self.session_tree.clear_marks()
            what = (
                request.instances[0]
                if len(request.instances) == 1
                else f"{len(request.instances)} instances"
            )
            self.run_store_action(
                f"skip {what}", partial(operations.skip, request=request)
            )

    def action_resolve_logs(self) -> None:
        instance = self._cursor_instance()
        if instance is None:
            return
        if not self.state.has_unresolved_logs(instance.name):
            self.notify(f"{instance.name} has no unresolved error logs.")
            return
        self.run_store_action(
            f"resolve the logs of {instance.name}",
            partial(operations.resolve_logs, name=instance.name),
        )

    def action_fire(self) -> None:
        listeners: dict[str, list[str]] = {}
        for name, config in sorted(self.state.tasks.items()):
            for trigger in config.triggers:
                listeners.setdefault(trigger, []).append(name)
        modal = FireModal(
            self.state.trigger_names(), listeners, dict(self.state.latest_kwargs)
        )
        self.app.push_screen(modal, self._fire)

    def _fire(self, request: FireRequest | None) -> None:
        if request is not None:
            self.run_store_action(
                f"fire {request.trigger}", partial(operations.fire, request=request)
            )

    # -- running store actions ------------------------------------------------

    def run_store_action(
        self,
        description: str,
        operation: Callable[[TriggerManager], operations.Outcome],
    ) -> None:
        """Run ``operation`` in a thread worker; the result comes as a message."""
        logger.info("session %s: %s", self.uid, description)
        self._store_action(description, operation)

    @work(thread=True, group="actions", exit_on_error=False)
    def _store_action(
        self,
        description: str,
        operation: Callable[[TriggerManager], operations.Outcome],
    ) -> None:
        # Known limit: an action already under way when the store freezes
        # (no reply, connection open) waits out the store's socket timeouts,
        # about 40 s for Redis, before it is refused; it waits here, in its
        # thread, and the screen stays responsive meanwhile.
        try:
            outcome = operation(self._get_manager())
        except InvalidStatusError as exc:
            logger.warning("%s refused: %s", description, exc)
            self.post_message(ActionRefused(description, refusal_text(exc)))
        except ValueError as exc:
            # The engine refused the input: bad kwargs, bad trigger name, ...
            logger.warning("%s refused: %s", description, exc)
            self.post_message(ActionRefused(description, str(exc)))
        except StorageError as exc:
            logger.warning("%s failed: %s", description, exc)
            self._store_failed(exc)
            self.post_message(ActionRefused(description, f"store error: {exc}"))
        except Exception as exc:
            logger.exception("%s failed", description)
            self.post_message(
                ActionRefused(description, f"{type(exc).__name__}: {exc}")
            )
        else:
            if outcome.store_error is not None:
                self._store_failed(outcome.store_error)
            if outcome.refused:
                self.post_message(
                    ActionRefused(description, "\n".join(outcome.refused))
                )
            self.post_message(
                ActionSucceeded(description, outcome.summary, outcome.select)
            )

    def _store_failed(self, exc: StorageError) -> None:
        if isinstance(exc, StorageUnavailableError):
            self.post_message(ConnectionLost(str(exc), 0))
            self._watcher.report_failure()

    def _get_manager(self) -> TriggerManager:
        with self._manager_lock:
            if self._manager is None:
                storage = open_storage(self.store_url, self.uid)
                self._manager = TriggerManager(storage, default_runner=self.runner)
            return self._manager

    def on_action_succeeded(self, message: ActionSucceeded) -> None:
        self.notify(escape(message.summary), title="Done")
        if message.select is not None:
            self._pending_select = message.select
            self._land_on_pending()

    def on_action_refused(self, message: ActionRefused) -> None:
        self.notify(
            escape(message.reason),
            title=f"Could not {message.description}",
            severity="error",
            timeout=10,
        )


def refusal_text(exc: InvalidStatusError) -> str:
    """Why the engine refused: the instance changed since the screen showed it."""
    return (
        f"{exc.instance_name} is {exc.status} now, no longer {exc.expected} "
        "(another operator or a worker changed it); nothing was applied."
    )


def _order(name: str) -> tuple[str, int]:
    task, _, index = name.rpartition("#")
    return task, int(index) if index.isdigit() else -1
