"""Partitions and folders: /mgmt/tm/auth/partition and /mgmt/tm/sys/folder (both views of the
same folder table in the state), and the folder checks object writes make."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from controller.simulator.base import (
    HOST,
    READ_ONLY,
    VERSION,
    Json,
    SimError,
    already_exists,
    bad_request,
    not_found,
    rest_id,
    split_full,
)
from controller.simulator.request_body import json_object, no_properties
from controller.simulator.target import unregistered

if TYPE_CHECKING:
    from controller.simulator.store import Store


def folder_missing(path: str) -> SimError:
    return bad_request(f"The requested folder ({path}) was not found.")


def check_folder(store: Store, partition: str, sub_path: str) -> None:
    """The folder an object is created in must exist."""
    folder = f"/{partition}" + (f"/{sub_path}" if sub_path else "")
    if folder not in store.state["folders"]:
        raise folder_missing(folder)


def handle_folders(store: Store, method: str, segments: list[str], body: Any) -> tuple[int, Any]:
    """One request below auth/partition or sys/folder -> (status, body). Raises SimError."""
    auth = segments[0] == "auth"
    folders: dict[str, Json] = store.state["folders"]
    if len(segments) > 3:
        raise unregistered("/".join(segments))
    if len(segments) == 2:
        if method == "GET":
            return 200, _list(folders, segments, auth)
        if method != "POST":
            raise SimError(405, f"{method} not allowed on a collection", api_error=1)
        return 200, _create(store, json_object(body), auth)
    raw = unquote(segments[2])
    path = "/" + raw.replace("~", "/").strip("/")
    if path not in folders:
        raise not_found("folder", path if not auth else raw)
    if method == "GET":
        return 200, _folder_json(folders, path, auth)
    if method == "DELETE":
        _delete(store, path)
        return 200, None
    if method in ("PUT", "PATCH"):
        return 200, _modify(store, path, json_object(body), auth)
    raise SimError(405, f"Method {method} not allowed", api_error=1)


def _list(folders: dict[str, Json], segments: list[str], auth: bool) -> Json:
    # auth/partition shows only the top-level folders; sys/folder every folder and the root.
    paths = sorted(p for p in folders if not auth or p.count("/") == 1)
    out: Json = {
        "kind": "tm:auth:partition:partitioncollectionstate"
        if auth
        else "tm:sys:folder:foldercollectionstate",
        "selfLink": f"{HOST}/mgmt/tm/{'/'.join(segments)}?ver={VERSION}",
    }
    items = [_folder_json(folders, p, auth) for p in paths]
    if not auth:
        items.insert(0, _root_folder())
    if items:
        out["items"] = items
    return out


def _create(store: Store, body: Json, auth: bool) -> Json:
    folders: dict[str, Json] = store.state["folders"]
    name = str(body.get("name", "")).strip()
    if not name:
        raise bad_request('"name" is required')
    if name.startswith("/"):
        path = name.rstrip("/")
    else:
        # f5-sdk names the parent folder in subPath ({"name":"app","subPath":"/docker"});
        # {"partition":"/"} also means the root (ICONTROL-NOTES 2.2).
        parent = "" if auth else str(body.get("subPath") or body.get("partition") or "/")
        path = f"/{parent.strip('/')}/{name}" if parent.strip("/") else f"/{name}"
    if path.rsplit("/", 1)[0] and path.rsplit("/", 1)[0] not in folders:
        raise folder_missing(path.rsplit("/", 1)[0])
    if path in folders:
        raise already_exists("folder", path, split_full(path + "/x")[0])
    folders[path] = {"generation": 0, "defaultRouteDomain": 0}
    if body.get("description"):
        folders[path]["description"] = str(body["description"])
    store.bump(folders[path])
    store.on_change()
    return _folder_json(folders, path, auth)


def _delete(store: Store, path: str) -> None:
    folders: dict[str, Json] = store.state["folders"]
    if path == "/Common":
        raise bad_request("The Common partition cannot be deleted")
    for _, obj, owner in store.walk():
        if owner is None and obj.get("fullPath", "").startswith(path + "/"):
            raise SimError(
                400,
                "0107082a:3: You must remove all objects from a partition before "
                f"removing the partition ({path.strip('/')}), type ID (4032)",
            )
    if any(p.startswith(path + "/") for p in folders):
        raise SimError(400, f"01070405:3: The folder ({path}) is not empty.")
    del folders[path]
    store.bump()
    store.on_change()


def _modify(store: Store, path: str, body: Json, auth: bool) -> Json:
    folders: dict[str, Json] = store.state["folders"]
    attrs = {k: v for k, v in body.items() if k not in ("name", "partition") and k not in READ_ONLY}
    if not attrs:
        raise no_properties()
    folders[path].update(
        {k: v for k, v in attrs.items() if k in ("description", "defaultRouteDomain")}
    )
    store.bump(folders[path])
    store.on_change()
    return _folder_json(folders, path, auth)


def _folder_json(folders: dict[str, Json], path: str, auth: bool) -> Json:
    meta = folders[path]
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
            # A folder shows its parent as subPath ("/" for a partition), not a partition.
            "subPath": parent,
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


def _root_folder() -> Json:
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
