"""`SessionTree`: tasks, their instances, and replays under what they replay."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from triggers_core import Status

from .. import statuses
from ..query import Query
from ..state import Delta, FilterMode, SessionState

#: Tasks with more instances than this start collapsed.
EXPAND_LIMIT = 200


@dataclass(frozen=True)
class NodeRef:
    """What a tree node stands for: a task or an instance, by name."""

    kind: Literal["task", "instance"]
    name: str


class SessionTree(Tree[NodeRef]):
    """The tasks of a session with their instances, drawn from a `SessionState`.

    Labels are rendered from the state each time a line is drawn, so a
    changed instance only needs its node refreshed. Every label shows the
    status as a symbol and a word (instances) or symbol counts (tasks);
    colour comes from the component classes below.

    | Class | Description |
    | :- | :- |
    | `status--<status>` | The symbol and word of an instance in that status. |
    | `session-tree--mark` | The mark of a marked instance. |
    | `session-tree--note` | What a task waits for; the unresolved-logs flag. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Mark", key_display="space"),
        Binding("right", "expand", "Expand", show=False),
        Binding("left", "collapse", "Collapse or go to parent", show=False),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | space | Mark or unmark the instance under the cursor, then move down. |
    | right | Expand the node. |
    | left | Collapse the node, or go to its parent. |
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(statuses.style_class(s) for s in Status),
        "session-tree--mark",
        "session-tree--note",
    }

    class MarksChanged(Message):
        """The set of marked instances changed."""

        def __init__(self, tree: SessionTree, count: int) -> None:
            self.tree = tree
            self.count = count
            super().__init__()

        @property
        def control(self) -> SessionTree:
            return self.tree

    def __init__(
        self, state: SessionState, *, id: str | None = None, classes: str | None = None
    ) -> None:
        self.state = state
        self.marks: set[str] = set()
        self.mode = FilterMode.ALL
        self.filter_query = Query("")
        self._by_ref: dict[NodeRef, TreeNode[NodeRef]] = {}
        self._expansion: dict[NodeRef, bool] = {}
        #: Collapsed tasks whose instance nodes are not made yet.
        self._unpopulated: set[str] = set()
        self._width_cache: dict[tuple[int, int], int] = {}
        super().__init__("session", id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = False

    # -- building -----------------------------------------------------------

    def rebuild(
        self, mode: FilterMode | None = None, query: Query | None = None
    ) -> None:
        """Draw the whole tree again, keeping cursor and expansion by name."""
        if mode is not None:
            self.mode = mode
        if query is not None:
            self.filter_query = query
        cursor = self.cursor_node.data if self.cursor_node is not None else None
        line = self.cursor_line
        for ref, node in self._by_ref.items():
            if node.allow_expand:
                self._expansion[ref] = node.is_expanded
        self.clear()
        self._by_ref.clear()
        self._unpopulated.clear()
        self._width_cache.clear()
        state = self.state
        visible = state.visible_instances(self.mode, self.filter_query)
        for task in sorted(state.tasks):
            roots = [n for n in state.roots_of(task) if n in visible]
            if roots or state.task_matches_empty(task, self.mode, self.filter_query):
                self._add_task(task, roots=roots, visible=visible)
        self.marks &= set(state.instances)
        if cursor is None or not self.move_to(cursor):
            self.cursor_line = min(max(line, 0), self.last_line)

    def _add_task(
        self,
        task: str,
        before: TreeNode[NodeRef] | None = None,
        roots: list[str] | None = None,
        visible: set[str] | None = None,
    ) -> TreeNode[NodeRef]:
        """Add a task node; its instances now if it starts expanded, else on
        first expansion (a collapsed task of thousands costs nothing)."""
        ref = NodeRef("task", task)
        expand = self._expansion.get(ref)
        if expand is None:
            expand = len(self.state.task_instances.get(task, ())) <= EXPAND_LIMIT
        node = self.root.add("", ref, expand=expand, before=before)
        node.allow_expand = bool(self.state.task_instances.get(task))
        self._by_ref[ref] = node
        if roots is None:
            return node
        if expand:
            for name in roots:
                self._add_instance(node, name, visible)
        elif roots:
            self._unpopulated.add(task)
        return node

    def _populate(self, task: str) -> None:
        """Add the instances of a task whose node was collapsed until now."""
        if task not in self._unpopulated:
            return
        self._unpopulated.discard(task)
        node = self._by_ref[NodeRef("task", task)]
        state = self.state
        visible: set[str] = set()
        for name in state.task_instances.get(task, ()):
            if state.instance_matches(
                state.instances[name], self.mode, self.filter_query
            ):
                visible.add(name)
                visible.update(state.ancestors(name))
        for name in state.roots_of(task):
            if name in visible and NodeRef("instance", name) not in self._by_ref:
                self._add_instance(node, name, visible)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeRef]) -> None:
        ref = event.node.data
        if ref is not None and ref.kind == "task":
            self._populate(ref.name)

    def _add_instance(
        self, parent: TreeNode[NodeRef], name: str, visible: set[str] | None
    ) -> TreeNode[NodeRef]:
        ref = NodeRef("instance", name)
        replays = [
            r
            for r in self.state.replays.get(name, ())
            if visible is None or r in visible
        ]
        node = parent.add(
            "",
            ref,
            expand=self._expansion.get(ref, True),
            allow_expand=bool(replays),
            before=self._insert_point(parent, name),
        )
        self._by_ref[ref] = node
        for replay in replays:
            self._add_instance(node, replay, visible)
        return node

    @staticmethod
    def _insert_point(parent: TreeNode[NodeRef], name: str) -> TreeNode[NodeRef] | None:
        index = _index(name)
        children = parent.children
        if not children or (
            children[-1].data and _index(children[-1].data.name) < index
        ):
            return None
        for child in children:
            if child.data is not None and _index(child.data.name) > index:
                return child
        return None

    def update(self, delta: Delta) -> None:
        """Show what ``delta`` changed: refresh, add, never reorder or drop.

        Known limit: an instance that stops matching the filter (a failed
        instance that gets replayed while "failed" is shown) stays until the
        filter is applied again; its label shows the new status meanwhile.
        """
        if delta.removed:
            self.rebuild()
            return
        state = self.state
        for task in delta.new_tasks:
            if NodeRef("task", task) not in self._by_ref and state.task_matches_empty(
                task, self.mode, self.filter_query
            ):
                self._ensure_task(task)
        for name in sorted(delta.instances, key=_index):
            ref = NodeRef("instance", name)
            node = self._by_ref.get(ref)
            if node is not None:
                node.refresh()
            elif state.instances[name].task_name in self._unpopulated:
                continue  # added when the task is expanded
            elif state.instance_matches(
                state.instances[name], self.mode, self.filter_query
            ):
                self._ensure_instance(name)
        for task in delta.touched_tasks:
            node = self._by_ref.get(NodeRef("task", task))
            if node is not None:
                node.allow_expand = bool(node.children)
                node.refresh()

    def _ensure_task(self, task: str) -> TreeNode[NodeRef]:
        ref = NodeRef("task", task)
        node = self._by_ref.get(ref)
        if node is None:
            before = next(
                (
                    n
                    for n in self.root.children
                    if n.data is not None and n.data.name > task
                ),
                None,
            )
            node = self._add_task(task, before)
        return node

    def _ensure_instance(self, name: str) -> TreeNode[NodeRef]:
        ref = NodeRef("instance", name)
        self._populate(self.state.instances[name].task_name)
        node = self._by_ref.get(ref)
        if node is not None:
            return node
        parent_name = self.state.parent_of(name)
        if parent_name is None:
            parent = self._ensure_task(self.state.instances[name].task_name)
        else:
            parent = self._ensure_instance(parent_name)
            parent.allow_expand = True
        parent.allow_expand = True
        return self._add_instance(parent, name, visible=set())

    # -- cursor -------------------------------------------------------------

    def move_to(self, ref: NodeRef) -> bool:
        """Put the cursor on ``ref`` (expanding what hides it); False if absent."""
        if ref.kind == "instance" and ref.name in self.state.instances:
            self._populate(self.state.instances[ref.name].task_name)
        node = self._by_ref.get(ref)
        if node is None:
            return False
        parent = node.parent
        while parent is not None and not parent.is_root:
            parent.expand()
            parent = parent.parent
        self.last_line  # noqa: B018 - reading it rebuilds the line index
        self.move_cursor(node, animate=False)
        return True

    def reveal(self, name: str) -> None:
        """Add instance ``name`` (and its replay chain) even if the filter hides it."""
        if name in self.state.instances:
            self._ensure_instance(name)

    def node_for(self, ref: NodeRef) -> TreeNode[NodeRef] | None:
        return self._by_ref.get(ref)

    @property
    def shown(self) -> Iterable[NodeRef]:
        """Every node in the tree (expanded or not)."""
        return self._by_ref.keys()

    # -- actions ------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        node = self.cursor_node
        if node is None or node.data is None or node.data.kind != "instance":
            self.app.bell()
            return
        name = node.data.name
        if name in self.marks:
            self.marks.discard(name)
        else:
            self.marks.add(name)
        node.refresh()
        self.post_message(self.MarksChanged(self, len(self.marks)))
        self.action_cursor_down()

    def clear_marks(self) -> None:
        for name in self.marks:
            node = self._by_ref.get(NodeRef("instance", name))
            if node is not None:
                node.refresh()
        self.marks.clear()
        self.post_message(self.MarksChanged(self, 0))

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand:
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            node.collapse()
        elif node.parent is not None and not node.parent.is_root:
            self.move_cursor(node.parent)

    # -- rendering ----------------------------------------------------------

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def render_label(
        self, node: TreeNode[NodeRef], base_style: Style, style: Style
    ) -> Text:
        ref = node.data
        if ref is None:
            return Text("")
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
        else:
            icon = ""
        text = Text(icon, style=base_style)
        if ref.kind == "task":
            self._task_label(text, ref.name, style)
        else:
            self._instance_label(text, ref.name, style)
        return text

    def _task_label(self, text: Text, task: str, style: Style) -> None:
        state = self.state
        if task not in state.tasks:
            text.append(task, style)
            return
        counts = state.task_counts.get(task, Counter())
        present = [s for s in statuses.ORDER if counts.get(s)]
        worst = present[0] if present else None
        if worst is None:
            text.append("· ", style)
        else:
            text.append(
                statuses.symbol(worst) + " ",
                style + self._style(statuses.style_class(worst)),
            )
        text.append(task, style + Style(bold=True))
        for status in present:
            text.append(" ")
            text.append(
                f"{statuses.symbol(status)}{counts[status]}",
                style + self._style(statuses.style_class(status)),
            )
        waiting = state.waiting_for(task)
        if waiting:
            text.append(
                f"  waits for {', '.join(waiting)}",
                style + self._style("session-tree--note"),
            )

    def _instance_label(self, text: Text, name: str, style: Style) -> None:
        instance = self.state.instances.get(name)
        if instance is None:
            text.append(name, style)
            return
        if name in self.marks:
            text.append("● ", style + self._style("session-tree--mark"))
        status_style = style + self._style(statuses.style_class(instance.status))
        text.append(statuses.symbol(instance.status) + " ", status_style)
        # The task's name is on the node above: "#3" is enough here.
        text.append(f"#{instance.index}", style)
        text.append(f" {instance.status}", status_style)
        if self.state.has_unresolved_logs(name):
            text.append(" !logs", style + self._style("session-tree--note"))

    def get_label_width(self, node: TreeNode[NodeRef]) -> int:
        # Called for every line when the tree is rebuilt; the plain text is
        # enough to size it, and much cheaper than styled labels.
        key = (node.id, node._updates)
        width = self._width_cache.get(key)
        if width is None:
            width = self.render_label(node, Style(), Style()).cell_len
            self._width_cache[key] = width
        return width


def _index(name: str) -> int:
    return int(name.rpartition("#")[2]) if "#" in name else -1
