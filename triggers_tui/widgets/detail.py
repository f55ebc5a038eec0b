"""`DetailPane`: everything about the selected task or instance."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.markup import escape
from textual.widgets import Label, Static

from .. import statuses
from ..formatting import format_time, history_line, to_json
from ..state import SessionState
from .session_tree import NodeRef

#: Metadata keys shown in their own section, not in "Other metadata".
_SHOWN_KEYS = frozenset(
    {
        "timestamps",
        "actualKwargs",
        "result",
        "exceptionInfo",
        "exceptionType",
        "exceptionMessage",
        "exceptionContext",
        "parent",
        "depth",
        "replays",
        "logLevel",
        "logs",
        "logsResolved",
        "history",
        "cascade",
    }
)

#: Sections from top to bottom: id and heading.
SECTIONS = (
    ("summary", None),
    ("triggers", "Triggers"),
    ("error", "Error"),
    ("context", "Exception context"),
    ("kwargs", "Kwargs"),
    ("actual", "Kwargs the task received"),
    ("result", "Result"),
    ("traceback", "Traceback"),
    ("logs", "Logs"),
    ("history", "History"),
    ("instances", "Instances"),
    ("cascade", "Cascades to"),
    ("config", "Configuration"),
    ("metadata", "Other metadata"),
)


class DetailPane(VerticalScroll, can_focus=True):
    """Shows the node the tree's cursor is on; `show` draws it again."""

    def __init__(self, state: SessionState, *, id: str | None = None) -> None:
        super().__init__(id=id, can_maximize=True)
        self.state = state
        self.ref: NodeRef | None = None

    def compose(self) -> ComposeResult:
        for key, heading in SECTIONS:
            if heading is not None:
                yield Label(heading, id=f"{key}-heading", classes="heading")
            yield Static(id=f"{key}-body", classes="body")

    def show(self, ref: NodeRef | None) -> None:
        """Draw ``ref`` (None: nothing), keeping the scroll if it is the same."""
        if ref != self.ref:
            self.scroll_home(animate=False)
        self.ref = ref
        sections: dict[str, Any] = {}
        if ref is not None and ref.kind == "task" and ref.name in self.state.tasks:
            sections = self._task_sections(ref.name)
        elif ref is not None and ref.name in self.state.instances:
            sections = self._instance_sections(ref.name)
        elif ref is not None:
            sections = {"summary": Content(f"{ref.name} is not in the session")}
        for key, heading in SECTIONS:
            body = sections.get(key)
            shown = body is not None
            if heading is not None:
                self.query_one(f"#{key}-heading").display = shown
            static = self.query_one(f"#{key}-body", Static)
            static.display = shown
            if body is not None:
                static.update(body)

    # -- tasks --------------------------------------------------------------

    def _task_sections(self, name: str) -> dict[str, Any]:
        state = self.state
        config = state.tasks[name]
        counts = state.task_counts.get(name, Counter())
        tally = ", ".join(
            statuses.markup(s, f"{counts[s]} {s}")
            for s in statuses.ORDER
            if counts.get(s)
        )
        lines = [f"[b]{escape(name)}[/b]  task", f"runs [b]{escape(config.run)}[/b]"]
        lines.append(f"instances: {tally or 'none yet'}")
        waiting = state.waiting_for(name)
        if waiting:
            lines.append(f"waits for: {escape(', '.join(waiting))}")
        sections: dict[str, Any] = {"summary": Content.from_markup("\n".join(lines))}

        fired = state.fired_triggers(name)
        trigger_lines = []
        for trigger in config.triggers:
            role = (
                "unless"
                if trigger in config.unless and trigger not in config.after
                else "after"
            )
            if trigger == config.and_every:
                role = "andEvery"
            if trigger in fired:
                trigger_lines.append(
                    f"[$success]✓ fired[/]  {escape(trigger)} ({role})  "
                    f"{escape(_compact(fired[trigger]))}"
                )
            else:
                trigger_lines.append(
                    f"[$warning]… waiting[/] {escape(trigger)} ({role})"
                )
        sections["triggers"] = Content.from_markup("\n".join(trigger_lines))

        names = state.task_instances.get(name, [])
        if names:
            shown = names[-50:]
            rows = [
                statuses.markup(
                    state.instances[n].status, f"{n} {state.instances[n].status}"
                )
                for n in shown
            ]
            if len(names) > len(shown):
                rows.insert(0, f"… {len(names) - len(shown)} older instances")
            sections["instances"] = Content.from_markup("\n".join(rows))
        dependents = state.dependents_of(name)
        if dependents:
            sections["cascade"] = Content.from_markup(
                "\n".join(
                    escape(d.name)
                    + (
                        "  (its other triggers fired)"
                        if d.would_run
                        else f"  (also waits for {escape(', '.join(d.missing))})"
                    )
                    for d in dependents
                )
            )
        sections["config"] = self._json(config.to_json())
        return sections

    # -- instances ----------------------------------------------------------

    def _instance_sections(self, name: str) -> dict[str, Any]:
        state = self.state
        instance = state.instances[name]
        metadata = instance.metadata
        summary = [
            f"[b]{escape(name)}[/b]  {statuses.markup(instance.status)}",
            f"task {escape(instance.task_name)}  depth {int(metadata.get('depth', 0))}",
        ]
        if metadata.get("parent"):
            summary.append(f"replay of {escape(str(metadata['parent']))}")
        if metadata.get("replays"):
            summary.append(
                f"replayed as {escape(', '.join(map(str, metadata['replays'])))}"
            )
        if instance.status == "unstarted" and instance.config is not None:
            waiting = instance.waiting_for
            if waiting:
                summary.append(f"waits for {escape(', '.join(waiting))}")
        if "cascade" in metadata:
            summary.append(
                "skipped with cascade"
                if metadata["cascade"]
                else "skipped without cascade"
            )
        timestamps = metadata.get("timestamps")
        if isinstance(timestamps, dict):
            # One line per status reached, in order. ``lastModified`` is left
            # out: any metadata write moves it, and the history says who
            # changed what, when.
            for key, value in timestamps.items():
                if key != "lastModified":
                    summary.append(f"{escape(key):<11}{format_time(value)}")
        sections: dict[str, Any] = {"summary": Content.from_markup("\n".join(summary))}

        sections["kwargs"] = self._json(instance.kwargs)
        if instance.unless_kwargs:
            sections["triggers"] = Content("unless triggers received: ") + Content(
                ", ".join(instance.unless_kwargs)
            )
        if "actualKwargs" in metadata and metadata["actualKwargs"] != instance.kwargs:
            sections["actual"] = self._json(metadata["actualKwargs"])
        if "result" in metadata:
            sections["result"] = self._json(metadata["result"])
        if metadata.get("exceptionType") or metadata.get("exceptionMessage"):
            error = Content.from_markup(
                "[$error][b]$type[/b][/]: $message",
                type=str(metadata.get("exceptionType") or "error"),
                message=str(metadata.get("exceptionMessage") or ""),
            )
            sections["error"] = error
            context = metadata.get("exceptionContext")
            if context not in (None, {}, []):
                sections["context"] = self._json(context)
        if metadata.get("exceptionInfo"):
            sections["traceback"] = self._syntax(str(metadata["exceptionInfo"]), "pytb")
        if metadata.get("logLevel") or metadata.get("logs"):
            sections["logs"] = self._logs(name, metadata)
        history = metadata.get("history")
        if isinstance(history, list) and history:
            sections["history"] = Content("\n".join(history_line(e) for e in history))
        other = {k: v for k, v in metadata.items() if k not in _SHOWN_KEYS}
        if other:
            sections["metadata"] = self._json(other)
        return sections

    def _logs(self, name: str, metadata: dict[str, Any]) -> Content:
        level = metadata.get("logLevel") or "?"
        if self.state.has_unresolved_logs(name):
            state = "[$error]! unresolved[/] (l marks them resolved)"
        elif metadata.get("logsResolved"):
            state = "[$success]✓ resolved[/]"
        else:
            state = "settled"
        lines = [f"highest level {escape(str(level))}, {state}"]
        for record in metadata.get("logs") or []:
            if isinstance(record, dict):
                lines.append(
                    f"{format_time(record.get('at'))} "
                    f"{escape(str(record.get('level', '')))}: "
                    f"{escape(str(record.get('message', '')))}"
                )
        return Content.from_markup("\n".join(lines))

    # -- renderables --------------------------------------------------------

    def _syntax(self, code: str, lexer: str) -> Syntax:
        dark = self.app.current_theme.dark if self.is_attached else True
        return Syntax(
            code.rstrip("\n"),
            lexer,
            theme="monokai" if dark else "default",
            word_wrap=True,
            background_color="default",
        )

    def _json(self, value: Any) -> Syntax:
        return self._syntax(to_json(value), "json")


def _compact(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
