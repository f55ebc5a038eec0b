"""`BulkReplayModal`: replay several failed instances with their own kwargs."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from .form import FormScreen


@dataclass(frozen=True)
class BulkReplayRequest:
    """Replay each of ``instances`` with its original kwargs."""

    instances: tuple[str, ...]
    reason: str | None


class BulkReplayModal(FormScreen[BulkReplayRequest]):
    """Says how many instances will be replayed, and which, before it runs."""

    def __init__(self, instances: list[str], not_failed: list[str]) -> None:
        super().__init__()
        self.instances = tuple(instances)
        self.not_failed = tuple(not_failed)

    def heading(self) -> str:
        return f"Replay {_count(len(self.instances))}"

    def submit_label(self) -> str:
        return f"Replay {len(self.instances)}"

    def compose_form(self) -> ComposeResult:
        lines = [f"✗ {name}" for name in self.instances]
        if self.not_failed:
            lines.append(f"left out, not failed: {', '.join(self.not_failed)}")
        with VerticalScroll(classes="dialog-list"):
            yield Static("\n".join(lines))
        yield Static(
            "Each replay keeps the instance's own kwargs.", classes="dialog-note"
        )

    def problem(self) -> str | None:
        return None if self.instances else "none of the marked instances is failed"

    def build_result(self) -> BulkReplayRequest:
        return BulkReplayRequest(self.instances, self.reason)


def _count(n: int) -> str:
    return f"{n} instance" if n == 1 else f"{n} instances"
