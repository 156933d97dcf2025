"""Which jobs an idle supervisor tries to claim, in which order.

Preempted jobs first, then the oldest pending ones: one listing of ``index/claimable/``.
On an on-demand instance, jobs whose deadline policy says ``on-demand`` come before all
of them (``deadline_first``): that instance was launched, or is paid, for exactly those.
Every ``full_scan_every_s`` (the lease TTL) a full scan also finds jobs whose instance went
silent (claimed or active, lease expired by the S3 server's clock) and drops index entries
of jobs that ended. The claim itself (lease, state) is the supervisor's: this only orders.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pitstop import deadlines
from pitstop.errors import StoreError
from pitstop.store.jobs import JobStore, policy_job
from pitstop.store.leases import Leases
from pitstop.store.states import JobState

CLAIM_WINDOW = 8


def spread(candidates: list[str], instance_id: str, window: int = CLAIM_WINDOW) -> list[str]:
    """Rotate the first ``window`` candidates by a hash of the instance id.

    Instances that wake together then try different jobs first instead of all racing for
    the oldest one; order beyond the window (and which jobs are in it) is unchanged.
    """
    head, tail = candidates[:window], candidates[window:]
    if len(head) < 2:
        return candidates
    k = zlib.crc32(instance_id.encode()) % len(head)
    return head[k:] + head[:k] + tail


def deadline_first(candidates: list[str], critical: set[str]) -> list[str]:
    """Deadline-critical jobs first, each group in its own order."""
    return [j for j in candidates if j in critical] + [j for j in candidates if j not in critical]


@dataclass(frozen=True)
class OnDemand:
    """This instance is on-demand: what it needs to rank deadline-critical jobs first."""

    wall: Callable[[], datetime]
    overhead_s: float
    checkpoint_s: float


class ClaimOrder:
    def __init__(
        self,
        jobs: JobStore,
        leases: Leases,
        instance_id: str,
        full_scan_every_s: float,
        on_demand: OnDemand | None = None,
    ) -> None:
        self.jobs = jobs
        self.leases = leases
        self.instance_id = instance_id
        self.full_scan_every_s = full_scan_every_s
        self.on_demand = on_demand
        self._last_full_scan: float | None = None

    def candidates(self, now: float) -> list[str]:
        """Job ids worth trying, best first (deadline-critical first on on-demand)."""
        ranked = self._ranked(now)
        if self.on_demand is None:
            return ranked
        return deadline_first(ranked, self._critical(ranked, self.on_demand))

    def _critical(self, candidates: list[str], od: OnDemand) -> set[str]:
        """Candidates whose deadline policy says on-demand with nothing holding them."""
        out: set[str] = set()
        wall = od.wall()
        for job_id in candidates:
            try:
                spec = self.jobs.spec(job_id)
                if spec.deadline_at() is None:
                    continue
                status, _ = self.jobs.status(job_id)
            except StoreError:
                continue
            job = policy_job(
                spec, status, wall, overhead_s=od.overhead_s, checkpoint_s=od.checkpoint_s
            )
            if job is not None and deadlines.decide(job).choice is deadlines.Choice.ON_DEMAND:
                out.add(job_id)
        return out

    def _ranked(self, now: float) -> list[str]:
        ranked = self.jobs.claimable_index()
        if self._last_full_scan is None or now - self._last_full_scan >= self.full_scan_every_s:
            self._last_full_scan = now
            live = self.jobs.live_job_ids()
            self._repair_index(ranked, set(live))
            ranked = [j for j in ranked if j in live]
            ranked += [j for j in self._full_scan(live) if j not in ranked]
        return ranked

    def _repair_index(self, indexed: list[str], live: set[str]) -> None:
        """Drop index entries of jobs that ended (their writer died between two writes)."""
        for job_id in indexed:
            if job_id not in live:
                with contextlib.suppress(StoreError):
                    self.jobs.unindex(self.jobs.status(job_id)[0])

    def _full_scan(self, live: list[str]) -> list[str]:
        ranked: list[tuple[int, str, str]] = []
        for job_id in live:
            try:
                status, _ = self.jobs.status(job_id)
            except StoreError:
                continue
            created = status.created_at or ""
            if status.state is JobState.PREEMPTED:
                ranked.append((0, created, job_id))
            elif status.instance_id not in (None, self.instance_id) and (
                status.state.is_active() or status.state is JobState.PENDING
            ):
                info = self.leases.info(job_id)
                if info is None or self.leases.is_expired(info):
                    ranked.append((1, created, job_id))
            elif status.state is JobState.PENDING:
                ranked.append((2, created, job_id))
        return [job_id for _, _, job_id in sorted(ranked)]
