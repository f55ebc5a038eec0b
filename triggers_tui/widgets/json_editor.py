"""`JsonEditor`: a text area for a JSON object that says where it is wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static, TextArea

from ..formatting import to_json


@dataclass(frozen=True)
class JsonProblem:
    """Why a text is not acceptable, and where (1-based line and column)."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


#: Checks a parsed value; returns a problem (position from `locate`) or None.
Check = Callable[[Any, str], JsonProblem | None]


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def member_offsets(text: str) -> dict[str, int]:
    """Where each top-level member's value starts, for a valid JSON object."""
    decoder = json.JSONDecoder()
    offsets: dict[str, int] = {}
    index = _skip_space(text, 0)
    if index >= len(text) or text[index] != "{":
        return offsets
    index = _skip_space(text, index + 1)
    while index < len(text) and text[index] == '"':
        key, index = decoder.raw_decode(text, index)
        index = _skip_space(text, index) + 1  # the colon
        index = _skip_space(text, index)
        offsets[key] = index
        _, index = decoder.raw_decode(text, index)
        index = _skip_space(text, index)
        if index < len(text) and text[index] == ",":
            index = _skip_space(text, index + 1)
    return offsets


def parse_object(
    text: str, check: Check | None = None
) -> tuple[Any, JsonProblem | None]:
    """Parse ``text`` as a JSON object; the value, or None and the problem."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, JsonProblem(exc.lineno, exc.colno, exc.msg)
    if not isinstance(value, dict):
        line, column = position(text, _skip_space(text, 0))
        kind = "nothing" if not text.strip() else type(value).__name__
        return None, JsonProblem(
            line, column, f"expected a JSON object {{...}}, got {kind}"
        )
    if check is not None:
        problem = check(value, text)
        if problem is not None:
            return None, problem
    return value, None


def check_object_of_objects(value: dict[str, Any], text: str) -> JsonProblem | None:
    """Replacement kwargs: each trigger name must map to an object."""
    for key, member in value.items():
        if not isinstance(member, dict):
            offset = member_offsets(text).get(key, 0)
            line, column = position(text, offset)
            return JsonProblem(
                line,
                column,
                f"the kwargs of trigger {key!r} must be an object, "
                f"got {type(member).__name__}",
            )
    return None


class JsonEditor(Vertical):
    """A `TextArea` for a JSON object, with a status line under it.

    The status line shows "✓ valid" or the first problem at its line and
    column; `value` is the parsed object, or None while the text is invalid.
    """

    class Validated(Message):
        """The text was checked after a change."""

        def __init__(self, editor: JsonEditor, problem: JsonProblem | None) -> None:
            self.editor = editor
            self.problem = problem
            super().__init__()

        @property
        def control(self) -> JsonEditor:
            return self.editor

    def __init__(
        self,
        value: Any,
        *,
        check: Check | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.initial_text = to_json(value)
        self.check = check
        self.value: Any = value
        self.problem: JsonProblem | None = None

    def compose(self) -> ComposeResult:
        # Known limit: no JSON syntax colours in the editor; Textual needs the
        # optional tree-sitter packages for that, and the project does not
        # depend on them. Problems are still shown at their line and column.
        yield TextArea(
            self.initial_text,
            show_line_numbers=True,
            tab_behavior="focus",
            soft_wrap=True,
        )
        yield Static(classes="json-status")

    def on_mount(self) -> None:
        self._validate()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    @text.setter
    def text(self, text: str) -> None:
        self.query_one(TextArea).load_text(text)
        self._validate()

    @property
    def is_valid(self) -> bool:
        return self.problem is None

    @property
    def edited(self) -> bool:
        """Whether the text means something else than it did at first."""
        try:
            return bool(json.loads(self.text) != json.loads(self.initial_text))
        except json.JSONDecodeError:
            return True

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._validate()

    def _validate(self) -> None:
        self.value, self.problem = parse_object(self.text, self.check)
        status = self.query_one(".json-status", Static)
        if self.problem is None:
            status.update(Content.from_markup("[$success]✓ valid JSON object[/]"))
        else:
            status.update(
                Content.from_markup("[$error]✗ $problem[/]", problem=str(self.problem))
            )
        status.set_class(self.problem is not None, "-invalid")
        self.post_message(self.Validated(self, self.problem))
