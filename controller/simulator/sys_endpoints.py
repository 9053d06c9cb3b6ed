"""Device-level endpoints of the simulator that hold no configuration objects: the organizing
collections (`/mgmt/tm/ltm/`, `/gtm/`, `/net/`, `/sys/`), `sys version`, `sys config` save,
`sys global-settings`, the device info of `/mgmt/shared/identified-devices`, and where a
`.../stats` URL goes.

Clients read the TMOS version from the `ver=` of a selfLink: f5-sdk's ManagementRoot and
f5-ansible's `tmos_version` both GET `/mgmt/tm/sys/` first, so that organizing collection is
what lets them connect at all.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.simulator.base import HOST, VERSION, Json, SimError, bad_request

BUILD = "0.0.8"
ORGANIZING = ("ltm", "gtm", "net", "sys")

# What each organizing collection lists besides the object collections the simulator serves.
EXTRA_REFERENCES = {
    "sys": ("config", "folder", "global-settings", "version"),
    "ltm": ("data-group", "monitor", "persistence", "profile"),
    "gtm": ("pool", "wideip"),
    "net": (),
}

# load_sys_global_settings.json (f5-ansible fixture, 13.0.0) less its long path lists.
GLOBAL_SETTINGS: Json = {
    "consoleInactivityTimeout": 0,
    "customAddr": "none",
    "failsafeAction": "go-offline-restart-tm",
    "guiSecurityBanner": "enabled",
    "guiSetup": "disabled",
    "hostAddrMode": "management",
    "hostname": "bigip1",
    "lcdDisplay": "enabled",
    "ledLocator": "disabled",
    "mgmtDhcp": "enabled",
    "netReboot": "disabled",
    "passwordPrompt": "Password",
    "quietBoot": "enabled",
    "usernamePrompt": "Username",
}


def stats_not_simulated(path: str) -> tuple[int, Any]:
    """The `.../stats` URLs of kinds stats.py keeps no statistics for land here, so such a URL
    is never read as an object named stats. decision: a 501 says so plainly."""
    raise SimError(501, f"statistics are not simulated: {path}", api_error=1)


def is_stats(path: str) -> bool:
    return path.startswith("/mgmt/tm/") and path.rstrip("/").endswith("/stats")


class SystemEndpoints:
    """The endpoints above, with the little state they keep (global settings, config saves)."""

    def __init__(self, collections: list[str]) -> None:
        self.collections = sorted(collections)  # "ltm/pool", ... (the registered kinds)
        self.global_settings: Json = copy.deepcopy(GLOBAL_SETTINGS)
        self.config_saves = 0  # how many `save sys config` the device was asked for

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any] | None:
        """(status, body) for a path this module owns, None for every other path."""
        trimmed = path.rstrip("/")
        if trimmed == "/mgmt/shared/identified-devices/config/device-info":
            return self._only_get(method, trimmed, self.device_info)
        if not trimmed.startswith("/mgmt/tm/"):
            return None
        rest = trimmed[len("/mgmt/tm/") :]
        if rest in ORGANIZING:
            return self._only_get(method, trimmed, lambda: self._organizing(rest))
        if rest == "sys/version":
            return self._only_get(method, trimmed, self._version)
        if rest == "sys/config":
            return self._config(method, body)
        if rest == "sys/global-settings":
            return self._global_settings(method, body)
        return None

    # ------------------------------------------------------------------ answers

    def _only_get(self, method: str, path: str, produce: Any) -> tuple[int, Any]:
        if method != "GET":
            raise SimError(405, f"{method} is not supported on {path}", api_error=1)
        return 200, produce()

    def _organizing(self, module: str) -> Json:
        names = {c.split("/")[1] for c in self.collections if c.startswith(module + "/")}
        names |= set(EXTRA_REFERENCES[module])
        return {
            "kind": f"tm:{module}:{module}collectionstate",
            "selfLink": f"{HOST}/mgmt/tm/{module}?ver={VERSION}",
            "items": [
                {"reference": {"link": f"{HOST}/mgmt/tm/{module}/{n}?ver={VERSION}"}}
                for n in sorted(names)
            ],
        }

    def _version(self) -> Json:
        # decision: no capture of sys/version is at hand; the shape is the one f5-sdk's
        # Version kind (tm:sys:version:versionstats) and f5-ansible's parsers read.
        entries = {
            "Build": BUILD,
            "Date": "Thu Oct 12 16:32:08 PDT 2023",
            "Edition": "Final",
            "Product": "BIG-IP",
            "Title": "Main Package",
            "Version": VERSION,
        }
        return {
            "kind": "tm:sys:version:versionstats",
            "selfLink": f"{HOST}/mgmt/tm/sys/version?ver={VERSION}",
            "entries": {
                f"{HOST}/mgmt/tm/sys/version/0": {
                    "nestedStats": {"entries": {k: {"description": v} for k, v in entries.items()}}
                }
            },
        }

    def _config(self, method: str, body: Any) -> tuple[int, Any]:
        if method == "GET":
            return 200, {
                "kind": "tm:sys:config:configstate",
                "selfLink": f"{HOST}/mgmt/tm/sys/config?ver={VERSION}",
            }
        if method != "POST":
            raise SimError(405, f"{method} is not supported on /mgmt/tm/sys/config", api_error=1)
        command = body.get("command") if isinstance(body, dict) else None
        if command != "save":
            # decision: only `save` is simulated; a `load` would need config files.
            raise bad_request(f'sys config: command must be "save", got {command!r}', api_error=1)
        self.config_saves += 1
        return 200, {"kind": "tm:sys:config:savestate", "command": "save"}

    def _global_settings(self, method: str, body: Any) -> tuple[int, Any]:
        if method in ("PATCH", "PUT"):
            if not isinstance(body, dict):
                raise SimError(400, "Found invalid JSON body in the request.", api_error=1)
            changes = {k: v for k, v in body.items() if k not in ("kind", "selfLink")}
            unknown = sorted(set(changes) - set(GLOBAL_SETTINGS))
            if unknown:
                raise bad_request(
                    "Found unexpected json pair at configuration item /sys/global-settings. "
                    f'The json pair is "{unknown[0]}":{changes[unknown[0]]!r}.'
                )
            self.global_settings.update(changes)
        elif method != "GET":
            raise SimError(405, f"{method} is not supported on /mgmt/tm/sys/global-settings", 1)
        return 200, {
            "kind": "tm:sys:global-settings:global-settingsstate",
            "selfLink": f"{HOST}/mgmt/tm/sys/global-settings?ver={VERSION}",
            **self.global_settings,
        }

    def device_info(self) -> Json:
        # decision: not captured here; keys are the ones clients read (version, build,
        # product, hostname, machineId) in restjavad's deviceinfostate shape.
        hostname = str(self.global_settings["hostname"])
        return {
            "baseMac": "52:54:00:00:00:01",
            "build": BUILD,
            "edition": "Final",
            "hostname": hostname,
            "machineId": "6d3b62f1-0000-4000-8000-000000000001",
            "mcpDeviceName": f"/Common/{hostname}",
            "platformMarketingName": "BIG-IP Virtual Edition",
            "product": "BIG-IP",
            "restFrameworkVersion": f"{VERSION}-{BUILD}",
            "version": VERSION,
            "generation": 0,
            "lastUpdateMicros": 0,
            "kind": "shared:resolver:device-groups:deviceinfostate",
            "selfLink": f"{HOST}/mgmt/shared/identified-devices/config/device-info",
        }
