"""Fixtures around the BIG-IP adapter.

`bigip_settings` points at the per-test `simulator` and trusts its CA through the settings
(ca_file), never through REQUESTS_CA_BUNDLE: the adapter must make the settings win.
`bigip_client` is a BigipClient on those settings, closed (token deleted) afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.bigip.adapter import BigipClient
from controller.settings import BigipSettings
from controller.simulator.server import Simulator

# The simulator fixture runs with the simulator's default credentials.
SIMULATOR_PASSWORD = "admin"


@pytest.fixture
def bigip_settings(simulator: Simulator) -> BigipSettings:
    return BigipSettings(
        url=simulator.url,
        username=simulator.username,
        password=SIMULATOR_PASSWORD,
        ca_file=simulator.ca_file,
        timeout=10.0,
    )


@pytest.fixture
def bigip_client(bigip_settings: BigipSettings) -> Iterator[BigipClient]:
    client = BigipClient(bigip_settings)
    try:
        yield client
    finally:
        client.close()
