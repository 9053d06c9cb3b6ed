"""Cluster management (/mgmt/tm/cm) of one simulated unit, and what the units of a device group
share: which one is active, the group and its autoSync setting, and whether their
configurations agree.

    GET  /mgmt/tm/cm/failover-status      ACTIVE / STANDBY of this unit
    GET  /mgmt/tm/cm/sync-status          Standalone, In Sync, Changes Pending, Disconnected...
    GET  /mgmt/tm/cm/device[/~Common~N]   the units, with failoverState and selfDevice
    GET  /mgmt/tm/cm/device-group[/~Common~G], PATCH one to set autoSync
    POST /mgmt/tm/cm {"command":"run","utilCmdArgs":"config-sync to-group G"}
    POST /mgmt/tm/sys/failover {"command":"run","standby":true}   (tmsh run sys failover standby)

Shapes follow the captures in tests/captures/cm/ (see SOURCES.md there). A config sync copies
this unit's whole configuration to every peer that answers, as a full load on sync does; a peer
that does not answer keeps its changes pending. A standby unit accepts writes, as a real one
does (its configuration is not locked): tests count the writes each unit received instead.
"""

from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.simulator.base import HOST, VERSION, Json, SimError, bad_request

CM_PATH = "/mgmt/tm/cm"
FAILOVER_PATH = "/mgmt/tm/sys/failover"
TRAFFIC_GROUP = "/Common/traffic-group-1"
TRUST_GROUP = "device_trust_group"  # every BIG-IP has it (sync-only, auto-sync on)

_SYNC_TO_GROUP = re.compile(r"^config-sync to-group (\S+)$")


class Unit(Protocol):
    """What the cluster needs of a simulator: its store, its outage switch, its save hook."""

    store: Any

    @property
    def down(self) -> bool: ...

    def _save_state(self) -> None: ...


@dataclass
class DeviceGroup:
    name: str
    auto_sync: bool = False
    type: str = "sync-failover"


@dataclass
class Cluster:
    """The units of one device group (one unit: a standalone device). One lock for all units,
    since a sync writes into a peer's store while answering a request of its own."""

    names: list[str]
    group: DeviceGroup | None = None
    units: list[Unit] = field(default_factory=list)
    active: int = 0
    pending: set[int] = field(default_factory=set)  # units whose changes are not synced yet
    synced_once: bool = False
    syncs: list[int] = field(default_factory=list)  # the unit each config sync ran from
    fail_over_in: int | None = None  # fault injection: fail over after this many changes
    lock: threading.RLock = field(default_factory=threading.RLock)

    def attach(self, unit: Unit) -> int:
        """Register a unit (in the order of `names`); its store reports changes here."""
        index = len(self.units)
        self.units.append(unit)
        save = unit._save_state

        def changed() -> None:
            save()
            self.changed(index)

        unit.store.on_change = changed
        return index

    # ------------------------------------------------------------------ state changes

    def changed(self, index: int) -> None:
        if self.fail_over_in is not None:
            self.fail_over_in -= 1
            if self.fail_over_in <= 0:
                self.fail_over_in = None
                self.fail_over()
        if self.group is None:
            return
        if self.group.auto_sync:
            self.sync_from(index)  # auto-sync copies after each change
        else:
            self.pending.add(index)

    def sync_from(self, index: int) -> None:
        """Copy unit `index`'s configuration to every peer that answers."""
        with self.lock:
            source = self.units[index].store.state
            reached = True
            for i, unit in enumerate(self.units):
                if i == index:
                    continue
                if unit.down:
                    reached = False
                    continue
                unit.store.state = copy.deepcopy(source)
                unit._save_state()
            self.syncs.append(index)
            self.synced_once = True
            if reached:
                self.pending.clear()
            else:
                self.pending.add(index)

    def fail_over(self, to: int | None = None) -> None:
        """The active unit hands over: to unit `to`, or to the next one."""
        with self.lock:
            self.active = (self.active + 1) % len(self.units) if to is None else to

    # ------------------------------------------------------------------ views

    def sync_status(self) -> tuple[str, str, str]:
        """(status, color, summary) as tmsh show cm sync-status names them."""
        if self.group is None:
            return "Standalone", "green", " "
        if any(unit.down for unit in self.units):
            return "Disconnected", "red", "The local device is disconnected from its peers"
        if self.pending:
            return "Changes Pending", "yellow", "There is a possible change conflict"
        if not self.synced_once:
            return "Awaiting Initial Sync", "blue", "The device group is awaiting the initial sync"
        return "In Sync", "green", "All devices in the device group are in sync"


def _stats(kind: str, path: str, entries: Json, details: list[str]) -> Json:
    """A /stats-like reply: one entry, its `details` nested the way the device nests them."""
    camel = "failoverStatus" if "failover" in path else "syncStatus"
    nested = {
        f"{HOST}/mgmt/tm/cm/{camel}/0/details/{i}": {
            "nestedStats": {"entries": {"details": {"description": text}}}
        }
        for i, text in enumerate(details)
    }
    entries = {
        **entries,
        f"{HOST}/mgmt/tm/cm/{camel}/0/details": {"nestedStats": {"entries": nested}},
    }
    return {
        "kind": kind,
        "selfLink": f"{HOST}{path}?ver={VERSION}",
        "entries": {f"{HOST}{path}/0": {"nestedStats": {"entries": entries}}},
    }


class UnitCm:
    """The /mgmt/tm/cm endpoints as unit `index` of `cluster` answers them."""

    def __init__(self, cluster: Cluster, index: int) -> None:
        self.cluster = cluster
        self.index = index

    @property
    def active(self) -> bool:
        return self.cluster.active == self.index

    def handles(self, path: str) -> bool:
        return path in (CM_PATH, FAILOVER_PATH) or path.startswith(CM_PATH + "/")

    def route(self, method: str, path: str, body: Any) -> tuple[int, Json]:
        path = path.rstrip("/")
        if path == FAILOVER_PATH and method == "POST":
            return 200, self._run_failover(body)
        if path == CM_PATH and method == "POST":
            return 200, self._run(body)
        if method == "GET" and path == f"{CM_PATH}/failover-status":
            return 200, self.failover_status()
        if method == "GET" and path == f"{CM_PATH}/sync-status":
            return 200, self.sync_status()
        if path.startswith(f"{CM_PATH}/device-group"):
            return self._device_group(method, path, body)
        if method == "GET" and path.startswith(f"{CM_PATH}/device"):
            return self._device(path)
        raise SimError(404, f"Public URI path not registered: {path[5:]}", api_error=1)

    # ------------------------------------------------------------------ status

    def failover_status(self) -> Json:
        # Captured: the ACTIVE shape (14.1.2.1). The standby's color and detail text follow
        # tmsh's wording; no standby capture was found.
        state = "ACTIVE" if self.active else "STANDBY"
        color = "green" if self.active else "gray"
        return _stats(
            "tm:cm:failover-status:failover-statusstats",
            f"{CM_PATH}/failover-status",
            {
                "color": {"description": color},
                "status": {"description": state},
                "summary": {"description": f"1/1 {state.lower()}"},
            },
            [f"{state.lower()} for {TRAFFIC_GROUP}"],
        )

    def sync_status(self) -> Json:
        status, color, summary = self.cluster.sync_status()
        group = self.cluster.group
        mode = "standalone" if group is None else "high-availability"
        if group is None:  # the captured standalone device's one line
            details = ["Optional action: Add a device to the trust domain"]
        else:
            details = [
                f"{name}: {'disconnected' if unit.down else 'connected'}"
                for i, (name, unit) in enumerate(
                    zip(self.cluster.names, self.cluster.units, strict=True)
                )
                if i != self.index
            ]
            details.append(f"{group.name} ({status}): {summary}")
        return _stats(
            "tm:cm:sync-status:sync-statusstats",
            f"{CM_PATH}/sync-status",
            {
                "color": {"description": color},
                "mode": {"description": mode},
                "status": {"description": status},
                "summary": {"description": summary},
            },
            details,
        )

    # ------------------------------------------------------------------ devices and groups

    def _device_item(self, i: int, name: str) -> Json:
        return {
            "kind": "tm:cm:device:devicestate",
            "name": name,
            "partition": "Common",
            "fullPath": f"/Common/{name}",
            "generation": 1,
            "selfLink": f"{HOST}{CM_PATH}/device/~Common~{name}?ver={VERSION}",
            "chassisType": "individual",
            "configsyncIp": f"10.0.0.{i + 1}",
            "failoverState": "active" if self.cluster.active == i else "standby",
            "haCapacity": 0,
            "hostname": name,
            "managementIp": f"192.0.2.{i + 1}",
            "marketingName": "BIG-IP Virtual Edition",
            "product": "BIG-IP",
            "selfDevice": "true" if i == self.index else "false",
            "version": VERSION,
        }

    def _device(self, path: str) -> tuple[int, Json]:
        items = [self._device_item(i, n) for i, n in enumerate(self.cluster.names)]
        rest = path[len(f"{CM_PATH}/device") :].lstrip("/")
        if not rest:
            return 200, {
                "kind": "tm:cm:device:devicecollectionstate",
                "selfLink": f"{HOST}{CM_PATH}/device?ver={VERSION}",
                "items": items,
            }
        for item in items:
            if rest in (f"~Common~{item['name']}", item["name"]):
                return 200, item
        raise SimError(404, f"01020036:3: The requested device (/Common/{rest}) was not found.")

    def _groups(self) -> list[DeviceGroup]:
        trust = DeviceGroup(TRUST_GROUP, auto_sync=True, type="sync-only")
        return [trust] + ([self.cluster.group] if self.cluster.group else [])

    def _group_item(self, group: DeviceGroup) -> Json:
        # Shape of f5-ansible's load_device_group.json (16.0.0).
        link = f"{HOST}{CM_PATH}/device-group/~Common~{group.name}"
        return {
            "kind": "tm:cm:device-group:device-groupstate",
            "name": group.name,
            "partition": "Common",
            "fullPath": f"/Common/{group.name}",
            "generation": 1,
            "selfLink": f"{link}?ver={VERSION}",
            "asmSync": "disabled",
            "autoSync": "enabled" if group.auto_sync else "disabled",
            "fullLoadOnSync": "true",
            "incrementalConfigSyncSizeMax": 1024,
            "networkFailover": "enabled" if group.type == "sync-failover" else "disabled",
            "saveOnAutoSync": "false",
            "type": group.type,
            "devicesReference": {"link": f"{link}/devices?ver={VERSION}", "isSubcollection": True},
        }

    def _device_group(self, method: str, path: str, body: Any) -> tuple[int, Json]:
        rest = path[len(f"{CM_PATH}/device-group") :].lstrip("/")
        if not rest and method == "GET":
            return 200, {
                "kind": "tm:cm:device-group:device-groupcollectionstate",
                "selfLink": f"{HOST}{CM_PATH}/device-group?ver={VERSION}",
                "items": [self._group_item(g) for g in self._groups()],
            }
        name = rest.replace("~Common~", "", 1)
        group = next((g for g in self._groups() if g.name == name), None)
        if group is None or not rest:
            raise SimError(
                404, f"01020036:3: The requested device group (/Common/{name}) was not found."
            )
        if method == "PATCH" and group is self.cluster.group and isinstance(body, dict):
            auto = body.get("autoSync")
            if auto not in (None, "enabled", "disabled"):
                raise bad_request(f'autoSync: "{auto}" must be enabled or disabled')
            if auto is not None:
                group.auto_sync = auto == "enabled"
        elif method != "GET":
            raise bad_request(f"{method} of device group {name} is not supported here")
        return 200, self._group_item(group)

    # ------------------------------------------------------------------ commands

    def _run(self, body: Any) -> Json:
        if not isinstance(body, dict) or body.get("command") != "run":
            raise bad_request('/mgmt/tm/cm takes {"command":"run","utilCmdArgs":...}')
        args = str(body.get("utilCmdArgs", "")).strip()
        match = _SYNC_TO_GROUP.match(args)
        if match is None:
            raise bad_request(f"unsupported cm command: {args!r}")
        group = self.cluster.group
        if group is None or match.group(1) != group.name:
            # Captured error body for an unknown group (apiError 3).
            raise SimError(
                400,
                f"01070734:3: Configuration error: Device group ({match.group(1)}) not found "
                "in device group sync",
                api_error=3,
            )
        self.cluster.sync_from(self.index)
        return {"kind": "tm:cm:runstate", "command": "run", "utilCmdArgs": args}

    def _run_failover(self, body: Any) -> Json:
        # Not captured: the reply mirrors the command, as tm:cm:runstate does for config sync.
        if not isinstance(body, dict) or body.get("command") != "run" or not body.get("standby"):
            raise bad_request('/mgmt/tm/sys/failover takes {"command":"run","standby":true}')
        if self.active and len(self.cluster.units) > 1:
            self.cluster.fail_over()
        return {"kind": "tm:sys:failover:runstate", "command": "run", "standby": True}
