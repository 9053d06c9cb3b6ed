"""iControl REST transactions of the simulator (ICONTROL-NOTES §2.4): the
/mgmt/tm/transaction endpoints, queued commands and the atomic commit on a copy of the store."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from controller.simulator.base import HOST, VERSION, Json, SimError, bad_request
from controller.simulator.store import Store

# A request carrying this header is queued in that transaction instead of being applied.
COORDINATION_HEADER = "X-F5-REST-Coordination-Id"


class Transactions:
    """iControl REST transactions (ICONTROL-NOTES §2.4): commands are queued unvalidated and
    applied atomically, in evalOrder, on a trial of the store at commit (store.trial)."""

    def __init__(self, clock: Callable[[], float] = time.time, timeout: int = 120) -> None:
        self.clock = clock
        self.timeout = timeout
        self.live: dict[int, Json] = {}
        self._ids = itertools.count(int(clock() * 1_000_000))

    def _record(self, tx: Json) -> Json:
        return {k: v for k, v in tx.items() if not k.startswith("_")}

    def _expire(self) -> None:
        now = self.clock()
        for tid in [t for t, tx in self.live.items() if tx["_expires"] <= now]:
            del self.live[tid]

    def get(self, tid: str) -> Json:
        self._expire()
        tx = self.live.get(int(tid)) if tid.isdigit() else None
        if tx is None:
            # decision: expired and unknown transactions are both "not found".
            raise SimError(404, f"Transaction with id {tid} not found.", api_error=1)
        return tx

    def create(self) -> Json:
        self._expire()
        tid = max(next(self._ids), int(self.clock() * 1_000_000))
        tx: Json = {
            "transId": tid,
            "state": "STARTED",
            "timeoutSeconds": self.timeout,
            "asyncExecution": False,
            "validateOnly": False,
            "executionTimeout": 300,
            "executionTime": 0,
            "failureReason": "",
            "kind": "tm:transactionstate",
            "selfLink": f"{HOST}/mgmt/tm/transaction/{tid}?ver={VERSION}",
            "_commands": [],
            "_expires": self.clock() + self.timeout,
        }
        self.live[tid] = tx
        return self._record(tx)

    def queue(self, tid: str, method: str, path: str, raw_query: str, body: Any) -> Json:
        tx = self.get(tid)
        n = len(tx["_commands"]) + 1
        uri = f"{HOST}{path}" + (f"?{raw_query}" if raw_query else "")
        command: Json = {"method": method, "uri": uri}
        if body is not None:
            command["body"] = body
        # The highest evalOrder is kept, so queueing costs the same at any transaction size.
        tx["_last_order"] = tx.get("_last_order", 0) + 1
        command.update(
            evalOrder=tx["_last_order"],
            commandId=n,
            kind="tm:transaction:commandsstate",
            selfLink=f"{HOST}/mgmt/tm/transaction/{tid}/commands/{n}?ver={VERSION}",
        )
        tx["_commands"].append(command)
        return command

    def commands(self, tid: str) -> Json:
        tx = self.get(tid)
        out: Json = {
            "kind": "tm:transaction:commandscollectionstate",
            "selfLink": f"{HOST}/mgmt/tm/transaction/{tid}/commands?ver={VERSION}",
        }
        if tx["_commands"]:
            out["items"] = sorted(tx["_commands"], key=lambda c: c["evalOrder"])
        return out

    def command(self, tid: str, cid: str) -> Json:
        tx = self.get(tid)
        for command in tx["_commands"]:
            if str(command["commandId"]) == cid:
                return command
        raise bad_request(f"Found invalid command id {cid}", api_error=1)

    def commit(
        self, tid: str, body: Json, store: Store, dispatch: Callable[[Store, Json], None]
    ) -> Json:
        """Apply every command to a copy of the store; swap it in only if all succeeded."""
        tx = self.get(tid)
        if body.get("state") != "VALIDATING":
            raise bad_request('only {"state":"VALIDATING"} commits a transaction', api_error=1)
        if not tx["_commands"]:
            raise SimError(404, "there is no command to commit in the transaction.", api_error=1)
        trial = store.trial()
        started = self.clock()
        try:
            for command in sorted(tx["_commands"], key=lambda c: c["evalOrder"]):
                dispatch(trial, command)
        except SimError as error:
            del self.live[int(tid)]
            raise SimError(400, f"transaction failed:{error.message}", api_error=2) from None
        if body.get("validateOnly"):
            return self._record(tx)
        store.adopt(trial)
        store.on_change()
        del self.live[int(tid)]
        tx["state"] = "COMPLETED"
        tx["executionTime"] = int(self.clock() - started)
        return self._record(tx)

    # ------------------------------------------------------------------ endpoints

    def route(self, method: str, path: str, body: Any, store: Store) -> tuple[int, Any]:
        """A request below /mgmt/tm/transaction -> (status, body). Raises SimError."""
        segments = path.rstrip("/").split("/")[4:]  # after /mgmt/tm/transaction
        if not segments:
            if method == "POST":
                return 200, self.create()
            if method == "GET":
                return 200, self._collection()
        elif len(segments) == 1:
            answer = self._item(method, segments[0], body, store)
            if answer is not None:
                return answer
        elif segments[1] == "commands":
            answer = self._commands_request(method, segments, body)
            if answer is not None:
                return answer
        raise SimError(400, f"{method} is not supported on {path}", api_error=1)

    def _collection(self) -> Json:
        items = [self._record(t) for t in self.live.values()]
        out: Json = {
            "kind": "tm:transactioncollectionstate",
            "selfLink": f"{HOST}/mgmt/tm/transaction?ver=17.1.2",
        }
        if items:
            out["items"] = items
        return out

    def _item(self, method: str, tid: str, body: Any, store: Store) -> tuple[int, Any] | None:
        """GET, PATCH (commit) or DELETE one transaction; None for other methods."""
        if method == "GET":
            return 200, self._record(self.get(tid))
        if method == "PATCH":
            return 200, self.commit(
                tid, body if isinstance(body, dict) else {}, store, apply_command
            )
        if method == "DELETE":
            self.get(tid)
            del self.live[int(tid)]
            return 200, None
        return None

    def _commands_request(
        self, method: str, segments: list[str], body: Any
    ) -> tuple[int, Any] | None:
        """.../commands and .../commands/<id>; None when the request is not supported."""
        tid = segments[0]
        if len(segments) == 2 and method == "GET":
            return 200, self.commands(tid)
        if len(segments) == 3:
            command = self.command(tid, segments[2])
            if method == "GET":
                return 200, command
            if method == "DELETE":
                tx = self.get(tid)
                tx["_commands"].remove(command)
                tx["_last_order"] = max((c["evalOrder"] for c in tx["_commands"]), default=0)
                return 200, None
            if (
                method == "PATCH"
                and isinstance(body, dict)
                and isinstance(body.get("evalOrder"), int)
            ):
                command["evalOrder"] = body["evalOrder"]
                tx = self.get(tid)
                tx["_last_order"] = max((c["evalOrder"] for c in tx["_commands"]), default=0)
                return 200, command
        return None


def apply_command(store: Store, command: Json) -> None:
    """Replay one queued command on `store` (the trial copy during a commit)."""
    parts = urlsplit(command["uri"])
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    method, body = command["method"], command.get("body")
    store.handle(method, parts.path, query, parts.query, body, answer=False)
