"""The simulator's configuration store: the state (folders, objects, generation counter), lookup
for kind hooks, and CRUD on /mgmt/tm URLs with the device's semantics.

The details live beside it: target.py (URL -> Target), request_body.py (reading a write's body),
render.py (how objects read back), render_cache.py (listings from items encoded once per
change), query.py ($filter/$select/...), integrity.py (references), side_effects.py (companion
objects), folders.py (partitions and folders), datagroup.py (record options). transactions.py
applies transactions to a copy of a Store.

Not thread-safe on its own: the HTTP layer holds one lock around every call.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from controller.simulator.base import (
    Context,
    Json,
    Kind,
    SimError,
    already_exists,
    bad_request,
    json_copy,
    node_name_of,
    not_found,
    rest_id,
    split_full,
)
from controller.simulator.datagroup import apply_record_options
from controller.simulator.folders import check_folder, handle_folders
from controller.simulator.index import Index
from controller.simulator.integrity import check_references, check_unreferenced
from controller.simulator.kinds import BUILTINS, KINDS
from controller.simulator.overlay import merge_state, trial_state
from controller.simulator.query import expanded, selected
from controller.simulator.render import list_json, render
from controller.simulator.render_cache import RenderCache
from controller.simulator.request_body import clean, identity, json_object, no_properties
from controller.simulator.side_effects import (
    after_store,
    before_store,
    gc_virtual_address,
    next_vs_index,
    virtual_profiles,
)
from controller.simulator.target import Target, locate_target


def fresh_state() -> Json:
    return {
        "generation": 1,
        "vsIndex": 0,
        "folders": {
            "/Common": {
                "generation": 1,
                "defaultRouteDomain": 0,
                "description": "Repository for system objects and shared objects.",
            }
        },
        "objects": {},
    }


class Store(Context):
    def __init__(
        self,
        state: Json | None = None,
        on_change: Callable[[], None] | None = None,
        index: Index | None = None,
    ):
        self._state = state if state is not None else fresh_state()
        self.on_change = on_change or (lambda: None)
        # (pool, member) -> up/down/checking from live health checks (health.py); None: off.
        self.member_health: Callable[[Json, Json], str | None] | None = None
        if state is None:
            self._seed()
        # Who refers to what, and addresses: kept up to date by every write below.
        self.index = index if index is not None else Index.build(self._state["objects"])
        # Encoded listing items, kept until what they show changes (render_cache.py).
        self.rendered = RenderCache()

    @property
    def state(self) -> Json:
        return self._state

    @state.setter
    def state(self, state: Json) -> None:
        """A whole new state (loaded, or copied from a peer): its index is built anew."""
        self._state = state
        self.index = Index.build(state["objects"])
        self.rendered.clear()

    def trial(self) -> Store:
        """A store for a transaction's commands: shares this state, copies what it touches."""
        return Store(trial_state(self.state), index=self.index.trial())

    def adopt(self, trial: Store) -> None:
        """Make a successful trial's changes this store's own (cost: what the trial touched)."""
        merge_state(self.state, trial.state)
        self.index.merge(trial.index)

    # ------------------------------------------------------------------ plumbing

    def _seed(self) -> None:
        for collection, name, extra in BUILTINS:
            kind = KINDS[collection]
            obj = kind.fresh()
            obj.update(copy.deepcopy(extra))
            if obj.get("defaultsFrom") == "":
                del obj["defaultsFrom"]  # root monitors have no parent (load_http_monitors.json)
            obj.update(name=name, partition="Common", fullPath=f"/Common/{name}", generation=0)
            obj["_builtin"] = True
            self.objects(collection)[obj["fullPath"]] = obj

    def objects(self, collection: str) -> MutableMapping[str, Json]:
        return self.state["objects"].setdefault(collection, {})

    def bump(self, *objs: Json | None) -> int:
        self.state["generation"] += 1
        for obj in objs:
            if obj is not None:
                obj["generation"] = self.state["generation"]
        return int(self.state["generation"])

    def find(self, collections: tuple[str, ...], key: str) -> tuple[str, Json] | None:
        if "|" in key:
            parent_path, segment, item = key.split("|", 2)
            for collection in collections:
                parent = self.objects(collection).get(parent_path)
                sub = (parent or {}).get("_sub", {}).get(segment, {})
                if item in sub:
                    return f"{collection}/{segment}", sub[item]
            return None
        for collection in collections:
            obj = self.objects(collection).get(key)
            if obj is not None:
                return collection, obj
        return None

    def resolve(self, collections: tuple[str, ...], name: str, partition: str) -> str:
        name = str(name).strip()
        if name.startswith("/"):
            return name
        for candidate in (f"/{partition}/{name}", f"/Common/{name}"):
            if self.find(collections, candidate):
                return candidate
        return f"/{partition}/{name}"

    def walk(self) -> Iterator[tuple[Kind, Json, Json | None]]:
        """Every stored object and subcollection item, with its kind and parent."""
        for collection, items in self.state["objects"].items():
            kind = KINDS[collection]
            for obj in items.values():
                yield kind, obj, None
                for segment, sub in obj.get("_sub", {}).items():
                    sub_kind = KINDS[kind.subs[segment]]
                    for item in sub.values():
                        yield sub_kind, item, obj

    def live_state(self, pool: Json, member: Json) -> str | None:
        """A member's probed state, or None when health checks are off or no monitor applies."""
        return self.member_health(pool, member) if self.member_health else None

    # ------------------------------------------------------------------ routing

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        raw_query: str,
        body: Any,
        answer: bool = True,
    ) -> tuple[int, Any]:
        """One /mgmt/tm request -> (status, JSON body or None). Raises SimError.
        answer=False: a write's object is not rendered (a transaction's commands answer
        nobody)."""
        rest = path[len("/mgmt/tm/") :].strip("/")
        segments = rest.split("/") if rest else []
        if segments[:2] in (["auth", "partition"], ["sys", "folder"]):
            return handle_folders(self, method, segments, body)
        target = self.locate(segments)
        if method == "GET":
            if target.item is None:
                return 200, self.rendered.list_body(self, target, query, raw_query)
            obj = self._get_item(target)
            return 200, self.render(target, obj, expanded(query), raw_query, select=selected(query))
        if method == "POST":
            if target.item is not None:
                raise bad_request(f"POST is not supported on an item: /mgmt/tm/{rest}", api_error=1)
            obj = self.create(target, json_object(body))
            return 200, self.render(target, obj, False) if answer else None
        if target.item is None:
            raise bad_request(f"{method} needs an item URL, not a collection: /mgmt/tm/{rest}", 1)
        if method == "PATCH" and "options" in query:
            obj = self.modify_options(target, query["options"])
            return 200, self.render(target, obj, False, raw_query) if answer else None
        if method in ("PUT", "PATCH"):
            obj = self.modify(target, json_object(body), replace=method == "PUT")
            return 200, self.render(target, obj, False) if answer else None
        if method == "DELETE":
            self.delete(target)
            return 200, None
        raise SimError(405, f"Method {method} not allowed", api_error=1)

    def locate(self, segments: list[str]) -> Target:
        """URL segments below /mgmt/tm -> Target (see target.py)."""
        return locate_target(self, segments)

    # ------------------------------------------------------------------ reads

    def _get_item(self, target: Target) -> Json:
        assert target.container is not None and target.item is not None
        obj = target.container.get(target.item)
        if obj is None:
            if target.parent is not None and target.kind.collection == "ltm/pool/members":
                raise SimError(404, f"Object not found - {target.item}", api_error=1)
            raise not_found(target.kind.word, target.item)
        return obj

    def list_json(self, target: Target, query: dict[str, str], raw_query: str) -> Json:
        return list_json(self, target, query, raw_query)

    def render(
        self,
        target: Target,
        obj: Json,
        expand: bool,
        raw_query: str = "",
        select: list[str] | None = None,
    ) -> Json:
        return render(self, target, obj, expand, raw_query, select)

    # ------------------------------------------------------------------ writes

    def _validate(self, target: Target, obj: Json) -> None:
        kind = target.kind
        if kind.prepare:
            kind.prepare(self, obj, target.parent)
        check_references(self, kind, obj)

    def _check_create_folder(
        self, target: Target, name: str, partition: str, sub_path: str
    ) -> None:
        """The folder a new object goes to exists; a pool member names its own partition."""
        if (
            target.kind.collection == "ltm/pool/members"
            and f"/{partition}" not in self.state["folders"]
        ):
            pool = target.parent["fullPath"] if target.parent else "?"
            node, port = node_name_of(name)
            raise SimError(
                400,
                f"01070734:3: Configuration error: Can't associate Pool Member ({pool} "
                f"/{partition}/{node} {port}) folder does not exist",
            )
        check_folder(self, partition, sub_path)

    def create(self, target: Target, body: Json) -> Json:
        kind = target.kind
        assert target.container is not None
        name, partition, sub_path, full = identity(kind, body)
        if kind.partitioned:
            self._check_create_folder(target, name, partition, sub_path)
        if full in target.container:
            raise already_exists(kind.word, full, partition or "Common")
        attrs, subs = clean(kind, body, f"/{target.url_path}/{rest_id(full)}")
        obj = kind.fresh()
        obj.update(json_copy(attrs))
        obj.update(name=name, fullPath=full, generation=0)
        if kind.partitioned:
            obj["partition"] = partition
            if sub_path:
                obj["subPath"] = sub_path
        if "profiles" in kind.subs:
            # decision: with no profiles a virtual gets /Common/fastL4, as tmsh does.
            obj["_sub"] = {
                "profiles": virtual_profiles(self, obj, subs.get("profiles") or ["/Common/fastL4"])
            }
        self._validate(target, obj)
        before_store(self, target, obj, None)
        target.container[full] = obj
        self.bump(obj, target.parent)
        if kind.collection == "ltm/virtual":
            obj["vsIndex"] = next_vs_index(self)
        after_store(self, target, obj, None, subs)
        self._index_write(target, obj, None)
        self.on_change()
        return obj

    def modify(self, target: Target, body: Json, replace: bool) -> Json:
        kind = target.kind
        assert target.container is not None and target.item is not None
        old = self._writable(target, "modified")
        attrs, subs = clean(kind, body, f"/{target.url_path}/{rest_id(old['fullPath'])}")
        if not attrs and not subs:
            raise no_properties()
        obj = _replaced(kind, old) if replace else json_copy(old)
        obj.update(json_copy(attrs))
        if "profiles" in subs and "profiles" in kind.subs:
            obj.setdefault("_sub", {})["profiles"] = virtual_profiles(
                self, obj, subs["profiles"] or ["/Common/fastL4"]
            )
        self._validate(target, obj)
        before_store(self, target, obj, old)
        target.container[target.item] = obj
        self.bump(obj, target.parent)
        after_store(self, target, obj, old, subs)
        self._index_write(target, obj, old)
        self.on_change()
        return obj

    def modify_options(self, target: Target, options: str) -> Json:
        """PATCH ...?options=records add {...} on an internal data group (17.1.2.1 capture)."""
        if target.kind.collection != "ltm/data-group/internal":
            raise bad_request(
                f"options are simulated for data groups only, not {target.url_path}", 1
            )
        assert target.container is not None and target.item is not None
        old = target.container.get(target.item)
        if old is None:
            raise self._missing_for_write(target)
        obj = json_copy(old)
        apply_record_options(obj, options)
        self._validate(target, obj)
        target.container[target.item] = obj
        self.bump(obj)
        self._index_write(target, obj, old)
        self.on_change()
        return obj

    def _index_write(self, target: Target, obj: Json, old: Json | None) -> None:
        if target.parent is None:
            if old is not None:
                self.index.drop_top(target.kind.collection, old["fullPath"], old)
            self.index.put_top(target.kind.collection, obj["fullPath"], obj)
        else:
            assert target.parent_kind is not None
            self.index.put_sub(target.parent_kind, target.parent, target.segment, obj)

    def _missing_for_write(self, target: Target) -> SimError:
        item = target.item or ""
        if target.kind.collection == "ltm/pool/members" and target.parent is not None:
            partition, _, name = split_full(item)
            node, port = node_name_of(name)
            return not_found(
                "Pool Member", f"{target.parent['fullPath']} /{partition}/{node} {port}"
            )
        return not_found(target.kind.word, item)

    def _writable(self, target: Target, verb: str) -> Json:
        """The stored object a PUT/PATCH/DELETE addresses; 404 when missing, 400 for built-ins."""
        assert target.container is not None and target.item is not None
        obj = target.container.get(target.item)
        if obj is None:
            raise self._missing_for_write(target)
        if obj.get("_builtin"):
            raise bad_request(f"{obj['fullPath']} is a system object and cannot be {verb}")
        return obj

    def delete(self, target: Target) -> None:
        assert target.container is not None and target.item is not None
        obj = self._writable(target, "deleted")
        check_unreferenced(self, target, obj)
        del target.container[target.item]
        if target.parent is None:
            self.index.drop_top(target.kind.collection, obj["fullPath"], obj)
        else:
            assert target.parent_kind is not None
            self.index.drop_sub(target.parent_kind, target.parent, target.segment, target.item)
        self.bump(target.parent)
        if target.kind.collection == "ltm/virtual":
            gc_virtual_address(self, obj["destination"])
        self.on_change()


def _replaced(kind: Kind, old: Json) -> Json:
    """The base of a PUT: defaults plus the identity, index and subcollections of `old`."""
    # PUT: omitted attributes go back to their defaults. decision: subcollections
    # (pool members, virtual profiles) are separate objects on the device and stay as
    # they are unless the body lists them (`members`, `profiles`, `*Reference.items`).
    obj = kind.fresh()
    kept = ("name", "partition", "subPath", "fullPath", "generation", "vsIndex", "_sub")
    for key in (*kept, *kind.immutable):
        if key in old:
            obj[key] = json_copy(old[key])
    return obj
