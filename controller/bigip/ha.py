"""An HA pair (the units of one sync-failover device group) behind the one client the pipeline
writes through.

One URL is today's BigipClient, unchanged (`make_client`). With several, `HaClient` holds a
client per unit and:

- writes only to the active unit. Every call that reads the configuration or writes
  (ensure_partition, read_objects, apply) first asks the unit it believes active for
  /mgmt/tm/cm/failover-status: one GET. A standby unit accepts writes (its configuration is
  not locked), so a write sent after a failover would succeed on the wrong unit; only this
  check, made before each transaction, keeps the standby free of writes.
- follows a failover. When that unit answers STANDBY (or anything but ACTIVE) or does not
  answer, the others are asked, and the one answering ACTIVE becomes the unit used. Found
  before or during a read, the read is made there. Found before or during a write, or by the
  health check (ping) between runs, the run's view of the device came from the old unit
  (which may hold changes the new one lacks): the next write fails with FailedOver naming the
  new active unit, the pipeline drops its cache, and the retry re-reads the new unit (and
  checks it again) before writing.
- runs a config sync (`config_sync`: a device group) at the end of a run that wrote
  something, unless the group has autoSync enabled; then reads /mgmt/tm/cm/sync-status. A
  failed sync is reported (observer, status) and tried again after the next run; so is a
  sync after which the group does not read "In Sync" (a peer not answering).

Hosts (HOST[:PORT]) name the units in logs, metrics and status; URLs carry no credentials
(the adapter refuses them).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from controller.bigip.adapter import BigipClient, Observer
from controller.bigip.connection import device_address
from controller.core import model
from controller.core.plan import Change
from controller.errors import BigipError, BigipMalformed, BigipRetryable
from controller.settings import BigipSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

CM_PATH = "/mgmt/tm/cm"
FAILOVER_STATUS_PATH = "/mgmt/tm/cm/failover-status"
SYNC_STATUS_PATH = "/mgmt/tm/cm/sync-status"
IN_SYNC = "In Sync"


class HaObserver(Protocol):
    """Where HA events go (observe.metrics.Metrics implements it)."""

    def set_active_unit(self, hosts: Sequence[str], active: str) -> None: ...
    def failover_seen(self) -> None: ...
    def config_sync_result(self, status: str, failed: bool) -> None: ...


class FailedOver(BigipRetryable):
    """The active unit changed under a call that needs the old one's view: the run is retried
    against the new unit, which answered (status 200: the BIG-IP is up)."""


class UnitClient(BigipClient):
    """A BigipClient that also reads and runs what lives outside the object model (/mgmt/tm/cm),
    through the same session, token handling and error classification."""

    def get_json(self, path: str, what: str) -> dict[str, Any]:
        reply = self._call("GET", path, what, lambda: self._device.load(path))
        return _properties(reply, "GET", path, what)

    def run_command(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        reply = self._call("POST", path, what, lambda: self._device.create(path, body))
        return _properties(reply, "POST", path, what)


def _properties(reply: Any, method: str, path: str, what: str) -> dict[str, Any]:
    properties = getattr(reply, "properties", None)
    if not isinstance(properties, dict):
        raise BigipMalformed(f"{what}: {method} {path}: not a JSON object", 200, "", method, path)
    return properties


def stats_description(reply: dict[str, Any], field: str, path: str) -> str:
    """The `field` description of the first entry of a /stats-like reply (failover-status,
    sync-status: entries -> {link: {nestedStats: {entries: {field: {description}}}}})."""
    try:
        entries = reply["entries"]
        first = next(iter(entries.values()))
        value = first["nestedStats"]["entries"][field]["description"]
    except (KeyError, TypeError, AttributeError, StopIteration):
        raise BigipMalformed(
            f"GET {path}: no entries.*.nestedStats.entries.{field}.description in the reply",
            200,
            "",
            "GET",
            path,
        ) from None
    return str(value)


class HaClient:
    """The units of one device group as one BigipWriter (see the module docstring)."""

    def __init__(
        self,
        units: Sequence[UnitClient],
        hosts: Sequence[str],
        *,
        config_sync: str = "",
        observer: HaObserver | None = None,
    ) -> None:
        if not units or len(units) != len(hosts):
            raise ValueError("HaClient needs one host name per unit")
        self.units = list(units)
        self.hosts = list(hosts)
        self.config_sync = config_sync
        self.observer = observer
        self.active = 0  # the unit believed active; checked before each use
        self.confirmed = False  # a unit has been seen active (finding one is no failover)
        # (unit, why) the active unit moved from since the configuration was last read
        self.moved_from: tuple[int, str] | None = None
        self.partition = ""  # made sure of on a unit that becomes active
        self.sync_pending = False  # written since the last sync that left the group in sync
        self.failovers = 0
        self.sync_status = ""
        self.sync_error = ""
        self.sync_failures = 0
        self._lock = threading.Lock()  # status() is read from the HTTP thread
        self._report_active()

    # ------------------------------------------------------------------ the BigipWriter

    @property
    def requests(self) -> Counter[tuple[str, int]]:
        total: Counter[tuple[str, int]] = Counter()
        for unit in self.units:
            total.update(unit.requests)
        return total

    def ping(self) -> None:
        """Reachability between runs. An active unit that stopped answering is left for the one
        answering ACTIVE (which answered, so the ping succeeds); the next write then fails once
        so that the run re-reads the new unit first."""
        with contextlib.suppress(FailedOver):
            self._guarded(lambda unit: unit.ping())

    def ensure_partition(self, partition: str) -> None:
        self.partition = partition
        unit = self._checked()
        self._guarded(lambda u: u.ensure_partition(partition), unit)

    def read_objects(
        self,
        partition: str,
        collections: Iterable[str],
        known: Mapping[model.ObjectKey, model.BigipObject] | None = None,
    ) -> list[model.BigipObject]:
        wanted = list(collections)
        unit = self._checked()
        try:
            objects = self._guarded(lambda u: u.read_objects(partition, wanted, known), unit)
        except FailedOver:  # it stopped answering mid-read: nothing came from it, read the new one
            objects = self._guarded(lambda u: u.read_objects(partition, wanted, known))
        self.moved_from = None  # what the run holds now comes from the active unit
        return objects

    def read(self, partition: str, collections: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        wanted = list(collections)
        unit = self._checked()
        return self._guarded(lambda u: u.read(partition, wanted), unit)

    def apply(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        unit = self._checked()
        if self.moved_from is not None:
            # The changes were planned against what the old unit held (read or cached), which
            # may not have reached this one: fail the run, so its retry re-reads.
            raise self._moved_error(*self.moved_from)
        self._guarded(lambda u: u.apply(changes), unit)
        self.sync_pending = bool(self.config_sync)

    def close(self) -> None:
        for unit in self.units:
            unit.close()

    def __enter__(self) -> HaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the active unit

    def _checked(self) -> UnitClient:
        """The active unit, asked first (one GET); another one if it is not active any more."""
        if len(self.units) == 1:
            return self.units[0]
        state, why = self._state_of(self.active)
        if state == "ACTIVE":
            self.confirmed = True
        else:
            self._move(self.active, why)
        return self.units[self.active]

    def _guarded(self, call: Callable[[UnitClient], T], unit: UnitClient | None = None) -> T:
        """`call` on the active unit; when it stops answering and another unit is active, the
        error says so (and the next call goes there)."""
        unit = unit or self.units[self.active]
        try:
            return call(unit)
        except BigipRetryable as error:
            if error.status != 0 or len(self.units) == 1:
                raise
            try:
                self._move(self.active, "stopped answering")
            except BigipError:
                raise error from None
            assert self.moved_from is not None
            raise self._moved_error(*self.moved_from) from None

    def _state_of(self, index: int) -> tuple[str, str]:
        """(failover status, how to say it): ('', 'did not answer (...)') when no answer."""
        unit, host = self.units[index], self.hosts[index]
        what = f"failover status of {host}"
        try:
            reply = unit.get_json(FAILOVER_STATUS_PATH, what)
            state = stats_description(reply, "status", FAILOVER_STATUS_PATH).upper()
        except BigipError as error:
            said = "did not answer" if error.status == 0 else "gave no failover status"
            return "", f"{said} ({error})"
        return state, f"is {state}"

    def _move(self, old: int, why: str) -> None:
        """Find the unit answering ACTIVE among the others and use it from now on; `why`: what
        the old one did ("is STANDBY", "stopped answering")."""
        heard: list[str] = [f"{self.hosts[old]} {why}"]
        for index in range(len(self.units)):
            if index == old:
                continue
            state, said = self._state_of(index)
            if state == "ACTIVE":
                self._switch(old, index, why)
                return
            heard.append(f"{self.hosts[index]} {said}")
        raise BigipRetryable(
            "no unit of the HA pair is active: " + "; ".join(heard),
            status=503,
            method="GET",
            path=FAILOVER_STATUS_PATH,
        )

    def _switch(self, old: int, new: int, why: str) -> None:
        # Before any unit was seen active, finding the active one is no failover.
        log.log(
            logging.WARNING if self.confirmed else logging.INFO,
            "%s: %s is the active unit now (%s %s); using it",
            "failover" if self.confirmed else "active unit found",
            self.hosts[new],
            self.hosts[old],
            why,
        )
        with self._lock:
            self.active = new
            self.moved_from = (old, why)
            if self.confirmed:
                self.failovers += 1
                # What the old unit held may not have reached the new one, and what the new one
                # gets must reach the old one: sync after the next write.
                self.sync_pending = self.sync_pending or bool(self.config_sync)
        if self.confirmed and self.observer is not None:
            self.observer.failover_seen()
        self.confirmed = True
        self._report_active()
        if self.partition:
            # The partition may never have been synced to the new unit.
            self.units[new].ensure_partition(self.partition)

    def _moved_error(self, old: int, why: str) -> FailedOver:
        return FailedOver(
            f"failover: {self.hosts[old]} {why}; {self.hosts[self.active]} is the active unit "
            "now: the run is retried against it, re-reading its configuration",
            status=200,
            method="GET",
            path=FAILOVER_STATUS_PATH,
        )

    def _report_active(self) -> None:
        if self.observer is not None:
            self.observer.set_active_unit(self.hosts, self.hosts[self.active])

    # ------------------------------------------------------------------ config sync

    def after_run(self) -> None:
        """End of a successful run: sync the device group when something was written since
        the group was last seen in sync. Never raises a BigipError: a failed sync is reported
        and tried again after the next run."""
        if not (self.config_sync and self.sync_pending):
            return
        group, host = self.config_sync, self.hosts[self.active]
        unit = self.units[self.active]
        try:
            item = unit.get_json(
                f"{CM_PATH}/device-group/~Common~{group}", f"read device group {group}"
            )
            auto = str(item.get("autoSync", "")) == "enabled"
            if not auto:
                unit.run_command(
                    CM_PATH,
                    {"command": "run", "utilCmdArgs": f"config-sync to-group {group}"},
                    f"config sync from {host} to device group {group}",
                )
            reply = unit.get_json(SYNC_STATUS_PATH, "read the sync status")
            status = stats_description(reply, "status", SYNC_STATUS_PATH)
        except BigipError as error:
            log.error(
                "config sync to device group %s failed (tried again after the next run): %s",
                group,
                error,
            )
            self._sync_done("", str(error), failed=True)
            return
        if status != IN_SYNC:
            log.warning(
                "device group %s reads %r after the config sync from %s; syncing again after "
                "the next run",
                group,
                status,
                host,
            )
        else:
            log.info(
                "device group %s in sync (%s from %s)",
                group,
                "auto-sync" if auto else "config sync",
                host,
            )
        self._sync_done(status, "", failed=False)

    def _sync_done(self, status: str, error: str, failed: bool) -> None:
        with self._lock:
            self.sync_status = status or self.sync_status
            self.sync_error = error
            self.sync_failures += failed
            self.sync_pending = status != IN_SYNC
        if self.observer is not None:
            self.observer.config_sync_result(status, failed)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "units": [
                    {"host": host, "active": i == self.active} for i, host in enumerate(self.hosts)
                ],
                "failovers": self.failovers,
                "config_sync": {
                    "device_group": self.config_sync,
                    "status": self.sync_status,
                    "pending": self.sync_pending,
                    "failures": self.sync_failures,
                    "last_error": self.sync_error,
                }
                if self.config_sync
                else None,
            }


def make_client(
    settings: BigipSettings,
    *,
    observer: Observer | None = None,
    ha_observer: HaObserver | None = None,
) -> BigipClient | HaClient:
    """One URL and no config sync: the plain BigipClient (no request more than before).
    Otherwise an HaClient over a client per URL, all with the same credentials and TLS
    settings."""
    if not settings.more_urls and not settings.config_sync:
        return BigipClient(settings, observer=observer)
    units = [
        UnitClient(replace(settings, url=url, more_urls=()), observer=observer)
        for url in settings.urls
    ]
    return HaClient(
        units,
        [device_address(url) for url in settings.urls],
        config_sync=settings.config_sync,
        observer=ha_observer,
    )
