"""Shared pytest configuration. Each area keeps its fixtures in its own plugin module."""

pytest_plugins = [
    "tests.fixtures_bigip",
    "tests.fixtures_docker",
    "tests.fixtures_adapter",
    "tests.fixtures_prometheus",
]
