"""Carrying out the core's actions: idempotent, retried until they take effect, fenced.

The core decides; this module acts (writes, signals, launches) and decides nothing: what a
``Transition``, an ``EndAttempt`` or a started attempt does to ``state.json`` is a pure
function of ``core/ownership.py``, and whether the job is still ours is its ``owns``. Actions are queued on the held job and carried
out in order; one that fails (S3 unreachable, a trainer error) stays at the head of the
queue with everything after it, and the next tick tries again before anything new is
decided. Every action can be repeated safely: state writes re-read and re-apply, events
keep the key chosen when they were first queued, a start checks what already runs.

Fencing comes before every side effect: without the lease, nothing is started, written
or recorded; the only thing still done is stopping our own trainer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import structlog

from pitstop.core import actions as act
from pitstop.core import events as ev
from pitstop.core import lifecycle as lc
from pitstop.core import ownership
from pitstop.core.records import Attempt, JobStatus
from pitstop.core.states import Outcome, TrainerStatus
from pitstop.core.times import iso
from pitstop.errors import (
    CorruptObject,
    LeaseLost,
    NotFound,
    PitstopError,
    StoreError,
    TrainerError,
)
from pitstop.evaluation.jobs import (
    collect_results,
    evaluations_after,
    record_results,
    submit_evaluation,
)
from pitstop.evaluation.staging import stage
from pitstop.store.checkpoints import clear_stale_lock, resume_point, select_checkpoint
from pitstop.store.layout import model_prefix
from pitstop.supervisor.context import Context, Current, Pending
from pitstop.supervisor.power import Power
from pitstop.supervisor.shipper import Shipper
from pitstop.trainers.base import AttemptPlan

log = structlog.get_logger("pitstop.supervisor")


class Executor:
    def __init__(
        self,
        ctx: Context,
        shipper: Shipper,
        power: Power,
        drop: Callable[[Current, bool], None],
    ) -> None:
        self.ctx = ctx
        self.shipper = shipper
        self.power = power
        self.drop = drop  # forget the held job (keep_cache)
        self.stop_failed = False

    # -- the queue -----------------------------------------------------------------------
    def queue(self, cur: Current, actions: list[act.Action]) -> None:
        at = self.ctx.clock.wall()
        cur.pending += [Pending(a, uuid.uuid4().hex[:12], at) for a in actions]

    def drain(self, cur: Current) -> bool:
        """Carry out queued actions in order; False if one failed (it stays queued)."""
        while cur.pending:
            item = cur.pending[0]
            if cur.fenced and not isinstance(item.action, act.StopTrainer):
                cur.pending.pop(0)
                continue
            try:
                self._do(cur, item)
            except LeaseLost as e:
                self.fence(cur, str(e))
                return True
            except PitstopError as e:
                log.warning(
                    ev.ACTION_FAILED,
                    job_id=cur.job_id,
                    action=type(item.action).__name__,
                    error=str(e),
                    instance_id=self.ctx.instance_id,
                )
                self._stop_now(cur)
                return False
            if cur.pending and cur.pending[0] is item:
                cur.pending.pop(0)
        return True

    def _stop_now(self, cur: Current) -> None:
        """Stopping our trainer needs no S3 and is always allowed: never wait behind a write."""
        for item in list(cur.pending):
            if isinstance(item.action, act.StopTrainer):
                self.stop_failed = not self.ctx.trainer.stop(item.action.timeout_s)
                cur.pending.remove(item)

    def fence(self, cur: Current, why: str) -> None:
        """The lease is gone: stop our trainer, write nothing more, forget the job."""
        if cur.fenced:
            return
        cur.fenced = True
        self.ctx.log_event(ev.LEASE_LOST, cur.job_id, attempt=cur.run.attempt, reason=why)
        if self.ctx.trainer.status()[0] is TrainerStatus.RUNNING:
            self.ctx.trainer.stop(cur.policy.notice_stop_timeout_s)
        cur.pending.clear()
        self.drop(cur, False)

    # -- one action ----------------------------------------------------------------------
    def _do(self, cur: Current, item: Pending) -> None:
        a = item.action
        if isinstance(a, act.Transition):
            self.update(cur, lambda s: ownership.apply(s, a))
            fields = {"reason": a.reason} if a.reason is not None else {}
            doc = {"attempt": a.attempt, "state": a.to.value, **fields, **a.fields}
            self.emit(cur, a.event, doc, item)
        elif isinstance(a, act.Emit):
            if a.event == ev.LEASE_LOST:
                self.fence(cur, "lease lost to another instance")
            else:
                self.emit(cur, a.event, a.fields, item)
        elif isinstance(a, act.StartAttempt):
            self._start_attempt(cur, a)
        elif isinstance(a, act.StopTrainer):
            self.stop_failed = not self.ctx.trainer.stop(a.timeout_s)
        elif isinstance(a, act.EndAttempt):
            self._end_attempt(cur, a)
        elif isinstance(a, act.ClearStaleLock):
            prefix = model_prefix(cur.job_id, a.n)
            if clear_stale_lock(self.ctx.store, prefix):
                self.emit(cur, ev.LOCK_CLEARED, {"model_prefix": prefix}, item)
        elif isinstance(a, act.RecordResults):
            self._record_results(cur)
        elif isinstance(a, act.QueueEvaluations):
            self._queue_evaluations(cur)
        elif isinstance(a, act.ReleaseLease):
            self.ctx.leases.release(cur.lease)
            self.ctx.log_event(ev.LEASE_RELEASED, cur.job_id)
            cur.pending.pop(0)
            self.drop(cur, False)
        elif isinstance(a, act.Reboot):
            cur.pending.pop(0)
            self.drop(cur, True)
            self.power.reboot(a.reason)
        elif isinstance(a, act.Shutdown):
            self.power.shutdown(a.reason)

    def emit(
        self, cur: Current, event: str, fields: dict[str, object], item: Pending | None = None
    ) -> None:
        """Record an event in S3 (and log it, and notify); never after the lease is lost."""
        if cur.fenced:
            return
        doc = {
            "attempt": cur.run.attempt,
            "state": cur.run.state.value,
            **fields,
            "instance_id": self.ctx.instance_id,
        }
        self.ctx.log_event(event, cur.job_id, **doc)
        at, token = (item.at, item.token) if item is not None else (None, "")
        self.ctx.jobs.event(cur.job_id, event, at=at, token=token, **doc)
        if self.ctx.notifier is not None:
            self.ctx.notifier(event, {"job_id": cur.job_id, **doc})

    def update(self, cur: Current, change: Callable[[JobStatus], JobStatus]) -> None:
        """Write state.json only while the job is ours (``ownership.owns``: the fence)."""
        me, epoch = self.ctx.instance_id, cur.lease.epoch

        def guarded(s: JobStatus) -> JobStatus:
            if not ownership.owns(s, me, epoch):
                raise LeaseLost(f"job {cur.job_id} is owned by {s.instance_id} now")
            new = change(s)
            new.instance_id, new.lease_epoch = me, epoch
            return new

        self.ctx.jobs.update(cur.job_id, guarded)

    def ensure_lease(self, cur: Current) -> None:
        """Prove we hold the lease right now (one conditional write) before a side effect."""
        cur.lease = self.ctx.leases.renew(cur.lease)
        cur.renewed_at = self.ctx.clock.monotonic()

    # -- actions with more than one step ---------------------------------------------------
    def _record_results(self, cur: Current) -> None:
        """An evaluation's laps into results.json and the leaderboard (idempotent)."""
        ctx = self.ctx
        self.ensure_lease(cur)
        status, _ = ctx.jobs.status(cur.job_id)
        try:
            results = collect_results(ctx.jobs, cur.spec, status, ctx.clock.wall())
        except CorruptObject as e:
            self.emit(cur, ev.RESULTS_UNREADABLE, {"error": str(e)})
            return
        record_results(ctx.jobs, results)
        self.emit(cur, ev.RESULTS_RECORDED, results.summary.model_dump())

    def _queue_evaluations(self, cur: Current) -> None:
        """A training job's ``evaluate_on`` worlds, one evaluation job each (idempotent)."""
        ctx = self.ctx
        self.ensure_lease(cur)
        status, _ = ctx.jobs.status(cur.job_id)
        for spec in evaluations_after(cur.spec, status):
            if submit_evaluation(ctx.jobs, spec):
                self.emit(cur, ev.EVALUATION_QUEUED, {"evaluation": spec.id, "world": spec.world})

    def _pretrained(self, cur: Current, from_attempt: int | None) -> tuple[str | None, str | None]:
        """The resume point of the newest attempt at or before ``from_attempt`` that has one:
        the checkpoint the trainer really loads (DeepRacer's ``last``, else ``best``)."""
        n = from_attempt
        while n:
            prefix = model_prefix(cur.job_id, n)
            point = resume_point(self.ctx.store, prefix)
            if point is not None:
                return prefix, point.name
            n -= 1
        pre = cur.spec.pretrained  # nothing of its own yet: the model it starts from
        if pre is None:
            return None, None
        try:
            return pre.model_prefix, select_checkpoint(
                self.ctx.store, pre.model_prefix, pre.checkpoint
            )
        except NotFound as e:
            # checked at submission; gone since: no restart brings it back
            cur.refused = f"could not start: pretrained model {e}"
            return None, None

    def _start_attempt(self, cur: Current, action: act.StartAttempt) -> None:
        ctx = self.ctx
        self.ensure_lease(cur)
        pre_prefix, pre_ckpt = (None, None)
        if cur.spec.evaluation is None:
            pre_prefix, pre_ckpt = self._pretrained(cur, action.pretrained_from)
        prefix = model_prefix(cur.job_id, action.n)
        attempt = Attempt(
            n=action.n,
            instance_id=ctx.instance_id,
            model_prefix=prefix,
            pretrained_prefix=pre_prefix,
            pretrained_checkpoint=pre_ckpt,
            started_at=iso(ctx.clock.wall()),
            outcome="running",
            market=ctx.market,
            launched_at=iso(ctx.booted_wall) if ctx.booted_wall is not None else None,
        )

        # the job is ``starting`` already (its Transition comes first): killed from here on,
        # a restart finds this attempt open under an active state and adopts or closes it
        self.update(cur, lambda s: ownership.add_attempt(s, attempt))
        cur.pretrained, cur.evidence, cur.start_error = pre_ckpt, None, None
        if cur.refused is not None:
            return  # the next observation fails the job with the reason
        handle = ctx.cache.read().get("handle") or {}
        if handle.get("attempt") == action.n and ctx.trainer.status()[0] is TrainerStatus.RUNNING:
            return  # started by an earlier try of this action
        ctx.trainer.stop_strays(cur.job_id, ctx.instance_id)
        if cur.spec.evaluation is not None:
            try:  # the checkpoint to evaluate, copied into this attempt's prefix
                stage(ctx.store, cur.spec.evaluation, prefix)
            except NotFound as e:
                # no restart brings it back: the next observation fails the evaluation
                cur.refused = f"could not start: {e}"
                return
        plan = AttemptPlan(
            job_id=cur.job_id,
            attempt=action.n,
            spec=cur.spec,
            model_prefix=prefix,
            pretrained_prefix=pre_prefix,
            pretrained_checkpoint=pre_ckpt,
            bucket=ctx.settings.bucket,
            region=ctx.settings.region,
            endpoint_url=ctx.settings.s3_endpoint_url,
            custom_files_prefix=ctx.layout.custom_files(cur.job_id),
            work_dir=ctx.state_dir / "jobs" / cur.job_id,
            instance_id=ctx.instance_id,
        )
        try:
            handle = ctx.trainer.start(plan)
        except TrainerError as e:
            cur.start_error = str(e)  # the next observation reports it: a crash, with backoff
            return
        ctx.cache.save(job_id=cur.job_id, handle={**handle, "attempt": action.n})
        ctx.log_event(
            ev.RUN_LAUNCHED,
            cur.job_id,
            attempt=action.n,
            model_prefix=prefix,
            pretrained=f"{pre_prefix}/{pre_ckpt}" if pre_prefix else None,
        )

    def _end_attempt(self, cur: Current, action: act.EndAttempt) -> None:
        if action.outcome is not Outcome.STOP_FAILED:
            # an ended attempt leaves nothing behind: a crashed DRfC stack may still have
            # containers up, a crashed run script may have children; this also saves logs
            self.ctx.trainer.stop(self.ctx.settings.stop_timeout_s)
        prefix = model_prefix(cur.job_id, action.n)
        try:  # the checkpoint the next attempt will resume from (what DeepRacer loads)
            point = resume_point(self.ctx.store, prefix)
            last = point.name if point else None
        except StoreError:
            last = None
        ended = iso(self.ctx.clock.wall()) or ""
        self.update(
            cur,
            lambda s: ownership.end_attempt(
                s,
                action.n,
                outcome=action.outcome,
                ended_at=ended,
                training_s=action.training_s,
                last=last,
                failure=action.failure,
                ec2_notice=action.outcome is Outcome.PREEMPTED and lc.ec2_notice(action.reason),
            ),
        )
        self.shipper.upload_logs(cur, action.n)
