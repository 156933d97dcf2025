"""Claiming a job from the queue, and setting aside a job whose objects are unreadable.

The order comes from ``claims.ClaimOrder``; what a claim or a quarantine does to
``state.json``, and the events that report it, are the core's (``core/ownership.py``). This
module only reads, takes the lease, and writes what the core says.
A job that cannot be read (corrupt or missing ``state.json``/``spec.json``) never stops the
queue: it is marked ``failed`` with the object named, the bad object kept, and skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta

import structlog

from pitstop.core import events as ev
from pitstop.core import lifecycle as lc
from pitstop.core import ownership
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.core.times import iso, parse_iso
from pitstop.errors import CorruptObject, NotFound, StoreError
from pitstop.store.checkpoints import resume_point
from pitstop.store.layout import model_prefix
from pitstop.store.leases import Lease
from pitstop.supervisor.claims import CLAIM_WINDOW, spread
from pitstop.supervisor.context import Context, Current, policy_for

log = structlog.get_logger("pitstop.supervisor")

MAX_LOST = 4  # races lost in one claim round before it ends
MIN_WINDOW = 8  # the narrowest spread: instances waking together start on different jobs
CLEAN_ROUNDS = 8  # rounds without a lost race before the spread narrows again


class Claimer:
    """``order`` gives the job ids to try, best first; ``missing`` hears of each one whose
    ``state.json`` is a 404 (a confirmed miss: its index keys name no job); ``tidy`` runs
    after a round that claimed nothing (the index's clean-up never delays a claim)."""

    def __init__(
        self,
        ctx: Context,
        order: Callable[[], list[str]],
        *,
        spread_claims: bool = True,
        missing: Callable[[str], None] | None = None,
        tidy: Callable[[], object] | None = None,
        reserved: Callable[[str, JobStatus], bool] | None = None,
    ) -> None:
        self.ctx = ctx
        self.order = order
        # on-demand instances take the order as it is: deadline-critical jobs come first
        self.spread_claims = spread_claims
        self.missing = missing
        self.tidy = tidy
        # a spot instance skips deadline jobs kept for on-demand (``reserve.SpotReserve``)
        self.reserved = reserved
        self.window = MIN_WINDOW  # the order's head spread over (grows with lost races)
        self.lost = 0  # races lost in this round
        self.clean = 0  # rounds in a row without a lost race

    def try_claim(self) -> Current | None:
        """One claim round: the order's jobs in turn until one is ours. Each job another
        instance took first (a lost race) widens the window the next round spreads over
        (``claims.spread``), so a crowd of instances claiming together soon tries different
        jobs, while a lone instance keeps to the order's first ``MIN_WINDOW``; after ``MAX_LOST`` lost races
        the round ends (the next tick lists afresh) instead of reading every job the crowd
        took since the listing."""
        order = self.order()
        if self.spread_claims:
            order = spread(order, self.ctx.instance_id, self.window)
        self.lost = 0
        try:
            for job_id in order:
                if self.lost >= MAX_LOST:
                    return None
                try:
                    cur = self._try(job_id)
                except StoreError as e:
                    log.warning(ev.TICK_FAILED, job_id=job_id, error=str(e), what="claiming")
                    continue
                if cur is not None:
                    return cur
        finally:
            self._adapt()
        if self.tidy is not None:
            self.tidy()
        return None

    def _adapt(self) -> None:
        """Widen the window fourfold after a round with a lost race; narrow it by half after
        ``CLEAN_ROUNDS`` rounds in a row without one (the crowd has thinned)."""
        if self.lost:
            self.window, self.clean = min(CLAIM_WINDOW, self.window * 8), 0
            return
        self.clean += 1
        if self.clean >= CLEAN_ROUNDS:
            self.window, self.clean = max(MIN_WINDOW, self.window // 2), 0

    def _try(self, job_id: str) -> Current | None:
        ctx = self.ctx
        try:
            status, head = ctx.jobs.status_head(job_id, check_spec=False)
        except NotFound as e:
            # no state.json (a 404, not an error): a job still being created has no index
            # key yet (it is written after state.json), so a key that led here names no job
            if self.missing is not None and e.key == ctx.layout.state(job_id):
                self.missing(job_id)
            return None
        except CorruptObject as e:
            lease = ctx.leases.claim(job_id)
            if lease is not None:
                self.quarantine(job_id, lease, e)
            return None
        if not ownership.claimable(status):
            self.lost += 1  # taken and ended since the index was listed
            return None
        if self._freshly_held(status, head.age_s):
            self.lost += 1
            return None  # a lost race: one read, no lease read
        if self.reserved is not None and self.reserved(job_id, status):
            return None  # left for the on-demand instance the watchdog launches
        etag = head.etag
        # never leased (by its state): the lease is created outright, no read (a 412 reads it)
        fresh = status.lease_epoch == 0 and not status.attempts
        before = None if fresh else ctx.leases.info(job_id)
        lease = ctx.leases.claim(job_id, before, first=before is None)
        if lease is None:
            self.lost += 1
            return None
        try:
            spec = ctx.jobs.spec(job_id)
        except (CorruptObject, NotFound) as e:
            self.quarantine(job_id, lease, e)
            return None
        claim = self._facts(status, lease, before.age_s if before else None)
        try:
            # written on the state read above; a 412 (it changed since) reads it again
            new = ctx.jobs.update(
                job_id, lambda s: ownership.take(s, claim), (status, etag), listed=False
            )
        except CorruptObject as e:
            self.quarantine(job_id, lease, e)
            return None
        if new is None:
            ctx.leases.release(lease)
            self.lost += 1
            return None
        run = lc.run_for(
            new,
            evaluation=spec.evaluation is not None,
            stop_on_interruption=spec.on_interruption == "stop",
        )
        cur = Current(job_id, spec, lease, run, policy_for(ctx.settings, spec, ctx.refund_until))
        cur.renewed_at = ctx.clock.monotonic()
        cur.took_over = ownership.took_over(status, new)
        cur.claimed = ownership.claimed(status, new)
        ctx.cache.save(job_id=job_id)
        return cur

    def _freshly_held(self, status: JobStatus, age_s: float) -> bool:
        """Another instance wrote this state, holding the lease, moments ago: its lease
        cannot have expired, so it need not be read. The owner renews its lease every
        ``heartbeat_interval_s``, so its last renewal came at most that long before the
        state; the lease lives ``lease_ttl_s`` from it. A state younger than ``lease_ttl_s``
        less two heartbeats (a slow renewal) names a live lease. Wrong, it would only delay a
        take-over until the state is that old; a preempted job is free at once."""
        s = self.ctx.settings
        held = status.state.is_active() or status.state is JobState.PENDING
        return (
            held
            and status.instance_id not in (None, self.ctx.instance_id)
            and status.lease_epoch > 0
            and 0 <= age_s < s.lease_ttl_s - 2 * s.heartbeat_interval_s
        )

    def _facts(self, status: JobStatus, lease: Lease, silent_s: float | None) -> ownership.Claim:
        """What ``take`` needs to close a silent instance's open attempt fairly."""
        now = self.ctx.clock.wall()
        last = status.attempts[-1] if status.attempts else None
        claim = ownership.Claim(me=self.ctx.instance_id, epoch=lease.epoch, now_iso=iso(now) or "")
        if last is None or last.ended_at is not None:
            return claim
        # the old owner was last heard of when it last renewed its lease
        lost_at = now - timedelta(seconds=max(0.0, silent_s or 0.0))
        training = 0.0
        if last.started_at:
            started = parse_iso(last.started_at)
            training = max(0.0, (lost_at - started).total_seconds())
        checkpoint = None
        with contextlib.suppress(StoreError):
            point = resume_point(self.ctx.store, model_prefix(status.id, last.n))
            checkpoint = point.name if point else None
        return ownership.Claim(
            me=claim.me,
            epoch=claim.epoch,
            now_iso=claim.now_iso,
            lost_at_iso=iso(lost_at),
            lost_training_s=training,
            lost_checkpoint=checkpoint,
        )

    def quarantine(self, job_id: str, lease: Lease | None, error: StoreError) -> None:
        """A job we cannot read: stop its trainer, mark it failed naming the object, go on."""
        ctx = self.ctx
        ctx.trainer.stop_strays(job_id, ctx.instance_id)
        what = f"{error.key}: missing" if isinstance(error, NotFound) and error.key else error
        reason = ownership.quarantine_reason(str(what))
        ctx.log_event(ev.JOB_QUARANTINED, job_id, reason=reason)
        me, epoch, now = ctx.instance_id, lease.epoch if lease else 0, iso(ctx.clock.wall()) or ""
        # the transition is the same whichever state.json it applies to: a pending stand-in
        # when state.json itself is unreadable
        fresh = JobStatus(id=job_id)
        decided = ownership.quarantine(fresh, reason, me=me, epoch=epoch, now_iso=now)
        assert decided is not None
        moved = decided[1]

        def fail(s: JobStatus) -> JobStatus:
            done = ownership.quarantine(s, reason, me=me, epoch=epoch, now_iso=now)
            return s if done is None else done[0]

        try:
            ctx.jobs.update(job_id, fail)  # state.json readable: only the spec is bad
        except (CorruptObject, NotFound):
            ctx.jobs.replace_corrupt(job_id, decided[0])
        with contextlib.suppress(StoreError):
            ctx.jobs.event(job_id, moved.event, state=moved.to, reason=moved.reason, instance_id=me)
        if lease is not None:
            ctx.leases.release(lease)
        if ctx.cache.read().get("job_id") == job_id:
            ctx.cache.clear()
