"""Widgets of the dashboard: the session tree, the detail pane, the header,
and the JSON editor of the action forms."""

from .detail import DetailPane
from .header import SessionHeader
from .json_editor import JsonEditor, JsonProblem
from .session_tree import NodeRef, SessionTree

__all__ = [
    "DetailPane",
    "JsonEditor",
    "JsonProblem",
    "NodeRef",
    "SessionHeader",
    "SessionTree",
]
