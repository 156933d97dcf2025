"""A spot instance leaves alone, for a while, a deadline job the rule keeps for on-demand.

With the deadline prices set (``deadline_spot_price``, ``deadline_on_demand_price``), the
budget rule may say a job must not start another spot attempt (it could take the job above
on-demand's cost, or be forced off by the deadline before its first checkpoint); the
watchdog then launches an on-demand instance for it. A spot instance about to claim such
a job skips it, so the on-demand one gets it; but only for ``grace_s`` from the first time
this supervisor saw it kept (a launch and a boot): if no on-demand instance came (the cap
is full, no watchdog runs), it claims the job after all, since a job nobody trains misses
its deadline for sure. One more GET (the spec, which never changes: read once per job)
for a job with a deadline; none for the others (``state.json`` carries the deadline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from pitstop import deadlines
from pitstop.core import events as ev
from pitstop.core.records import JobSpec, JobStatus
from pitstop.errors import StoreError
from pitstop.store.jobs import policy_job
from pitstop.store.spend import Prices
from pitstop.supervisor.context import Context

log = structlog.get_logger("pitstop.supervisor")

SPEC_CACHE = 1000  # deadline jobs' specs kept between claim rounds
GRACE_EXTRA_S = 600.0  # beyond an on-demand boot: the watchdog's round and its launch


@dataclass
class SpotReserve:
    ctx: Context
    prices: Prices
    grace_s: float
    _since: dict[str, float] = field(default_factory=dict)  # job id -> first seen kept
    _specs: dict[str, JobSpec] = field(default_factory=dict)  # read once: specs never change

    def keeps(self, job_id: str, status: JobStatus) -> bool:
        """True: skip ``job_id`` now (it is kept for on-demand, within the grace)."""
        if status.deadline is None:
            return False
        ctx, settings = self.ctx, self.ctx.settings
        spec = self._specs.get(job_id)
        if spec is None:
            try:
                spec = ctx.jobs.spec(job_id)
            except StoreError:
                return False  # the claim reads it again and handles what is wrong with it
            if len(self._specs) >= SPEC_CACHE:
                self._specs.clear()
            self._specs[job_id] = spec
        job = policy_job(
            spec,
            status,
            ctx.clock.wall(),
            overhead_s=settings.deadline_restart_overhead_s,
            checkpoint_s=settings.deadline_checkpoint_s,
            prices=self.prices,
            spot_age=ctx.spot_age(),
        )
        if job is None:
            return False
        d = deadlines.decide(job)
        if d.choice is not deadlines.Choice.ON_DEMAND:
            self._since.pop(job_id, None)
            return False
        now = ctx.clock.monotonic()
        first = self._since.setdefault(job_id, now)
        if now - first >= self.grace_s:
            log.warning(
                ev.CLAIM_RESERVED_TAKEN, job_id=job_id, waited_s=round(now - first), reason=d.reason
            )
            self._since.pop(job_id, None)
            return False
        if first == now:
            ctx.log_event(ev.CLAIM_RESERVED_SKIPPED, job_id, reason=d.reason, grace_s=self.grace_s)
        return True


def spot_reserve(ctx: Context) -> SpotReserve | None:
    """The reserve of a spot instance with both deadline prices set; else None."""
    s = ctx.settings
    prices = Prices.of(s.deadline_spot_price, s.deadline_on_demand_price)
    if ctx.market != "spot" or prices is None:
        return None
    return SpotReserve(ctx, prices, grace_s=s.deadline_restart_overhead_s + GRACE_EXTRA_S)
