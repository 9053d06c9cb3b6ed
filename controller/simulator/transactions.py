"""iControl REST transactions of the simulator (ICONTROL-NOTES §2.4)."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable
from typing import Any

from controller.simulator.base import HOST, VERSION, SimError, bad_request
from controller.simulator.store import Json, Store


class Transactions:
    """iControl REST transactions (ICONTROL-NOTES §2.4): commands are queued unvalidated and
    applied atomically, in evalOrder, on a copy of the store at commit."""

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
        command.update(
            evalOrder=max([c["evalOrder"] for c in tx["_commands"]], default=0) + 1,
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
        trial = Store(copy.deepcopy(store.state))
        started = self.clock()
        try:
            for command in sorted(tx["_commands"], key=lambda c: c["evalOrder"]):
                dispatch(trial, command)
        except SimError as error:
            del self.live[int(tid)]
            raise SimError(400, f"transaction failed:{error.message}", api_error=2) from None
        if body.get("validateOnly"):
            return self._record(tx)
        store.state = trial.state
        store.on_change()
        del self.live[int(tid)]
        tx["state"] = "COMPLETED"
        tx["executionTime"] = int(self.clock() - started)
        return self._record(tx)
