"""The desired state of the last run, handed back when its inputs are the same again.

A no-change resync lists the same workloads and reads the same device state as the run before
it; building the desired objects again (and the claims the device records) costs seconds at
thousands of workloads for a result equal to the last one. Both steps are pure functions of
what is compared here, so an equal input gives back the last output:

    incumbent_claims(device objects, cluster id)            -> claims   (the same objects,
                                                                          in the same order)
    build_desired(workloads, settings, irules, claims)      -> Desired  (the same workloads,
                                                                          equal claims)

and a run that applied its desired state whole without deciding anything between workloads
leaves a device state that builds it again (BuildCache.settled).

Settings and iRules are fixed for the life of a pipeline. Comparing costs one pass over the
workloads and the objects; objects the read shares with the cache (core.view.shared_with)
compare by identity. The desired objects equal to the device's are the device's (one copy
in memory). The plan is handed back the same way (PlanCache):

    plan(objects, device objects, policy)                   -> Changes  (the same objects,
                                                                          in the same order)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from controller.core.claims import incumbent_claims
from controller.core.desired import Desired, WorkloadBuilds, build_desired
from controller.core.model import BigipObject, ObjectKey, is_owned, owner_of
from controller.core.plan import Changes, Policy, plan
from controller.core.view import held_copy
from controller.settings import Settings
from controller.workloads import Workload


class BuildCache:
    def __init__(self, settings: Settings, irules: Mapping[str, str]) -> None:
        self.settings = settings
        self.irules = irules
        self._workloads: tuple[Workload, ...] | None = None
        self._claims: dict[str, str] = {}  # what the cached desired state was built with
        self._desired: Desired | None = None
        # Device states the cached desired state is known to be the build of: the last one
        # read, and the one a clean run made (settled).
        self._objects: list[tuple[ObjectKey, BigipObject]] | None = None
        self._settled: dict[ObjectKey, BigipObject] | None = None
        # The claims of the last device state they were read from.
        self._builds = WorkloadBuilds(settings)  # each workload's own part, while unchanged
        self._claims_read: tuple[list[tuple[ObjectKey, BigipObject]] | None, dict[str, str]] = (
            None,
            {},
        )

    def settled(self, current: Mapping[ObjectKey, BigipObject]) -> None:
        """The last desired state was applied whole, and it decided nothing between workloads
        (no problem, notice, rejection, held change, drain or kept workload: see
        desired_facts.decided_alone). The device state it made, `current`, then builds it
        again: each claim the device records there is held by the one workload that asks for
        it, which is what the last build gave it without any incumbent. So a resync that
        reads exactly this state reuses it instead of building the claims and the desired
        state again (seconds at thousands of workloads, and the peak of memory)."""
        self._settled = dict(current)

    def _made_by_last(self, current: Mapping[ObjectKey, BigipObject]) -> bool:
        """`current` holds the settled state's objects, and besides them only objects not
        of this cluster (the nodes the device made for members, foreign objects): those
        record no claim (core/claims.py), so the claims are the settled state's."""
        settled = self._settled
        if settled is None or len(current) < len(settled):
            return False
        for key, obj in settled.items():
            found = current.get(key)
            if found is not obj and found != obj:
                return False
        cluster = self.settings.cluster_id
        return all(
            key in settled or not is_owned(owner_of(obj), cluster) for key, obj in current.items()
        )

    def build(self, workloads: list[Workload], current: Mapping[ObjectKey, BigipObject]) -> Desired:
        listed, objects = tuple(workloads), list(current.items())
        last = self._desired if listed == self._workloads else None
        if last is not None and (objects == self._objects or self._made_by_last(current)):
            self._objects, self._settled = objects, None
            return last
        claims = self._claims_of(current, objects)
        if last is None or claims != self._claims:
            self._builds.share = lambda obj: held_copy(current, obj)
            try:
                built = build_desired(workloads, self.settings, self.irules, claims, self._builds)
            finally:
                self._builds.share = lambda obj: obj  # holds no device state between runs
            last = replace(built, objects=as_held(current, built.objects))
            self._desired, self._workloads, self._claims = last, listed, claims
        self._objects, self._settled = objects, None
        return last

    def _claims_of(
        self, current: Mapping[ObjectKey, BigipObject], objects: list[tuple[ObjectKey, BigipObject]]
    ) -> dict[str, str]:
        if objects != self._claims_read[0]:
            self._claims_read = (
                objects,
                incumbent_claims(current.values(), self.settings.cluster_id),
            )
        return self._claims_read[1]


def as_held(
    current: Mapping[ObjectKey, BigipObject], objects: tuple[BigipObject, ...]
) -> tuple[BigipObject, ...]:
    """`objects`, each one equal to the device's replaced by the device's: in sync, the desired
    state and the device state are one set of objects in memory, not two."""
    return tuple(held_copy(current, o) for o in objects)


class PlanCache:
    def __init__(self) -> None:
        self._inputs: tuple[list[BigipObject], list[BigipObject], Policy] | None = None
        self._changes = Changes()

    def plan(
        self, objects: list[BigipObject], current: Mapping[ObjectKey, BigipObject], policy: Policy
    ) -> Changes:
        inputs = (list(objects), list(current.values()), policy)
        if inputs != self._inputs:
            self._changes = plan(inputs[0], current, policy)
            self._inputs = inputs
        return self._changes
