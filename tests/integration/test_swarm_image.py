"""The image scripts/build-image made (Debian base from mmdebstrap, wheels built on the host,
`pip install --no-index`) on a lab node that reaches nothing beyond the lab's bridge is the image
every task of the deployed stack runs: as uid 10001 with the socket's group, healthy through the
image's HEALTHCHECK."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

from tests.support.swarm_lab import SwarmLab, wait_for
from tests.support.swarm_stack import SERVICE, ControllerStack, Images


def test_the_stack_runs_the_image_built_offline_on_every_node(
    swarm_lab: tuple[SwarmLab, Images], controller_stack: ControllerStack
) -> None:
    lab, images = swarm_lab
    assert re.search(
        r"^image docker-bigip-ctlr:lab-test \(base docker-bigip-ctlr-base:bookworm, Python 3\.\d+\)"
        r": \d+ MB \(\d+ bytes\)$",
        images.build_output.strip(),
        re.M,
    ), images.build_output
    controller_stack.wait_running()
    for node in lab.nodes:
        assert node.docker("image", "inspect", "-f", "{{.Id}}", images.controller).strip() == (
            images.controller_id
        )
        label = f"label=com.docker.swarm.service.name={SERVICE}"
        (container,) = node.docker("ps", "-q", "--filter", label).split()

        def healthy(c: str = container, n: str = node.name) -> dict[str, object] | None:
            attrs = json.loads(lab.node(n).docker("inspect", c))[0]
            return attrs if attrs["State"].get("Health", {}).get("Status") == "healthy" else None

        attrs = wait_for(healthy, 90, f"the controller task on {node.name} healthy")
        assert attrs["Image"] == images.controller_id
        gid = (node.dir / "run" / "docker.sock").stat().st_gid
        assert attrs["Config"]["User"] == f"10001:{gid}"
        assert node.docker("exec", container, "id", "-u").strip() == "10001"
        assert attrs["Config"]["Healthcheck"]["Test"][0] == "CMD"
        assert "/healthz" in " ".join(attrs["Config"]["Healthcheck"]["Test"])


def test_lab_nodes_reach_nothing_beyond_the_lab_bridge(
    swarm_lab: tuple[SwarmLab, Images],
) -> None:
    """What made the image build offline: node1, where it ran, cannot leave the lab."""
    lab, images = swarm_lab
    # The host's resolver answers TCP on port 53 from the host itself...
    nameservers = re.findall(
        r"^nameserver\s+(\d+\.\d+\.\d+\.\d+)", Path("/etc/resolv.conf").read_text(), re.M
    )
    reachable = [ns for ns in nameservers if _host_connects(ns, 53)]
    assert reachable, f"the host reaches none of its name servers {nameservers} over TCP"

    def connect(address: str, port: int) -> int:
        done = subprocess.run(
            # busybox nc: -e runs a program once connected, so the connection ends at once
            ["docker", "run", "--rm", images.busybox, "nc", "-w", "3", address, str(port)]
            + ["-e", "/bin/true"],
            capture_output=True,
            env=lab.nodes[0].env,
            timeout=60,
        )
        return done.returncode

    # The lab's own traffic flows: node2's engine answers on its Swarm port.
    assert connect(lab.nodes[1].address, 2377) == 0
    # ... but not from the lab.
    assert connect(reachable[0], 53) != 0


def _host_connects(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=3).close()
        return True
    except OSError:
        return False
