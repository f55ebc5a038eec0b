"""Reading a session: queries, debug_repr, change feed, session listing."""

from __future__ import annotations

import json
import threading
import time

from triggers_core import SessionStorage, TriggerManager, open_storage, open_store
from triggers_core.runners import ThreadingTaskRunner

PASS = "triggers_core.testing.PassThruTask"
FAIL = "triggers_core.testing.FailingTask"


def join() -> None:
    assert ThreadingTaskRunner.join_all(timeout=60)


def configure(manager: TriggerManager) -> None:
    manager.update_configuration(
        {
            "t_done": {"after": ["go"], "run": PASS},
            "t_fails": {"after": ["go"], "run": FAIL},
            "t_waits": {"after": ["go", "later"], "run": PASS},
            "t_idle": {"after": ["never"], "run": PASS},
            "t_page": {"after": ["go"], "andEvery": "page", "run": PASS},
        }
    )


def test_unresolved_queries(manager: TriggerManager, storage: SessionStorage) -> None:
    configure(manager)
    manager.fire("go")
    manager.fire("page", {"p": 1})
    manager.fire("page", {"p": 2})
    join()
    tasks = [t.name for t in storage.get_unresolved_tasks()]
    assert tasks == ["t_fails", "t_idle", "t_waits"]
    instances = sorted(i.name for i in storage.get_unresolved_instances())
    assert instances == ["t_fails#0", "t_waits#0"]
    pages = storage.instances_of_task("t_page")
    assert [i.name for i in pages] == ["t_page#0", "t_page#1"]
    assert storage.instances_of_task("t_idle") == []


def test_instances_of_task_in_creation_order(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    manager.update_configuration(
        {"t_p": {"after": ["x"], "andEvery": "p", "run": PASS}}
    )
    for n in range(12):
        manager.fire("p", {"n": n})
    names = [i.name for i in storage.instances_of_task("t_p")]
    assert names == [f"t_p#{n}" for n in range(12)]


def test_debug_repr_is_plain_json(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    configure(manager)
    manager.fire("go", {"k": [1, 2]})
    join()
    snapshot = storage.debug_repr()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["uid"] == storage.uid
    assert snapshot["tasks"]["t_waits"]["after"] == ["go", "later"]
    assert snapshot["instances"]["t_fails#0"]["status"] == "failed"
    assert snapshot["metadata"]["latest_kwargs"]["go"] == {"k": [1, 2]}


def test_mapping_views(manager: TriggerManager, storage: SessionStorage) -> None:
    configure(manager)
    manager.fire("go")
    join()
    assert sorted(storage.tasks) == ["t_done", "t_fails", "t_idle", "t_page", "t_waits"]
    assert len(storage.instances) == 4
    assert "t_done#0" in storage.instances
    assert storage.metadata["latest_kwargs"]["go"] == {}


def test_change_feed(manager: TriggerManager, storage: SessionStorage) -> None:
    assert storage.version == 0
    configure(manager)
    v1 = storage.version
    assert v1 == 1
    manager.update_configuration({"t_done": {"after": ["go"], "run": PASS}})
    changes = storage.changes_since(v1)
    assert list(changes.tasks) == ["t_done"] and not changes.instances

    v2 = storage.version
    manager.fire("later", {"n": 1})
    changes = storage.changes_since(v2)
    assert changes.version == v2 + 1
    assert list(changes.instances) == ["t_waits#0"]
    assert changes.latest_kwargs == {"later": {"n": 1}}
    assert changes.instances["t_waits#0"].config is not None
    assert not storage.changes_since(changes.version)


def test_wait_for_change_wakes_on_write(
    manager: TriggerManager, storage: SessionStorage
) -> None:
    configure(manager)
    version = storage.version
    timer = threading.Timer(0.2, manager.fire, args=("later",))
    timer.start()
    started = time.monotonic()
    new = storage.wait_for_change(version, timeout=30)
    timer.join()
    assert new > version
    assert time.monotonic() - started < 30
    assert storage.wait_for_change(new, timeout=0.05) == new


def test_list_sessions_newest_first(storage_url: str) -> None:
    store = open_store(storage_url)
    for uid in ("old", "middle", "new"):
        manager = TriggerManager(open_storage(storage_url, uid))
        configure(manager)
        manager.fire("go")
        join()
        time.sleep(0.01)
    manager = TriggerManager(open_storage(storage_url, "middle"))
    manager.fire("page", {"p": 1})
    join()
    summaries = store.list_sessions()
    assert [s.uid for s in summaries][:3] == ["middle", "new", "old"]
    middle = summaries[0]
    assert middle.task_count == 5
    assert middle.instance_count == 4
    assert middle.failed_count == 1
    assert middle.unresolved_count == 2
    assert middle.updated >= middle.created
    assert store.session_exists("old") and not store.session_exists("nope")
    store.delete_session("old")
    assert not store.session_exists("old")
    assert "old" not in [s.uid for s in store.list_sessions()]


def test_sessions_are_isolated(storage_url: str) -> None:
    one = TriggerManager(open_storage(storage_url, "one"))
    two = TriggerManager(open_storage(storage_url, "two"))
    one.update_configuration({"t_x": {"after": ["go"], "run": PASS}})
    two.fire("go")
    join()
    assert two.storage.instances_of_task("t_x") == []
    assert list(two.storage.tasks) == []
    one.fire("go")
    join()
    assert one.storage["t_x#0"].metadata["result"] == {"kwargs": {"go": {}}}
