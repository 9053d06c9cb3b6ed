"""The simulator driven by F5's own Python SDK (f5-sdk 3.0.21 over f5-icontrol-rest).

f5-sdk builds its URLs from the selfLinks it reads, sends PUTs built from what it loaded, adds
trailing slashes and names folders by subPath: each test here covers one thing a device accepts
from it and the simulator once refused, or one thing a device refuses that the simulator once
let through. Device behaviour is checked against captures where one exists: ../shared
(reference/bigip) and tests/simulator/captures (see SOURCES.md there).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from f5.bigip import ManagementRoot
from f5.bigip.contexts import TransactionContextManager
from f5.sdk_exception import TransactionSubmitException
from icontrol.exceptions import iControlUnexpectedHTTPError

from controller.simulator.base import VERSION
from controller.simulator.server import Simulator

CAPTURES = Path(__file__).parent / "captures"
REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "bigip"
P = "docker"


def capture(name: str) -> Any:
    return json.loads((CAPTURES / name).read_text())


def reference(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text())


def connect(sim: Simulator, **kwargs: Any) -> ManagementRoot:
    # verify= the simulator's CA: f5-sdk sends through session.send(), which ignores
    # REQUESTS_CA_BUNDLE, so the bundle is passed explicitly (verification stays on).
    return ManagementRoot(
        "127.0.0.1", "admin", "admin", port=sim.port, verify=sim.ca_file, **kwargs
    )


@pytest.fixture
def mgmt(simulator: Simulator) -> ManagementRoot:
    api = connect(simulator)
    api.tm.sys.folders.folder.create(name=P, subPath="/")
    return api


def refused(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(iControlUnexpectedHTTPError) as caught:
        call()
    response = caught.value.response
    return response.status_code, response.json()


def seen(sim: Simulator, method: str, path: str) -> list[int | None]:
    return [r.status for r in sim.requests if r.method == method and r.path == path]


# --------------------------------------------------------------------------- connecting


def test_management_root_connects_with_basic_auth_and_reads_the_version(
    simulator: Simulator,
) -> None:
    api = connect(simulator)
    assert api.tmos_version == VERSION
    # ManagementRoot reads the version from the selfLink of the sys organizing collection.
    assert seen(simulator, "GET", "/mgmt/tm/sys/") == [200]
    assert simulator.live_tokens() == 0


def test_management_root_with_token_auth_logs_in_once(simulator: Simulator) -> None:
    api = connect(simulator, token=True)
    assert api.tmos_version == VERSION
    api.tm.ltm.pools.pool.create(name="p", partition="Common")
    assert seen(simulator, "POST", "/mgmt/shared/authn/login") == [200]
    assert simulator.live_tokens("admin") == 1
    assert simulator.get_object("ltm/pool", "/Common/p") is not None


def test_token_is_listed_extended_and_logged_out(simulator: Simulator) -> None:
    api = connect(simulator, token=True)
    token_name = api.icrs.session.auth.token
    tokens = api.shared.authz.tokens_s.get_collection()
    assert [t.token for t in tokens] == [token_name]
    token = api.shared.authz.tokens_s.token.load(name=token_name)
    start = token.expirationMicros - token.timeout * 1_000_000
    token.modify(timeout=3600)
    assert token.timeout == 3600 and token.expirationMicros == start + 3600 * 1_000_000
    # f5-sdk addresses the token with a trailing slash; both calls used to answer 404.
    assert seen(simulator, "PATCH", f"/mgmt/shared/authz/tokens/{token_name}/") == [200]
    token.delete()
    assert seen(simulator, "DELETE", f"/mgmt/shared/authz/tokens/{token_name}/") == [200]
    assert simulator.live_tokens() == 0


# --------------------------------------------------------------------------- sys


def test_sys_version_config_save_global_settings_and_device_info(
    simulator: Simulator, mgmt: ManagementRoot
) -> None:
    entries = mgmt.tm.sys.version.load().entries
    (nested,) = entries.values()
    assert nested["nestedStats"]["entries"]["Version"]["description"] == VERSION
    mgmt.tm.sys.config.exec_cmd("save")
    assert simulator.system.config_saves == 1
    settings = mgmt.tm.sys.global_settings.load()
    # The keys of the f5-ansible capture, less its long path lists.
    captured = capture("load_sys_global_settings.json")
    assert set(settings.raw) - {"_meta_data"} <= set(captured)
    assert settings.hostname == captured["hostname"]
    settings.modify(hostname="lb1.example.com")
    assert mgmt.tm.sys.global_settings.load().hostname == "lb1.example.com"
    url = f"https://127.0.0.1:{simulator.port}/mgmt/shared/identified-devices/config/device-info"
    info = mgmt.icrs.get(url).json()
    assert (info["version"], info["hostname"]) == (VERSION, "lb1.example.com")


def test_organizing_collections_list_their_collections(mgmt: ManagementRoot) -> None:
    base = f"https://127.0.0.1:{mgmt._meta_data['port']}/mgmt/tm"
    for module, member in (("ltm", "pool"), ("gtm", "wideip"), ("net", "route"), ("sys", "folder")):
        body = mgmt.icrs.get(f"{base}/{module}/").json()
        assert body["kind"] == f"tm:{module}:{module}collectionstate"
        links = [i["reference"]["link"] for i in body["items"]]
        assert f"https://localhost/mgmt/tm/{module}/{member}?ver={VERSION}" in links


def test_stats_urls_are_not_read_as_objects(simulator: Simulator, mgmt: ManagementRoot) -> None:
    base = f"https://127.0.0.1:{simulator.port}/mgmt/tm"
    # Used to be read as a pool named "stats" (404 "The requested Pool (/Common/stats)").
    collection = mgmt.icrs.get(f"{base}/ltm/pool/stats").json()
    assert collection["kind"] == "tm:ltm:pool:poolcollectionstats"
    status, _ = refused(lambda: mgmt.icrs.get(f"{base}/ltm/pool/~Common~p/stats"))
    assert status == 404  # no pool p
    # Stats of a kind the simulator keeps none for say so, instead of reading an object.
    status, body = refused(lambda: mgmt.icrs.get(f"{base}/ltm/rule/stats"))
    assert status == 501
    assert body["message"] == "statistics are not simulated: /mgmt/tm/ltm/rule/stats"


# --------------------------------------------------------------------------- folders


def test_folders_nest_by_sub_path(simulator: Simulator, mgmt: ManagementRoot) -> None:
    folder = mgmt.tm.sys.folders.folder.create(name="app", subPath=f"/{P}")
    assert (folder.fullPath, folder.subPath) == (f"/{P}/app", f"/{P}")
    top = mgmt.tm.sys.folders.folder.load(name=P)
    assert (top.fullPath, top.subPath) == (f"/{P}", "/")
    assert not hasattr(top, "partition")
    # A nested folder is no partition.
    partitions = [p.name for p in mgmt.tm.auth.partitions.get_collection()]
    assert sorted(partitions) == ["Common", P]
    mgmt.tm.ltm.pools.pool.create(name="p", partition=P, subPath="app")
    pool = mgmt.tm.ltm.pools.pool.load(name="p", partition=P, subPath="app")
    assert (pool.partition, pool.subPath, pool.fullPath) == (P, "app", f"/{P}/app/p")
    loaded = mgmt.tm.sys.folders.folder.load(name="app", partition=P)
    assert loaded.fullPath == f"/{P}/app"


# --------------------------------------------------------------------------- LTM


def test_nodes_keep_their_address_through_update(mgmt: ManagementRoot) -> None:
    node = mgmt.tm.ltm.nodes.node.create(name="n1", partition=P, address="10.0.0.1")
    # update() PUTs the loaded object without `address` (f5-sdk drops it): the device keeps it.
    node.update(description="web")
    loaded = mgmt.tm.ltm.nodes.node.load(name="n1", partition=P)
    assert (loaded.address, loaded.description) == ("10.0.0.1", "web")


def test_fqdn_node_reads_back_like_the_capture(mgmt: ManagementRoot) -> None:
    fqdn = {"tmName": "foo.bar.com", "autopopulate": "enabled"}
    mgmt.tm.ltm.nodes.node.create(name="foo.bar.com", partition=P, fqdn=fqdn)
    mgmt.tm.ltm.nodes.node.create(name="baz.bar.com", partition=P, fqdn={"tmName": "baz.bar.com"})
    node = mgmt.tm.ltm.nodes.node.load(name="foo.bar.com", partition=P).raw
    theirs = reference("f5-ansible/load_net_node_with_fqdn.json")
    for key in ("address", "state", "session", "monitor"):
        assert node[key] == theirs[key], key
    assert node["fqdn"] == theirs["fqdn"]
    # f5-sdk itself sends address "any6" with an fqdn, and refuses an IP with one.
    mgmt.tm.ltm.nodes.node.create(
        name="any.bar.com", partition=P, address="any6", fqdn={"tmName": "any.bar.com"}
    )
    url = f"https://127.0.0.1:{mgmt._meta_data['port']}/mgmt/tm/ltm/node"
    both = {"name": "both", "partition": P, "address": "10.0.0.9", "fqdn": {"tmName": "x.bar.com"}}
    status, body = refused(lambda: mgmt.icrs.post(url, json=both))
    assert status == 400 and "exclude each other" in body["message"]


def test_pools_members_and_the_brace_less_min_rule(mgmt: ManagementRoot) -> None:
    pool = mgmt.tm.ltm.pools.pool.create(
        name="p1", partition=P, monitor="min 1 of /Common/http /Common/tcp_half_open"
    )
    # The device shows the braced form (load_ltm_pool.json: "min 1 of { /Common/http ... }").
    assert pool.monitor == "min 1 of { /Common/http /Common/tcp_half_open }"
    mgmt.tm.ltm.nodes.node.create(name="n1", partition=P, address="10.0.0.1")
    pool.members_s.members.create(name="n1:80", partition=P)
    member = pool.members_s.members.load(name="n1:80", partition=P)
    assert (member.address, member.state, member.session) == ("10.0.0.1", "up", "monitor-enabled")
    member.update(ratio=3)
    member = pool.members_s.members.load(name="n1:80", partition=P)
    assert (member.address, member.ratio) == ("10.0.0.1", 3)
    pool.update(description="web")
    assert mgmt.tm.ltm.pools.pool.load(name="p1", partition=P).monitor.startswith("min 1 of {")
    # Each monitor of the rule is checked, as any other monitor reference.
    status, body = refused(
        lambda: mgmt.tm.ltm.pools.pool.create(
            name="p2", partition=P, monitor="min 1 of /Common/http /Common/nope"
        )
    )
    assert (status, body["message"]) == (
        400,
        "01020036:3: The requested monitor (/Common/nope) was not found.",
    )


def test_monitors_of_the_standard_types(mgmt: ManagementRoot) -> None:
    monitor = mgmt.tm.ltm.monitor.tcp_half_opens.tcp_half_open.create(
        name="foo", partition=P, destination="10.10.10.10:80", interval=20, timeout=30
    )
    theirs = capture("load_ltm_monitor_tcp_half_open.json")
    assert set(monitor.raw) - {"_meta_data"} == set(theirs)
    assert (monitor.kind, monitor.defaultsFrom) == (theirs["kind"], theirs["defaultsFrom"])
    https = mgmt.tm.ltm.monitor.https_s.https.create(name="m1", partition=P, send="GET /\\r\\n")
    https.update(interval=10)
    loaded = mgmt.tm.ltm.monitor.https_s.https.load(name="m1", partition=P)
    assert (loaded.interval, loaded.defaultsFrom) == (10, "/Common/https")


def test_virtual_with_profiles_rules_and_a_client_ssl_added_later(mgmt: ManagementRoot) -> None:
    mgmt.tm.ltm.pools.pool.create(name="p1", partition=P)
    mgmt.tm.ltm.rules.rule.create(name="r1", partition=P, apiAnonymous="when HTTP_REQUEST { }")
    virtual = mgmt.tm.ltm.virtuals.virtual.create(
        name="v1",
        partition=P,
        destination="10.2.0.1:443",
        ipProtocol="tcp",
        pool=f"/{P}/p1",
        profiles=["/Common/http", "/Common/f5-tcp-progressive", "/Common/oneconnect"],
        rules=[f"/{P}/r1"],
        sourceAddressTranslation={"type": "automap"},
    )
    # Added through the profiles subcollection: the device puts it on the client side.
    virtual.profiles_s.profiles.create(name="clientssl", partition="Common")
    contexts = {p.name: p.context for p in virtual.profiles_s.get_collection()}
    assert contexts == {
        "clientssl": "clientside",
        "f5-tcp-progressive": "all",
        "http": "all",
        "oneconnect": "all",
    }
    virtual.update(description="web")
    assert mgmt.tm.ltm.virtuals.virtual.load(name="v1", partition=P).pool == f"/{P}/p1"


def test_data_groups_and_irules(mgmt: ManagementRoot) -> None:
    group = mgmt.tm.ltm.data_group.internals.internal.create(
        name="hosts", partition=P, type="string", records=[{"name": "a.example.com", "data": "p"}]
    )
    group.update(records=[{"name": "b.example.com", "data": "q"}])
    loaded = mgmt.tm.ltm.data_group.internals.internal.load(name="hosts", partition=P)
    assert (loaded.type, loaded.records) == ("string", [{"name": "b.example.com", "data": "q"}])
    rule = "when HTTP_REQUEST {\n  if { [HTTP::header count] < 5 } { log local0. ok }\n}"
    mgmt.tm.ltm.rules.rule.create(name="r1", partition=P, apiAnonymous=rule)
    assert mgmt.tm.ltm.rules.rule.load(name="r1", partition=P).apiAnonymous == rule


def test_html_tag_like_content_is_refused_with_the_device_body(mgmt: ManagementRoot) -> None:
    (case,) = [
        c
        for c in reference("collected/error_bodies_quoted.json")["errors"]
        if c["case"] == "Angle brackets in URL or body"
    ]
    rule = 'when HTTP_REQUEST { HTTP::respond 200 content "<html>hi</html>" }'
    status, body = refused(
        lambda: mgmt.tm.ltm.rules.rule.create(name="r2", partition=P, apiAnonymous=rule)
    )
    assert (status, body) == (case["http"], case["body"])
    status, body = refused(
        lambda: mgmt.tm.ltm.pools.pool.create(name="p", partition=P, description="<script>")
    )
    assert (status, body) == (case["http"], case["body"])
    # In the URL too, and JSON-escaped in a body.
    url = f"https://127.0.0.1:{mgmt._meta_data['port']}/mgmt/tm/ltm/pool"
    status, body = refused(lambda: mgmt.icrs.get(f"{url}/~Common~%3Cscript%3E"))
    assert (status, body) == (case["http"], case["body"])
    escaped = b'{"name": "p", "description": "\\u003cb\\u003e"}'
    status, body = refused(lambda: mgmt.icrs.post(url, data=escaped))
    assert (status, body) == (case["http"], case["body"])
    assert not mgmt.tm.ltm.pools.pool.exists(name="p", partition="Common")


def test_routes_keep_their_network_through_update(mgmt: ManagementRoot) -> None:
    mgmt.tm.net.routes.route.create(name="rt", partition=P, network="10.9.0.0/16", gw="10.0.0.254")
    route = mgmt.tm.net.routes.route.load(name="rt", partition=P)
    route.update(mtu=1500)  # a PUT without `network`, which is immutable on the device
    loaded = mgmt.tm.net.routes.route.load(name="rt", partition=P)
    assert (loaded.network, loaded.gw, loaded.mtu) == ("10.9.0.0/16", "10.0.0.254", 1500)


# --------------------------------------------------------------------------- SNAT pools


def test_snat_pool_shape_reference_and_in_use(simulator: Simulator, mgmt: ManagementRoot) -> None:
    pool = mgmt.tm.ltm.snatpools.snatpool.create(name="sp", partition=P, members=["10.1.1.1"])
    theirs = capture("load_ltm_snatpool.json")
    assert set(pool.raw) - {"_meta_data"} == set(theirs)
    assert pool.kind == theirs["kind"] and pool.members == [f"/{P}/10.1.1.1"]
    mgmt.tm.ltm.virtuals.virtual.create(
        name="v1",
        partition=P,
        destination="10.2.0.1:80",
        ipProtocol="tcp",
        sourceAddressTranslation={"type": "snat", "pool": "sp"},
    )
    virtual = mgmt.tm.ltm.virtuals.virtual.load(name="v1", partition=P)
    assert virtual.sourceAddressTranslation["pool"] == f"/{P}/sp"
    assert "poolReference" in virtual.sourceAddressTranslation
    status, body = refused(pool.delete)
    assert (status, body["message"]) == (
        400,
        f"01070320:3: Snatpool /{P}/sp is still referenced by a virtual server.",
    )
    # Its member is a snat-translation the device made with the pool (membersReference).
    translations = mgmt.tm.ltm.snat_translations
    translation = translations.snat_translation.load(name="10.1.1.1", partition=P)
    assert (translation.address, translation.enabled) == ("10.1.1.1", True)
    assert pool.membersReference == [{"link": translation.selfLink}]
    status, _ = refused(translation.delete)
    assert status == 400
    mgmt.tm.ltm.virtuals.virtual.load(name="v1", partition=P).delete()
    pool.delete()
    # Translations outlive their pool, as nodes outlive pool members.
    assert [t.fullPath for t in translations.get_collection()] == [f"/{P}/10.1.1.1"]


def test_a_missing_snat_pool_or_monitor_fails_the_whole_transaction(
    simulator: Simulator, mgmt: ManagementRoot
) -> None:
    tx = mgmt.tm.transactions.transaction
    with pytest.raises(TransactionSubmitException) as caught, TransactionContextManager(tx) as api:
        api.tm.ltm.pools.pool.create(name="p1", partition=P)
        api.tm.ltm.virtuals.virtual.create(
            name="v1",
            partition=P,
            destination="10.2.0.1:80",
            ipProtocol="tcp",
            pool=f"/{P}/p1",
            sourceAddressTranslation={"type": "snat", "pool": f"/{P}/missing"},
        )
    response = caught.value.args[0].response  # the commit's iControlUnexpectedHTTPError
    body = response.json()
    assert (response.status_code, body["apiError"]) == (400, 2)
    assert body["message"] == (
        f"transaction failed:01071811:3: Virtual Server /{P}/v1 references non-existent "
        f"snatpool /{P}/missing."
    )
    assert simulator.get_object("ltm/pool", f"/{P}/p1") is None  # nothing of it applied
    with pytest.raises(TransactionSubmitException) as caught, TransactionContextManager(tx) as api:
        api.tm.ltm.pools.pool.create(name="p1", partition=P, monitor="/Common/missing")
    assert caught.value.args[0].response.json()["message"] == (
        "transaction failed:01020036:3: The requested monitor (/Common/missing) was not found."
    )
    # The same transaction with standard /Common objects commits.
    with TransactionContextManager(tx) as api:
        api.tm.ltm.pools.pool.create(name="p1", partition=P, monitor="/Common/tcp_half_open")
        api.tm.ltm.virtuals.virtual.create(
            name="v1",
            partition=P,
            destination="10.2.0.1:80",
            ipProtocol="tcp",
            pool=f"/{P}/p1",
            profiles=["/Common/f5-tcp-progressive", "/Common/oneconnect", "/Common/http"],
            rules=["/Common/_sys_https_redirect"],
        )
    assert simulator.get_object("ltm/virtual", f"/{P}/v1") is not None


# --------------------------------------------------------------------------- GTM


def test_gtm_server_pool_and_wide_ip(simulator: Simulator, mgmt: ManagementRoot) -> None:
    gtm = mgmt.tm.gtm
    gtm.datacenters.datacenter.create(name="dc1", partition="Common")
    server = gtm.servers.server.create(
        name="bigip1",
        partition="Common",
        datacenter="/Common/dc1",
        addresses=[{"name": "192.0.2.1", "deviceName": "bigip1"}],
    )
    server.virtual_servers_s.virtual_server.create(name="vs1", destination="192.0.2.10:80")
    pool = gtm.pools.a_s.a.create(name="gp", partition=P)
    pool.members_s.member.create(name="bigip1:vs1", partition="Common")
    wide = gtm.wideips.a_s.a.create(
        name="www.example.com", partition=P, pools=[{"name": "gp", "partition": P}]
    )
    assert [(p["name"], p["partition"]) for p in wide.pools] == [("gp", P)]
    wide.update(ttlPersistence=60)
    loaded = gtm.wideips.a_s.a.load(name="www.example.com", partition=P)
    assert (loaded.ttlPersistence, len(loaded.pools)) == (60, 1)
    members = gtm.pools.a_s.a.load(name="gp", partition=P).members_s.get_collection()
    assert [m.name for m in members] == ["bigip1:vs1"]


# --------------------------------------------------------------------------- built-ins


def test_builtins_come_from_the_factory_list_and_match_captures(
    simulator: Simulator, mgmt: ManagementRoot
) -> None:
    from controller.simulator.builtins import BUILTINS

    factory = set(capture("acc_bigipDefaults.json"))
    names = {f"/Common/{name}" for _, name, _ in BUILTINS}
    assert names <= factory, sorted(names - factory)
    assert len(BUILTINS) == 103
    oneconnect = mgmt.tm.ltm.profile.one_connects.one_connect.load(name="oneconnect")
    theirs = capture("load_ltm_profile_oneconnect_1.json")
    assert (oneconnect.kind, oneconnect.fullPath) == (theirs["kind"], theirs["fullPath"])
    # The factory profile's description ("none" in the capture) is not simulated.
    assert set(oneconnect.raw) - {"_meta_data"} == set(theirs) - {"description"}
    for key in ("maxAge", "maxReuse", "maxSize", "sourceMask", "defaultsFrom"):
        assert getattr(oneconnect, key) == theirs[key], key
    images = simulator.get_object("ltm/data-group/internal", "/Common/images")
    assert images is not None
    assert (
        images["records"]
        == reference("f5-ansible/load_ltm_data_group_internal_string.json")["records"]
    )
    status, _ = refused(
        lambda: mgmt.tm.ltm.monitor.tcp_half_opens.tcp_half_open.load(
            name="tcp_half_open", partition="Common"
        ).delete()
    )
    assert status == 400
