"""The controller's own labels and settings naming standard /Common objects, through the real
pipeline, adapter and simulator.

A device ships `/Common/tcp_half_open`, `/Common/oneconnect`, `/Common/f5-tcp-progressive`,
... (builtins.py): labels naming them must sync. A SNAT pool or monitor that does not exist is
refused by the device for the one workload that names it, with the device's text.
"""

from __future__ import annotations

from dataclasses import replace

from controller.run.loop import Reconciler
from controller.settings import AllowLists, VirtualSettings
from controller.simulator.server import Simulator
from tests.support.builders import FakeSource, workload
from tests.support.harness import Harness

SHARED_PROFILES = ("/Common/f5-tcp-progressive", "/Common/http", "/Common/oneconnect")


def harness(simulator: Simulator, source: FakeSource) -> Harness:
    allow = AllowLists(label_references=("/Common/*",), virtual_addresses=("192.0.2.0/24",))
    h = Harness(simulator, source, allow=allow)
    # The shared HTTP virtual server with standard profiles an operator would pick.
    h.settings = replace(h.settings, http_virtual=VirtualSettings("192.0.2.10:80", SHARED_PROFILES))
    h.reconciler = Reconciler(
        h.settings, source, h.client, h.reconciler.irules, h.reconciler.metrics, clock=h.clock
    )
    return h


def test_labels_naming_standard_objects_sync_and_missing_ones_are_refused(
    simulator: Simulator,
) -> None:
    simulator.put_object("ltm/snatpool", {"name": "/Common/outbound", "members": ["198.51.100.9"]})
    tcp = {"f5.protocol": "tcp", "f5.port": "5432"}
    source = FakeSource(
        [
            workload("www", ["172.18.0.2"], {"f5.monitor": "/Common/tcp_half_open"}),
            workload(
                "db",
                ["172.18.0.3"],
                {**tcp, "f5.virtual": "192.0.2.20:5432", "f5.snat": "/Common/outbound"},
            ),
            workload(
                "bad",
                ["172.18.0.4"],
                {**tcp, "f5.virtual": "192.0.2.21:5432", "f5.snat": "/Common/missing"},
            ),
        ]
    )
    h = harness(simulator, source)

    result = h.run()

    assert result.result == "success", result.error
    states = {w.workload: w.state for w in result.desired.workloads}
    assert states == {"shop/www": "synced", "shop/db": "synced", "shop/bad": "rejected"}
    (problem,) = [p for p in result.desired.problems if p.workload == "shop/bad"]
    assert problem.reason.startswith("BIG-IP rejected: transaction failed:01071811:3: Virtual ")
    assert problem.reason.endswith(" references non-existent snatpool /Common/missing.")
    www = simulator.get_object("ltm/pool", "/docker/shop_www_default")
    assert www is not None and www["monitor"] == "/Common/tcp_half_open "
    virtuals = simulator.list_objects("ltm/virtual", "docker")
    snat = [v["sourceAddressTranslation"] for v in virtuals if v["destination"].endswith(":5432")]
    assert [s["pool"] for s in snat] == ["/Common/outbound"]
    (shared,) = [v for v in virtuals if v["destination"] == "/docker/192.0.2.10:80"]
    profiles = sorted(p["fullPath"] for p in shared["profilesReference"]["items"])
    assert profiles == sorted(SHARED_PROFILES)
