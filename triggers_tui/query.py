"""The filter query language of the session screen.

A query is a list of terms separated by spaces; an instance must match every
term. A term is a bare word (a case-insensitive part of the instance name)
or ``field:value``:

=====================  ====================================================
``status:failed``      the status (several: ``status:failed,running``)
``task:t_x``           the task name (``*`` and ``?`` are wildcards)
``kwargs:key=value``   a trigger kwarg equal to ``value`` (dotted keys reach
                       into objects; ``kwargs:key`` only asks for the key)
``error:Timeout``      a part of the exception type or message
``name:t_x#3``         the same as a bare word
=====================  ====================================================

A leading ``-`` negates a term (``-status:finished``); quotes keep spaces
(``error:"connection reset"``).
"""

from __future__ import annotations

import fnmatch
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from triggers_core import Status, TaskInstance

FIELDS = ("name", "status", "task", "kwargs", "error")
_STATUS_NAMES = frozenset(s.value for s in Status)


class QueryError(ValueError):
    """A query that cannot be parsed; the message says which term and why."""


@dataclass(frozen=True)
class Term:
    """One ``field:value`` condition (``field`` is ``name`` for bare words)."""

    field: str
    value: str
    negate: bool = False

    def matches(self, instance: TaskInstance) -> bool:
        return _MATCHERS[self.field](self.value, instance) != self.negate


@dataclass(frozen=True)
class Query:
    """A parsed query: all `terms` must match. The empty query matches all."""

    text: str
    terms: tuple[Term, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, instance: TaskInstance) -> bool:
        return all(term.matches(instance) for term in self.terms)

    def matches_task(self, task_name: str) -> bool:
        """Whether a task with no instance yet should show for this query.

        Only name and task terms can say anything about such a task.
        """
        for term in self.terms:
            if term.field == "name":
                hit = term.value.lower() in task_name.lower()
            elif term.field == "task":
                hit = _task_matches(term.value, task_name)
            else:
                return False
            if hit == term.negate:
                return False
        return True


def parse_query(text: str) -> Query:
    """Parse ``text``; raise `QueryError` naming the faulty term."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise QueryError(f"cannot split the query: {exc}") from None
    terms = [_parse_term(word) for word in words]
    return Query(text=text.strip(), terms=tuple(terms))


def _parse_term(word: str) -> Term:
    negate = word.startswith("-") and len(word) > 1
    body = word[1:] if negate else word
    field, sep, value = body.partition(":")
    if not sep:
        return Term("name", body, negate)
    field = field.lower()
    if field not in _MATCHERS:
        raise QueryError(
            f"unknown field {field!r} in {word!r}; use one of {', '.join(FIELDS)}"
        )
    if not value:
        raise QueryError(f"{word!r} needs a value after the colon")
    if field == "status":
        for status in value.lower().split(","):
            if status not in _STATUS_NAMES:
                raise QueryError(
                    f"unknown status {status!r} in {word!r}; "
                    f"one of {', '.join(s.value for s in Status)}"
                )
        value = value.lower()
    if field == "kwargs" and value.startswith("="):
        raise QueryError(f"{word!r} needs a key before '='")
    return Term(field, value, negate)


def _name_matches(value: str, instance: TaskInstance) -> bool:
    return value.lower() in instance.name.lower()


def _status_matches(value: str, instance: TaskInstance) -> bool:
    return str(instance.status) in value.split(",")


def _task_matches(value: str, task_name: str) -> bool:
    if any(c in value for c in "*?["):
        return fnmatch.fnmatchcase(task_name, value)
    return task_name == value


def _error_matches(value: str, instance: TaskInstance) -> bool:
    metadata = instance.metadata
    text = f"{metadata.get('exceptionType') or ''}: {metadata.get('exceptionMessage')}"
    return bool(metadata.get("exceptionType")) and value.lower() in text.lower()


_MISSING = object()


def _lookup(data: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data


def _same(found: Any, wanted: str) -> bool:
    if isinstance(found, str):
        return found == wanted
    try:
        return json.dumps(found) == wanted or str(found) == wanted
    except (TypeError, ValueError):
        return False


def _kwargs_matches(value: str, instance: TaskInstance) -> bool:
    key, has_value, wanted = value.partition("=")
    path = key.split(".")
    # ``kwargs:id=3`` looks inside every trigger's kwargs; ``kwargs:trig.id=3``
    # names the trigger itself.
    scopes = [instance.kwargs, *instance.kwargs.values()]
    for scope in scopes:
        found = _lookup(scope, path)
        if found is not _MISSING and (not has_value or _same(found, wanted)):
            return True
    return False


_MATCHERS: dict[str, Callable[[str, TaskInstance], bool]] = {
    "name": _name_matches,
    "status": _status_matches,
    "task": lambda value, instance: _task_matches(value, instance.task_name),
    "kwargs": _kwargs_matches,
    "error": _error_matches,
}
