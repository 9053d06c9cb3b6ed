"""A multi-node Docker Swarm on one machine: one `dockerd` per network namespace on one Linux
bridge, joined into one Swarm with a working overlay network.

    lab = SwarmLab("test").up(nodes=3, managers=3)
    lab.nodes[0].docker("node", "ls")           # the CLI against node1's engine
    lab.down()                                  # from any process: SwarmLab("test").down()

Each node i (1..N) has the address 10.<net>.0.(10+i) on the bridge 10.<net>.0.1/24, its own
mount and UTS namespaces (hostname nodeI), a fresh sysfs with the cgroup tree bound back, and a
private /run, so inside the node /var/run/docker.sock is that node's engine (what a stack file
bind-mounts into its tasks). The host's own engine, if any, runs beside and is never touched:
everything is stopped by the PIDs and names recorded in <root>/state.json, never by a process
name. No IPVS on this kind of kernel: Swarm virtual IPs and the ingress routing mesh do not work
here; `tasks.<service>` DNS, host-mode published ports and plain overlay networks do.

`swarm_lab` (session fixture): a 3-manager lab with the controller's image (built by
scripts/build-image on a Debian base made by mmdebstrap) and the busybox test image on every
node, and the BIG-IP simulator on the bridge address. Torn down at session end, pass or fail,
and at the start of the next session if a crashed one left it behind.

Run as root (namespaces, mounts, iptables). scripts/swarm-lab is the command-line face.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
LAB_DIR = Path(os.environ.get("BIGIP_CTLR_LAB_DIR", "/var/tmp/bigip-ctlr-lab"))
# Second octet of the lab networks by lab name: the script's and the tests' labs can coexist.
NETWORKS = {"lab": 231, "test": 232, "bench": 233}


def wait_for(check: Callable[[], T | None], timeout: float, what: str, pause: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; raise naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        # A command that failed or hung (an engine still starting) is a "not yet".
        with contextlib.suppress(subprocess.SubprocessError, OSError, ValueError):
            last = check()
            if last:
                return last
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(pause)


def sh(*command: str, check: bool = True, input: bytes | None = None, timeout: float = 120) -> str:
    done = subprocess.run(command, capture_output=True, input=input, timeout=timeout)
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(
            done.returncode, command, done.stdout, done.stderr.decode(errors="replace")
        )
    return done.stdout.decode(errors="replace")


@dataclass
class Node:
    index: int
    lab: SwarmLab

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def address(self) -> str:
        return f"{self.lab.subnet}.{10 + self.index}"

    @property
    def dir(self) -> Path:
        return self.lab.root / self.name

    @property
    def netns(self) -> str:
        return f"bctl{self.lab.net}-{self.name}"

    @property
    def socket(self) -> Path:
        return self.dir / "run" / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.docker_host}

    @property
    def pid(self) -> int:
        return int(self.lab.state.get("pids", {}).get(self.name, 0))

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> str:
        done = subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            input=input,
        )
        if check and done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
        return done.stdout

    def answers(self) -> bool:
        done = subprocess.run(
            ["docker", "version", "-f", "{{.Server.Version}}"],
            capture_output=True,
            env=self.env,
            timeout=10,
        )
        return done.returncode == 0

    def swarm_info(self) -> dict[str, Any]:
        return dict(json.loads(self.docker("info", "-f", "{{json .Swarm}}")))

    def is_leader(self) -> bool:
        with contextlib.suppress(subprocess.CalledProcessError, ValueError):
            status = self.docker("node", "inspect", "self", "-f", "{{json .ManagerStatus}}")
            return bool((json.loads(status) or {}).get("Leader"))
        return False


@dataclass
class SwarmLab:
    name: str = "lab"
    nodes: list[Node] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.net = NETWORKS.get(self.name, 231)
        self.root = LAB_DIR / self.name
        with contextlib.suppress(OSError, ValueError):
            self.state = json.loads((self.root / "state.json").read_text())
        self.nodes = [Node(i, self) for i in range(1, int(self.state.get("nodes", 0)) + 1)]

    @property
    def subnet(self) -> str:
        return f"10.{self.net}.0"

    @property
    def bridge(self) -> str:
        return f"bctl{self.net}"

    @property
    def host_address(self) -> str:
        """The host's address on the lab bridge: where tasks reach services of the host."""
        return f"{self.subnet}.1"

    def _save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "state.json").write_text(json.dumps(self.state, indent=1))

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    # ------------------------------------------------------------------ up

    def up(self, nodes: int = 3, managers: int = 1) -> SwarmLab:
        if not 1 <= managers <= nodes:
            raise ValueError(f"--managers {managers}: between 1 and --nodes ({nodes})")
        if self.state:
            self.down()
        self.state = {"nodes": nodes, "pids": {}, "rules": [], "bridge": self.bridge}
        self.nodes = [Node(i, self) for i in range(1, nodes + 1)]
        self._save()
        try:
            self._network()
            for node in self.nodes:
                self.start_engine(node)
            for node in self.nodes:
                wait_for(node.answers, 60, f"the engine of {node.name} ({node.dir}/dockerd.log)")
            self._form_swarm(managers)
        except BaseException:
            self.down()
            raise
        return self

    def _network(self) -> None:
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.state["bridge_made"] = True
        self._save()
        sh("ip", "addr", "add", f"{self.host_address}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        # The host engine sets FORWARD to DROP and br_netfilter sends bridged frames through it:
        # let the lab talk inside the bridge, and nothing leave it.
        for rule in (
            ["FORWARD", "-i", self.bridge, "!", "-o", self.bridge, "-j", "DROP"],
            ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"],
        ):
            sh("iptables", "-I", *rule)
            self.state["rules"].append(rule)
            self._save()
        for node in self.nodes:
            host_end = f"{self.bridge}n{node.index}"
            sh("ip", "netns", "add", node.netns)
            self.state.setdefault("netns", []).append(node.netns)
            self._save()
            sh(
                "ip",
                "link",
                "add",
                host_end,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                node.netns,
            )
            sh("ip", "link", "set", host_end, "master", self.bridge, "up")
            inside = ("ip", "netns", "exec", node.netns, "ip")
            sh(*inside, "addr", "add", f"{node.address}/24", "dev", "eth0")
            sh(*inside, "link", "set", "eth0", "up")
            sh(*inside, "link", "set", "lo", "up")
            sh(*inside, "route", "add", "default", "via", self.host_address)

    def start_engine(self, node: Node) -> int:
        """Start the node's dockerd in its namespaces; returns its PID (also in state.json)."""
        _drop_vxlan_links(node.netns)
        for sub in ("run", "data", "cg"):
            (node.dir / sub).mkdir(parents=True, exist_ok=True)
        (node.dir / "resolv.conf").write_text(f"nameserver {self.host_address}\n")
        d = node.dir
        pool = 240 + node.index
        # In a new mount namespace: drop the inherited namespace and overlay mounts (they would
        # pin other namespaces and the host's container file systems), mount a sysfs of this
        # network namespace with the cgroup tree bound back onto it (dockerd needs both for
        # overlay networks and devices), then a private /run and resolv.conf.
        script = f"""
            set -e
            hostname {node.name}
            awk '$3 == "nsfs" || $3 == "overlay" {{print $2}}' /proc/self/mounts \
                | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
            mount --rbind /sys/fs/cgroup {d}/cg
            mount -t sysfs sysfs /sys
            mount --rbind {d}/cg /sys/fs/cgroup
            mount --bind {d}/run /run
            mount --bind {d}/resolv.conf /etc/resolv.conf
            exec dockerd --data-root {d}/data -H unix:///var/run/docker.sock \
                --bip 10.{pool}.255.1/24 --default-address-pool base=10.{pool}.0.0/17,size=24
        """
        log = open(d / "dockerd.log", "ab")  # noqa: SIM115 - handed to the engine for its life
        process = subprocess.Popen(
            [
                "nsenter",
                f"--net=/var/run/netns/{node.netns}",
                "unshare",
                "-m",
                "--propagation",
                "private",
                "--uts",
                "sh",
                "-c",
                script,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"},
        )
        log.close()
        self.state["pids"][node.name] = process.pid
        self._save()
        return process.pid

    def _form_swarm(self, managers: int) -> None:
        first = self.nodes[0]
        first.docker("swarm", "init", "--advertise-addr", first.address)
        tokens = {
            role: first.docker("swarm", "join-token", "-q", role).strip()
            for role in ("manager", "worker")
        }
        for node in self.nodes[1:]:
            role = "manager" if node.index <= managers else "worker"
            node.docker("swarm", "join", "--token", tokens[role], f"{first.address}:2377")
        wait_for(lambda: len(self.ready_nodes()) == len(self.nodes), 60, "every node Ready")

    def ready_nodes(self) -> list[str]:
        out = self.leader().docker("node", "ls", "--format", "{{.Hostname}} {{.Status}}")
        return [line.split()[0] for line in out.splitlines() if line.endswith(" Ready")]

    # ------------------------------------------------------------------ operations

    def managers(self) -> list[Node]:
        return [n for n in self.nodes if n.answers() and n.swarm_info().get("ControlAvailable")]

    def leader(self) -> Node:
        """The node whose engine is the Swarm leader (waits through an election)."""
        return wait_for(
            lambda: next((n for n in self.nodes if n.answers() and n.is_leader()), None),
            90,
            "a Swarm leader",
        )

    def stop_engine(self, node: Node, timeout: float = 60) -> None:
        """Stop the node's engine by its PID (SIGTERM, SIGKILL after `timeout`) and every
        process left in its network namespace (task containers, containerd)."""
        self.stop_engines([node], timeout)

    def stop_engines(self, nodes: list[Node], timeout: float = 60) -> None:
        """Stop these engines together (a Swarm manager takes 10-30 s to exit)."""
        pids = [node.pid for node in nodes if node.pid]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for pid in pids:
            if not _wait_gone(pid, max(0.0, deadline - time.monotonic())):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 10)
        for node in nodes:
            for leftover in _pids_in_netns(node.netns):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(leftover, signal.SIGKILL)
            for leftover in _pids_in_netns(node.netns):
                _wait_gone(leftover, 10)
            self.state["pids"].pop(node.name, None)
        self._save()

    def restart_engine(self, node: Node) -> None:
        self.start_engine(node)
        wait_for(node.answers, 60, f"the engine of {node.name} to answer again")

    def load_image(self, tag: str, source: Node | None = None) -> None:
        """`docker save | docker load` of an image from `source` (node1) onto every other node."""
        source = source or self.nodes[0]
        with tempfile.NamedTemporaryFile(suffix=".tar", dir=self.root) as archive:
            source.docker("save", "-o", archive.name, tag, timeout=300)
            for node in self.nodes:
                if node is not source:
                    node.docker("load", "-q", "-i", archive.name, timeout=300)

    def set_managers(self, managers: list[str]) -> None:
        """Promote the named nodes, demote the others (the leader is kept a manager), one at
        a time: Raft refuses a second demotion while the first is still being applied."""
        leader = self.leader()
        wanted = set(managers) | {leader.name}
        for node in self.nodes:
            if node.name in wanted and node.name not in self._manager_names(leader):
                leader.docker("node", "promote", node.name)
                wait_for(lambda n=node: n.name in self._manager_names(leader), 60, "promotion")
        for node in self.nodes:
            if node.name not in wanted and node.name in self._manager_names(leader):
                wait_for(
                    lambda n=node: leader.docker("node", "demote", n.name) or True,
                    60,
                    f"demoting {node.name}",
                )
                wait_for(lambda n=node: n.name not in self._manager_names(leader), 60, "demotion")
        # A promoted node counts once its engine says it is a manager too.
        wait_for(
            lambda: all(
                self.node(n).swarm_info().get("ControlAvailable") == (n in wanted)
                for n in (x.name for x in self.nodes)
            ),
            60,
            f"managers {sorted(wanted)}",
        )

    def _manager_names(self, manager: Node) -> set[str]:
        out = manager.docker("node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}")
        return {line.split()[0] for line in out.splitlines() if len(line.split()) > 1}

    # ------------------------------------------------------------------ down

    def down(self) -> None:
        """Undo everything state.json records; safe to repeat and after a partial `up`."""
        # Nobody cares for the Swarm's state any more: a short grace, then SIGKILL.
        self.stop_engines(self.nodes, timeout=15)
        for netns in self.state.get("netns", []):
            for leftover in _pids_in_netns(netns):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(leftover, signal.SIGKILL)
            sh("ip", "netns", "del", netns, check=False)
        for rule in reversed(self.state.get("rules", [])):
            sh("iptables", "-D", *rule, check=False)
        if self.state.get("bridge_made"):
            sh("ip", "link", "del", self.bridge, check=False)
        # The node's mounts lived in its own mount namespace, gone with its last process; a
        # lazy unmount covers anything a crashed start left on the host side.
        for mount in sorted(_mounts_under(self.root), reverse=True):
            sh("umount", "-l", mount, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        self.state = {}
        self.nodes = []


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        time.sleep(0.1)
    return False


def _drop_vxlan_links(netns: str) -> None:
    """Delete the overlay (vxlan) links a stopped engine left in its node's namespace: the next
    engine cannot create its own for the same network ("error creating vxlan interface: file
    exists") and every task on that network is rejected until they are gone."""
    listed = sh("ip", "-n", netns, "-o", "link", "show", "type", "vxlan", check=False)
    for line in listed.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        sh("ip", "-n", netns, "link", "del", name, check=False)


def _pids_in_netns(netns: str) -> list[int]:
    """Processes whose network namespace is the named one (compared by inode)."""
    try:
        target = os.stat(f"/var/run/netns/{netns}").st_ino
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(entry / "ns" / "net").st_ino == target:
                    found.append(int(entry.name))
    return found


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root) + "/"
    with open("/proc/self/mounts") as mounts:
        return [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]


@contextlib.contextmanager
def running_lab(name: str, nodes: int, managers: int) -> Iterator[SwarmLab]:
    """A lab for the duration of the block; torn down however the block ends."""
    lab = SwarmLab(name)
    if lab.state:
        lab.down()  # left behind by a crashed run
    try:
        yield lab.up(nodes, managers)
    finally:
        lab.down()
