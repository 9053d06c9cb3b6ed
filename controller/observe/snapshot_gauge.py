"""A gauge whose series are made at scrape time from the last snapshot it was given.

prometheus_client's labelled Gauge keeps one child object (a value and a lock) per series
and a labels() lookup per set. For a family with a series per workload and state, rewritten
on every resync, that was a large share of a resync at thousands of workloads, and memory
that grew with them. Here a set replaces one dict; a scrape reads whichever dict is current
(the swap is atomic), so it never sees half of an update.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class SnapshotGauge(Collector):
    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labels = list(labels)
        self._values: Mapping[tuple[str, ...], float] = {}
        registry.register(self)

    def set_all(self, values: Mapping[tuple[str, ...], float]) -> None:
        """The series from now on: one per key (label values in the order of `labels`)."""
        self._values = dict(values)

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self._name, self._documentation, labels=self._labels)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()  # the name, for the registry's duplicate check; no samples

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        for labels, value in self._values.items():
            family.add_metric(list(labels), value)
        yield family
