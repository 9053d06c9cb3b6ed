"""Workloads + settings + iRule texts -> the desired BIG-IP objects, and the problems found.

    build_desired(workloads, settings, irules) -> Desired

Pure and deterministic: equal inputs give equal outputs, objects sorted by key.

How a workload becomes objects (P = settings.partition, POOL = `<ns>_<name>_<route|default>`):

- Pool `/P/POOL` (load-balancing mode from `lb`, monitor), one per route.
- Monitor `/P/POOL_mon` for the http/https/tcp/udp monitor forms; `none` means no monitor and a
  full path is only referenced. The default comes from the protocol (http and https check `/`,
  tcp connects, udp has none) and, for http/https, from an HTTP URL on localhost and the target
  port in the workload's HEALTHCHECK.
- Members, per member mode:
    container  `<ns>-<name>-<slot>:<port>`, the container's address on the chosen network
    node       `<node hostname>:<published>`, node address and routing-mesh port, one per node
    host       `<node hostname>:<published>`, node address and the instance's host-mode port
  Node and host members are named after the Docker node: a BIG-IP node name stands for one
  address, and two nodes may not share an address (0107176c), so all members that point at a
  Docker node's address must use one node name. Serving instances are enabled members,
  instances that Docker is stopping are disabled ones (drained); starting and unhealthy
  instances are not members.
- Virtual `/P/POOL_vs` for a route with `virtual=ADDR:PORT`. Other http/https routes are served
  by the shared virtual servers `shared_http_vs` / `shared_https_vs` (when their destination
  is set), whose `http_router` iRule looks the host up in the `hosts` data group.
- Data group `hosts`: "host" or "host/path" -> pool full path, for routes without `virtual`.
- Data group `endpoints`: container hosts ("www-1.example.com" -> "ADDR PORT", for the same
  routes, not in node mode where no single container is addressable) and DNS names for the
  `dns_resolver` iRule ("shop-www-1", "www-1" -> the container's address; "shop-www", "www"
  -> the address of the virtual server of the workload's first route). A key two workloads
  would write is the one's that holds it (claims.py); the other gets a notice.
- GTM (settings.gtm.enabled, per route `dns`): per hostname a GTM pool `/P/<host>_gp` whose
  member is `<gtm server name>:<virtual full path>`, and a wide IP `/P/<host>`. The member
  needs that virtual server on the GTM server (settings.gtm.server, in /Common): the
  controller creates it there, named after the LTM virtual's full path with its destination,
  and removes it with the last hostname it serves. The one for a shared virtual server
  carries the cluster's marker, one for a dedicated virtual its workload's.
- Routes (settings.manage_routes): one `net/route` per (Docker node, container subnet used by
  container-mode members), via the node's address. Subnets outside settings.allow.route_subnets,
  and subnets of different nodes that overlap (but for the one the device already routes),
  are reported and not routed.

Where each part lives: names.py (every naming pattern), members.py (member targets per mode),
ltm.py (monitors, virtual servers, the one table of shared virtual servers and their iRules),
endpoints.py (records of the `endpoints` data group), gtm.py, routes.py, claims.py (what two
workloads may not share, and who gets it), guard.py (allow-lists and limits), result.py (what
comes back), build.py (all of it together).

Problems: a workload with invalid labels, a label outside the allow-lists, a member mode that
cannot work, a missing port, containers that disagree, or a host name / path / virtual address
/ wide IP / object name another workload holds (the incumbent on the device, else the earliest
created) contributes no objects at all; the others are unaffected. A few problems do not
remove the workload's objects (overlapping or disallowed container subnets, `dns=true` while
GTM is disabled, an unclean HEALTHCHECK path); they are reported all the same.
`Desired.problems` holds exactly these: the label errors.

Notices (`Desired.notices`, `WorkloadResult.notices`): a DNS name another workload holds is
left out of the resolver (`Problem.instance` ""). And (with `Problem.instance` set) an
instance that cannot be a member right now (no address on the chosen network, several networks
and no f5.network, no host port yet) is left out of the members and the rest of its workload
syncs (state synced, or no_members when no member is left). Docker, not a label, caused them,
so they are not label errors. On several networks the instance still has the address its
member points at: `Desired.held` names that member and `core.policies.keep_held_members`
keeps it as it is on the BIG-IP. A port no instance can tell yet (no f5.port, no EXPOSE seen,
no instance started) is no problem at all: the route gets its pool without members.
"""

from __future__ import annotations

from controller.core.desired.build import WorkloadBuilds, build_desired
from controller.core.desired.ltm import healthcheck_path, shared_virtuals
from controller.core.desired.names import (
    container_host,
    dns_names_of,
    dns_safe,
    instance_suffix,
    node_name,
    pool_name,
    short_name,
)
from controller.core.desired.result import Desired, Problem, WorkloadResult

__all__ = [
    "Desired",
    "Problem",
    "WorkloadResult",
    "WorkloadBuilds",
    "build_desired",
    "container_host",
    "dns_names_of",
    "dns_safe",
    "healthcheck_path",
    "instance_suffix",
    "node_name",
    "pool_name",
    "shared_virtuals",
    "short_name",
]
