"""Fixtures around the BIG-IP simulator.

`simulator` is a fresh HTTPS simulator per test (stopped afterwards). `simulator_trusted`
additionally points requests' CA bundle variables at the simulator's CA, so the real bigrest
client verifies the certificate (it never runs with verification off). `bigrest_device` is a
bigrest BIGIP logged in with basic auth, `bigrest_token_device` one using a token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.simulator.server import Simulator


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    sim = Simulator().start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def simulator_trusted(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    # requests lets these variables override session.verify, so the CA goes there.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", simulator.ca_file)
    monkeypatch.setenv("CURL_CA_BUNDLE", simulator.ca_file)
    return simulator


@pytest.fixture
def simulator_client_kwargs(simulator_trusted: Simulator) -> dict[str, Any]:
    """Keyword arguments for bigrest.bigip.BIGIP against the simulator."""
    return {
        "device": simulator_trusted.device,
        "username": simulator_trusted.username,
        "password": "admin",
        "session_verify": True,
    }


@pytest.fixture
def bigrest_device(simulator_client_kwargs: dict[str, Any]) -> Any:
    from bigrest.bigip import BIGIP

    return BIGIP(**simulator_client_kwargs)


@pytest.fixture
def bigrest_token_device(simulator_client_kwargs: dict[str, Any]) -> Any:
    from bigrest.bigip import BIGIP

    return BIGIP(**simulator_client_kwargs, request_token=True)


def seed_gtm(
    sim: Simulator,
    server: str = "bigip1",
    virtual_servers: dict[str, str] | None = None,
    datacenter: str = "dc1",
    address: str = "192.0.2.1",
) -> None:
    """Pre-create what GTM pool members need: a data center, a server, its virtual servers
    (name -> destination), the way an operator sets GTM up before the controller runs."""
    if virtual_servers is None:
        virtual_servers = {"/docker/www_vs": "192.0.2.10:80"}
    if sim.get_object("gtm/datacenter", f"/Common/{datacenter}") is None:
        sim.put_object("gtm/datacenter", {"name": datacenter, "partition": "Common"})
    if sim.get_object("gtm/server", f"/Common/{server}") is None:
        sim.put_object(
            "gtm/server",
            {
                "name": server,
                "partition": "Common",
                "datacenter": f"/Common/{datacenter}",
                "addresses": [{"name": address, "deviceName": server}],
            },
        )
    for name, destination in virtual_servers.items():
        sim.put_object(
            f"gtm/server/~Common~{server}/virtual-servers",
            {"name": name, "destination": destination},
        )


@pytest.fixture
def simulator_gtm(simulator: Simulator) -> Simulator:
    """A simulator with data center dc1 and GTM server bigip1 (no virtual servers: the
    controller creates the ones its GTM pool members need)."""
    seed_gtm(simulator, virtual_servers={})
    return simulator


# --------------------------------------------------------------------------- helpers

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "bigip"


def bigrest_error(error: Exception) -> tuple[int, Any]:
    """bigrest's RESTAPIError carries only a message string: parse status and body out of it."""
    match = re.search(r"Status:\n(\d+)\nResponse Body:\n(.*)", str(error), re.S)
    assert match, f"not a bigrest status error: {error!r}"
    text = match.group(2).strip()
    try:
        return int(match.group(1)), json.loads(text)
    except ValueError:
        return int(match.group(1)), text


def reference(relative: str) -> Any:
    return json.loads((REFERENCE / relative).read_text())


def shape(value: Any) -> Any:
    """The type structure of a JSON value: dict keys with their shapes, list element shapes."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = []
        for item in value:
            s = shape(item)
            if s not in shapes:
                shapes.append(s)
        return shapes[:1] if shapes and all(isinstance(s, dict) for s in shapes) else shapes
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__
