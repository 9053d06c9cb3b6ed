"""The simulator's configuration store: routing of /mgmt/tm URLs, CRUD with the device's
semantics, referential integrity, queries and transactions.

Not thread-safe on its own: the HTTP layer holds one lock around every call.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

from controller.simulator.base import (
    HOST,
    PROFILES,
    READ_ONLY,
    VERSION,
    Context,
    Kind,
    SimError,
    already_exists,
    bad_request,
    in_use,
    is_ip,
    item_link,
    node_name_of,
    not_found,
    ref_key,
    rest_id,
    split_full,
)
from controller.simulator.datagroup import apply_record_options
from controller.simulator.kinds import (
    BUILTINS,
    KINDS,
    TOP_LEVEL,
    parse_destination,
    render_session_state,
)

Json = dict[str, Any]


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


def folder_missing(path: str) -> SimError:
    return bad_request(f"The requested folder ({path}) was not found.")


def no_properties() -> SimError:
    return bad_request("one or more properties must be specified")


def _camel_reference(segment: str) -> str:
    head, *rest = segment.split("-")
    return head + "".join(p.capitalize() for p in rest) + "Reference"


class Target:
    """Where a URL points: a kind, its container (dict of items), the parent for subcollections,
    and the item path (None for the collection itself)."""

    def __init__(
        self,
        kind: Kind,
        container: dict[str, Json] | None,
        url_path: str,
        parent: Json | None = None,
        parent_kind: Kind | None = None,
        segment: str = "",
        item: str | None = None,
    ) -> None:
        self.kind = kind
        self.container = container
        self.url_path = url_path  # "ltm/pool/~Common~p/members"
        self.parent = parent
        self.parent_kind = parent_kind
        self.segment = segment
        self.item = item


class Store(Context):
    def __init__(self, state: Json | None = None, on_change: Callable[[], None] | None = None):
        self.state = state if state is not None else fresh_state()
        self.on_change = on_change or (lambda: None)
        if state is None:
            self._seed()

    # ------------------------------------------------------------------ plumbing

    def _seed(self) -> None:
        for collection, name, extra in BUILTINS:
            kind = KINDS[collection]
            obj = kind.fresh()
            obj.update(extra)
            if obj.get("defaultsFrom") == "":
                del obj["defaultsFrom"]  # root monitors have no parent (load_http_monitors.json)
            obj.update(name=name, partition="Common", fullPath=f"/Common/{name}", generation=0)
            obj["_builtin"] = True
            self.objects(collection)[obj["fullPath"]] = obj

    def objects(self, collection: str) -> dict[str, Json]:
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

    # ------------------------------------------------------------------ routing

    def handle(
        self, method: str, path: str, query: dict[str, str], raw_query: str, body: Any
    ) -> tuple[int, Any]:
        """One /mgmt/tm request -> (status, JSON body or None). Raises SimError."""
        rest = path[len("/mgmt/tm/") :].strip("/")
        segments = rest.split("/") if rest else []
        if segments[:2] in (["auth", "partition"], ["sys", "folder"]):
            return self._folders(method, segments, query, body)
        target = self.locate(segments, create=method == "POST")
        if method == "GET":
            if target.item is None:
                return 200, self.list_json(target, query, raw_query)
            obj = self._get_item(target)
            select = [s for s in query.get("$select", "").split(",") if s]
            expand = query.get("expandSubcollections") == "true"
            return 200, self.render(target, obj, expand, raw_query, select=select)
        if method == "POST":
            if target.item is not None:
                raise bad_request(f"POST is not supported on an item: /mgmt/tm/{rest}", api_error=1)
            obj = self.create(target, self._body(body))
            return 200, self.render(target, obj, False)
        if target.item is None:
            raise bad_request(f"{method} needs an item URL, not a collection: /mgmt/tm/{rest}", 1)
        if method == "PATCH" and "options" in query:
            obj = self.modify_options(target, query["options"])
            return 200, self.render(target, obj, False, raw_query)
        if method in ("PUT", "PATCH"):
            obj = self.modify(target, self._body(body), replace=method == "PUT")
            return 200, self.render(target, obj, False)
        if method == "DELETE":
            self.delete(target)
            return 200, None
        raise SimError(405, f"Method {method} not allowed", api_error=1)

    @staticmethod
    def _body(body: Any) -> Json:
        if not isinstance(body, dict):
            raise SimError(400, "Found invalid JSON body in the request.", api_error=1)
        return body

    def locate(self, segments: list[str], create: bool = False) -> Target:
        for n in range(len(segments), 0, -1):
            collection = "/".join(segments[:n])
            if collection in TOP_LEVEL:
                break
        else:
            raise unregistered("/".join(segments))
        kind = KINDS[collection]
        rest = segments[n:]
        if not rest:
            return Target(kind, self.objects(collection), collection)
        item = self._decode_id(rest[0], kind)
        if len(rest) == 1:
            return Target(kind, self.objects(collection), collection, item=item)
        segment = rest[1]
        if segment not in kind.subs or len(rest) > 3:
            raise unregistered("/".join(segments))
        parent = self.objects(collection).get(item)
        if parent is None:
            word = "pool" if collection == "ltm/pool" else kind.word
            raise not_found(word, item)
        sub_kind = KINDS[kind.subs[segment]]
        container = parent.setdefault("_sub", {}).setdefault(segment, {})
        url = f"{collection}/{rest_id(item)}/{segment}"
        sub_item = self._decode_id(rest[2], sub_kind) if len(rest) == 3 else None
        return Target(sub_kind, container, url, parent, kind, segment, sub_item)

    @staticmethod
    def _decode_id(segment: str, kind: Kind) -> str:
        # '~P~name' -> '/P/name'; percent-decoding after the split keeps '%2F' inside a name.
        path = unquote(segment).replace("~", "/")
        if kind.partitioned and not path.startswith("/"):
            path = f"/Common/{path}"  # bare names are in Common (go-bigip uses /ltm/virtual/test)
        return path

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
        assert target.container is not None
        items = sorted(target.container.values(), key=lambda o: o["fullPath"])
        for field, value in parse_filter(query.get("$filter", "")):
            items = [o for o in items if str(o.get(field, "")) == value]
        skip = _query_int(query, "$skip", 0)
        top = _query_int(query, "$top", len(items))
        items = items[skip : skip + top]
        expand = query.get("expandSubcollections") == "true"
        select = [s for s in query.get("$select", "").split(",") if s]
        out: Json = {
            "kind": target.kind.collection_kind,
            "selfLink": f"{HOST}/mgmt/tm/{target.url_path}?{raw_query + '&' if raw_query else ''}"
            f"ver={VERSION}",
        }
        rendered = [self.render(target, o, expand, select=select) for o in items]
        if rendered:
            out["items"] = rendered
        return out

    def self_link(self, target: Target, obj: Json, raw_query: str = "") -> str:
        if target.parent is not None:
            base = f"{HOST}/mgmt/tm/{target.url_path}/{rest_id(obj['fullPath'])}"
            return f"{base}?{raw_query + '&' if raw_query else ''}ver={VERSION}"
        return item_link(target.kind.collection, obj["fullPath"], raw_query)

    def render(
        self,
        target: Target,
        obj: Json,
        expand: bool,
        raw_query: str = "",
        select: list[str] | None = None,
    ) -> Json:
        kind = target.kind
        out: Json = {"kind": kind.item_kind, "name": obj["name"]}
        if kind.partitioned:
            out["partition"] = obj["partition"]
            if obj.get("subPath"):
                out["subPath"] = obj["subPath"]
        out["fullPath"] = obj["fullPath"]
        out["generation"] = obj["generation"]
        out["selfLink"] = self.self_link(target, obj, raw_query)
        body = copy.deepcopy({k: v for k, v in obj.items() if not k.startswith("_")})
        for key in ("name", "partition", "subPath", "fullPath", "generation"):
            body.pop(key, None)
        if kind.pair:
            enabled = body.pop("enabled", True)
            body["enabled" if enabled else "disabled"] = True
        if kind.collection in ("ltm/pool/members", "ltm/node"):
            monitored = obj.get("monitor", "default") != "default"
            if target.parent is not None and target.parent.get("monitor"):
                monitored = True
            body["session"], body["state"] = render_session_state(obj, monitored)
        # Links may add nameReference inside nested entries of `body` (same list objects).
        extra = kind.links(self, {**body, "fullPath": obj["fullPath"]}) if kind.links else {}
        for key in sorted(body):
            out[key] = body[key]
        out.update(extra)
        for segment, sub_collection in kind.subs.items():
            sub_kind = KINDS[sub_collection]
            url = f"{kind.collection}/{rest_id(obj['fullPath'])}/{segment}"
            reference: Json = {
                "link": f"{HOST}/mgmt/tm/{url}?ver={VERSION}",
                "isSubcollection": True,
            }
            items = obj.get("_sub", {}).get(segment, {})
            if expand and items:
                sub_target = Target(sub_kind, items, url, obj, kind, segment)
                reference["items"] = [
                    self.render(sub_target, i, False)
                    for i in sorted(items.values(), key=lambda o: o["fullPath"])
                ]
            out[_camel_reference(segment)] = reference
        if kind.collection == "gtm/server":
            out["devicesReference"] = self._devices(obj, expand)
        if select:
            out = {k: v for k, v in out.items() if k in select}
        return out

    def _devices(self, obj: Json, expand: bool) -> Json:
        """GTM server devices are derived from addresses[].deviceName (read-only here)."""
        url = f"gtm/server/{rest_id(obj['fullPath'])}/devices"
        ref: Json = {"link": f"{HOST}/mgmt/tm/{url}?ver={VERSION}", "isSubcollection": True}
        names = sorted({a["deviceName"] for a in obj.get("addresses", [])})
        if expand and names:
            ref["items"] = [
                {
                    "kind": "tm:gtm:server:devices:devicesstate",
                    "name": n,
                    "fullPath": n,
                    "generation": obj["generation"],
                    "selfLink": f"{HOST}/mgmt/tm/{url}/{n}?ver={VERSION}",
                }
                for n in names
            ]
        return ref

    # ------------------------------------------------------------------ writes

    def _identity(self, target: Target, body: Json) -> tuple[str, str, str, str]:
        """-> (name, partition, subPath, fullPath); accepts {"name": "/P/n"} and
        {"name": "n", "partition": "P"} (bigrest sends the first, f5-sdk the second)."""
        kind = target.kind
        raw = body.get("name")
        if not isinstance(raw, str) or not raw.strip("/"):
            raise bad_request(f'"name" is required to create a {kind.word}')
        if not kind.partitioned:
            return raw, "", "", raw
        if raw.startswith("/") and ":" in raw:
            # Member names (NODE:PORT, SERVER:VIRTUAL) may hold '/' after the partition, as
            # in "/Common/bigip1:/docker/www_vs": only the partition is split off.
            partition, _, name = raw[1:].partition("/")
            sub_path = ""
        elif raw.startswith("/"):
            partition, sub_path, name = split_full(raw)
        else:
            partition = str(body.get("partition") or "Common").strip("/")
            sub_path = str(body.get("subPath") or "").strip("/")
            name = raw
        full = "/".join(["", partition, *([sub_path] if sub_path else []), name])
        return name, partition, sub_path, full

    def _clean(self, kind: Kind, body: Json, where: str) -> tuple[Json, dict[str, list[Any]]]:
        """Drop identity and read-only keys, reject unknown ones; pull out subcollection
        contents sent inline (`members`, `profiles`, or `xxxReference.items` as CCCL does)."""
        attrs: Json = {}
        subs: dict[str, list[Any]] = {}
        accepted = kind.accepted()
        for key, value in body.items():
            if key in ("name", "partition", "subPath") or key in READ_ONLY:
                continue
            if key.endswith("Reference"):
                segment = next((s for s in kind.subs if _camel_reference(s) == key), None)
                if segment and isinstance(value, dict) and isinstance(value.get("items"), list):
                    subs.setdefault(segment, value["items"])
                continue  # links are read-only
            if key in kind.subs:
                if not isinstance(value, list):
                    raise bad_request(f'"{key}" must be a list (at {where})')
                subs[key] = value
                continue
            if key not in accepted:
                raise bad_request(
                    f"Found unexpected json pair at configuration item {where}. "
                    f'The json pair is "{key}":{_short(value)}.'
                )
            attrs[key] = value
        return attrs, subs

    def _check_folder(self, partition: str, sub_path: str) -> None:
        folder = f"/{partition}" + (f"/{sub_path}" if sub_path else "")
        if folder not in self.state["folders"]:
            raise folder_missing(folder)

    def _validate(self, target: Target, obj: Json) -> None:
        kind = target.kind
        if kind.prepare:
            kind.prepare(self, obj, target.parent)
        for ref in kind.refs(obj):
            if ref.collections == ("ltm/node",):
                continue  # a member's node is created on demand (_ensure_node)
            if self.find(ref.collections, ref.key) is None:
                shown = ref.key.replace("|virtual-servers|", ":")
                raise not_found(ref.word, shown, status=400)

    def create(self, target: Target, body: Json) -> Json:
        kind = target.kind
        assert target.container is not None
        name, partition, sub_path, full = self._identity(target, body)
        if kind.partitioned:
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
            self._check_folder(partition, sub_path)
        if full in target.container:
            raise already_exists(kind.word, full, partition or "Common")
        attrs, subs = self._clean(kind, body, f"/{target.url_path}/{rest_id(full)}")
        obj = kind.fresh()
        obj.update(copy.deepcopy(attrs))
        obj.update(name=name, fullPath=full, generation=0)
        if kind.partitioned:
            obj["partition"] = partition
            if sub_path:
                obj["subPath"] = sub_path
        if "profiles" in kind.subs:
            # decision: with no profiles a virtual gets /Common/fastL4, as tmsh does.
            obj["_sub"] = {
                "profiles": self._profiles(obj, subs.get("profiles") or ["/Common/fastL4"])
            }
        self._validate(target, obj)
        self._before_store(target, obj, None)
        target.container[full] = obj
        self.bump(obj, target.parent)
        if kind.collection == "ltm/virtual":
            obj["vsIndex"] = self._next_vs_index()
        self._after_store(target, obj, None, subs)
        self.on_change()
        return obj

    def modify(self, target: Target, body: Json, replace: bool) -> Json:
        kind = target.kind
        assert target.container is not None and target.item is not None
        old = self._writable(target, "modified")
        attrs, subs = self._clean(kind, body, f"/{target.url_path}/{rest_id(old['fullPath'])}")
        if not attrs and not subs:
            raise no_properties()
        if replace:
            # PUT: omitted attributes go back to their defaults. decision: subcollections
            # (pool members, virtual profiles) are separate objects on the device and stay as
            # they are unless the body lists them (`members`, `profiles`, `*Reference.items`).
            obj = kind.fresh()
            for key in (
                "name",
                "partition",
                "subPath",
                "fullPath",
                "generation",
                "vsIndex",
                "_sub",
            ):
                if key in old:
                    obj[key] = copy.deepcopy(old[key])
        else:
            obj = copy.deepcopy(old)
        obj.update(copy.deepcopy(attrs))
        if "profiles" in subs and "profiles" in kind.subs:
            obj.setdefault("_sub", {})["profiles"] = self._profiles(
                obj, subs["profiles"] or ["/Common/fastL4"]
            )
        self._validate(target, obj)
        self._before_store(target, obj, old)
        target.container[target.item] = obj
        self.bump(obj, target.parent)
        self._after_store(target, obj, old, subs)
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
        obj = copy.deepcopy(old)
        apply_record_options(obj, options)
        self._validate(target, obj)
        target.container[target.item] = obj
        self.bump(obj)
        self.on_change()
        return obj

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
        self._check_unreferenced(target, obj)
        del target.container[target.item]
        self.bump(target.parent)
        if target.kind.collection == "ltm/virtual":
            self._gc_virtual_address(obj["destination"])
        self.on_change()

    # ------------------------------------------------------------------ integrity

    def _target_keys(self, target: Target, obj: Json) -> tuple[str, set[str]]:
        """The collection and keys other objects use to reference obj (and its sub items)."""
        if target.parent is not None and target.parent_kind is not None:
            return target.parent_kind.collection, {
                ref_key(target.parent["fullPath"], target.segment, obj["fullPath"])
            }
        keys = {obj["fullPath"]}
        for segment, items in obj.get("_sub", {}).items():
            keys |= {ref_key(obj["fullPath"], segment, i) for i in items}
        return target.kind.collection, keys

    def _check_unreferenced(self, target: Target, obj: Json) -> None:
        collection, keys = self._target_keys(target, obj)
        for kind, other, parent in self.walk():
            if other is obj or parent is obj:
                continue
            for ref in kind.refs(other):
                if ref.key in keys and collection in ref.collections:
                    if (
                        kind.collection == "ltm/pool/members"
                        and target.kind.collection == "ltm/node"
                    ):
                        raise SimError(
                            400,
                            f"01070110:3: Node address '{obj['fullPath']}' is referenced by a "
                            f"member of pool '{parent['fullPath'] if parent else '?'}'.",
                        )
                    by = parent if parent is not None else other
                    by_word = KINDS[kind.collection.rsplit("/", 1)[0]].word if parent else kind.word
                    raise in_use(target.kind.word, obj["fullPath"], by_word, by["fullPath"])

    # ------------------------------------------------------------------ side effects

    def _profiles(self, virtual: Json, entries: list[Any]) -> dict[str, Json]:
        kind = KINDS["ltm/virtual/profiles"]
        out: dict[str, Json] = {}
        for entry in entries:
            entry = {"name": entry} if isinstance(entry, str) else dict(entry)
            name = str(entry.get("name", ""))
            if entry.get("partition") and not name.startswith("/"):
                name = f"/{str(entry['partition']).strip('/')}/{name}"
            path = self.resolve(PROFILES, name, virtual["partition"])
            partition, _, short = split_full(path)
            item: Json = {
                "name": short,
                "partition": partition,
                "fullPath": path,
                "generation": virtual.get("generation", 0),
                "context": entry.get("context", "all"),
                "_context_default": "context" not in entry,
            }
            kind.prepare(self, item, virtual)  # type: ignore[misc]
            out[path] = item
        return out

    def _next_vs_index(self) -> int:
        self.state["vsIndex"] += 1
        return int(self.state["vsIndex"])

    def _before_store(self, target: Target, obj: Json, old: Json | None) -> None:
        collection = target.kind.collection
        if collection == "ltm/pool/members":
            self._ensure_node(obj)
        elif collection == "ltm/virtual":
            self._ensure_virtual_address(obj)
        elif collection == "ltm/node" and old is None:
            self._check_ip_clash(obj["address"], obj["fullPath"])
        elif (
            collection == "gtm/pool/a/members"
            and old is None
            and target.container is not None
            and not obj.get("memberOrder")
        ):
            obj["memberOrder"] = len(target.container)

    def _after_store(
        self, target: Target, obj: Json, old: Json | None, subs: dict[str, list[Any]]
    ) -> None:
        collection = target.kind.collection
        if (
            collection == "ltm/virtual"
            and old is not None
            and old["destination"] != obj["destination"]
        ):
            self._gc_virtual_address(old["destination"])
        if "members" in subs and collection in ("ltm/pool", "gtm/pool/a"):
            self._replace_members(target, obj, subs["members"])

    def _check_ip_clash(self, address: str, path: str) -> None:
        for node in self.objects("ltm/node").values():
            if node["address"] == address and node["fullPath"] != path:
                raise SimError(
                    400, f"0107176c:3: Invalid Node, the IP address {address} already exists."
                )

    def _ensure_node(self, member: Json) -> None:
        """A member uses node /P/<node>; the node is created when missing (ICONTROL-NOTES §2.2)."""
        node_name, _ = node_name_of(member["name"])
        path = f"/{member['partition']}/{node_name}"
        node = self.objects("ltm/node").get(path)
        address = str(member.get("address") or "")
        if node is not None:
            if address and address != node["address"]:
                # decision: the device's text for a member address that contradicts its node
                # is not captured; refusing it keeps a wrong address from passing silently.
                raise bad_request(
                    f"01070734:3: Configuration error: member {member['fullPath']} address "
                    f"{address} does not match node {path} address {node['address']}",
                    api_error=3,
                )
            member["address"] = node["address"]
            return
        if not address and is_ip(node_name):
            address = node_name
        if not is_ip(address):
            raise bad_request(
                f"pool member {member['fullPath']}: an IP address is required to create node {path}"
            )
        self._check_ip_clash(address, path)
        node = KINDS["ltm/node"].fresh()
        node.update(name=node_name, partition=member["partition"], fullPath=path, address=address)
        self.objects("ltm/node")[path] = node
        self.bump(node)
        member["address"] = address

    def _ensure_virtual_address(self, virtual: Json) -> None:
        _, partition, address, _ = parse_destination(virtual["destination"], virtual["partition"])
        path = f"/{partition}/{address}"
        if path in self.objects("ltm/virtual-address"):
            return
        self._check_folder(partition, "")
        vaddr = KINDS["ltm/virtual-address"].fresh()
        vaddr.update(
            name=address, partition=partition, fullPath=path, address=address, mask=virtual["mask"]
        )
        self.objects("ltm/virtual-address")[path] = vaddr
        self.bump(vaddr)

    def _gc_virtual_address(self, destination: str) -> None:
        """autoDelete "true": the address goes with the last virtual that used it."""
        _, partition, address, _ = parse_destination(destination, "Common")
        path = f"/{partition}/{address}"
        vaddr = self.objects("ltm/virtual-address").get(path)
        if vaddr is None or vaddr.get("autoDelete") != "true":
            return
        for virtual in self.objects("ltm/virtual").values():
            _, p, a, _ = parse_destination(virtual["destination"], virtual["partition"])
            if f"/{p}/{a}" == path:
                return
        del self.objects("ltm/virtual-address")[path]
        self.bump()

    def _replace_members(self, target: Target, pool: Json, entries: list[Any]) -> None:
        """A `members` list on a pool write replaces the member set; listed members that exist
        are patched with the attributes given (decision, after CCCL and f5-bigip-rest-go)."""
        segment = "members"
        sub_kind = KINDS[target.kind.subs[segment]]
        container = pool.setdefault("_sub", {}).setdefault(segment, {})
        url = f"{target.kind.collection}/{rest_id(pool['fullPath'])}/{segment}"
        sub_target = Target(sub_kind, container, url, pool, target.kind, segment)
        wanted: dict[str, Json] = {}
        for entry in entries:
            body = {"name": entry} if isinstance(entry, str) else dict(entry)
            _, _, _, full = self._identity(sub_target, body)
            wanted[full] = body
        for full in [f for f in container if f not in wanted]:
            del container[full]
        for full, body in wanted.items():
            if full in container:
                attrs = {k: v for k, v in body.items() if k not in ("name", "partition")}
                if attrs:
                    sub_target.item = full
                    self.modify(sub_target, body, replace=False)
            else:
                sub_target.item = None
                self.create(sub_target, body)
        self.bump(pool)

    # ------------------------------------------------------------------ folders

    def _folders(
        self, method: str, segments: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        auth = segments[0] == "auth"
        folders: dict[str, Json] = self.state["folders"]
        if len(segments) > 3:
            raise unregistered("/".join(segments))
        if len(segments) == 2:
            if method == "GET":
                paths = sorted(p for p in folders if not auth or p.count("/") == 1)
                out: Json = {
                    "kind": "tm:auth:partition:partitioncollectionstate"
                    if auth
                    else "tm:sys:folder:foldercollectionstate",
                    "selfLink": f"{HOST}/mgmt/tm/{'/'.join(segments)}?ver={VERSION}",
                }
                items = [self._folder_json(p, auth) for p in paths]
                if not auth:
                    items.insert(0, self._root_folder())
                if items:
                    out["items"] = items
                return 200, out
            if method != "POST":
                raise SimError(405, f"{method} not allowed on a collection", api_error=1)
            body = self._body(body)
            name = str(body.get("name", "")).strip()
            if not name:
                raise bad_request('"name" is required')
            if name.startswith("/"):
                path = name.rstrip("/")
            else:
                parent = "" if auth else str(body.get("partition") or "/").rstrip("/")
                path = f"{parent}/{name}"
            if path.rsplit("/", 1)[0] and path.rsplit("/", 1)[0] not in folders:
                raise folder_missing(path.rsplit("/", 1)[0])
            if path in folders:
                raise already_exists("folder", path, split_full(path + "/x")[0])
            folders[path] = {"generation": 0, "defaultRouteDomain": 0}
            if body.get("description"):
                folders[path]["description"] = str(body["description"])
            self.bump(folders[path])
            self.on_change()
            return 200, self._folder_json(path, auth)
        raw = unquote(segments[2])
        path = "/" + raw.replace("~", "/").strip("/")
        if path not in folders:
            raise not_found("folder", path if not auth else raw)
        if method == "GET":
            return 200, self._folder_json(path, auth)
        if method == "DELETE":
            if path == "/Common":
                raise bad_request("The Common partition cannot be deleted")
            for _, obj, owner in self.walk():
                if owner is None and obj.get("fullPath", "").startswith(path + "/"):
                    raise SimError(
                        400,
                        "0107082a:3: You must remove all objects from a partition before "
                        f"removing the partition ({path.strip('/')}), type ID (4032)",
                    )
            if any(p.startswith(path + "/") for p in folders):
                raise SimError(400, f"01070405:3: The folder ({path}) is not empty.")
            del folders[path]
            self.bump()
            self.on_change()
            return 200, None
        if method in ("PUT", "PATCH"):
            attrs = {
                k: v
                for k, v in self._body(body).items()
                if k not in ("name", "partition") and k not in READ_ONLY
            }
            if not attrs:
                raise no_properties()
            folders[path].update(
                {k: v for k, v in attrs.items() if k in ("description", "defaultRouteDomain")}
            )
            self.bump(folders[path])
            self.on_change()
            return 200, self._folder_json(path, auth)
        raise SimError(405, f"Method {method} not allowed", api_error=1)

    def _folder_json(self, path: str, auth: bool) -> Json:
        meta = self.state["folders"][path]
        name = path.rsplit("/", 1)[-1]
        if auth:
            out: Json = {
                "kind": "tm:auth:partition:partitionstate",
                "name": name,
                "fullPath": name,
                "generation": meta["generation"],
                "selfLink": f"{HOST}/mgmt/tm/auth/partition/{name}?ver={VERSION}",
                "defaultRouteDomain": meta.get("defaultRouteDomain", 0),
            }
        else:
            parent = path.rsplit("/", 1)[0] or "/"
            out = {
                "kind": "tm:sys:folder:folderstate",
                "name": name,
                "partition": parent if parent == "/" else parent.strip("/").split("/")[0],
                "fullPath": path,
                "generation": meta["generation"],
                "selfLink": f"{HOST}/mgmt/tm/sys/folder/{rest_id(path)}?ver={VERSION}",
                "deviceGroup": "none",
                "hidden": "false",
                "inheritedDevicegroup": "true",
                "inheritedTrafficGroup": "true",
                "noRefCheck": "false",
                "trafficGroup": "/Common/traffic-group-1",
            }
        if meta.get("description"):
            out["description"] = meta["description"]
        return out

    def _root_folder(self) -> Json:
        return {
            "kind": "tm:sys:folder:folderstate",
            "name": "/",
            "fullPath": "/",
            "generation": 0,
            "selfLink": f"{HOST}/mgmt/tm/sys/folder/~?ver={VERSION}",
            "deviceGroup": "none",
            "hidden": "false",
            "inheritedDevicegroup": "true",
            "inheritedTrafficGroup": "true",
            "noRefCheck": "false",
            "trafficGroup": "/Common/traffic-group-1",
        }


def unregistered(path: str) -> SimError:
    # decision: restjavad's reply for an unknown /mgmt/tm path; its exact text varies by version.
    return SimError(404, f"Public URI path not registered: /tm/{path}", api_error=1)


def _short(value: Any) -> str:
    import json

    text = json.dumps(value)
    return text if len(text) < 80 else text[:77] + "..."


def _query_int(query: dict[str, str], key: str, default: int) -> int:
    if key not in query:
        return default
    value = query[key]
    if not value.isdigit():
        raise bad_request(f"Query parameter {key} must be a non-negative integer, got {value!r}", 1)
    return int(value)


def parse_filter(text: str) -> list[tuple[str, str]]:
    """'partition eq docker and name eq x' -> [('partition','docker'), ('name','x')].

    Only `eq` on plain fields is simulated, as CCCL, f5-ansible and f5-bigip-rest-go use it.
    """
    text = " ".join(text.split())
    if not text:
        return []
    out = []
    for clause in text.split(" and "):
        parts = clause.split(" ")
        if len(parts) != 3 or parts[1] != "eq":
            raise bad_request(
                f"Query parameter $filter not supported: {text!r} (use FIELD eq VALUE)", 1
            )
        out.append((parts[0], parts[2].strip("'")))
    return out
