"""The supervisor daemon: a loop. One tick observes, asks the core, and carries out its actions.

It wires the parts, each behind a small port: ``claimer`` (the queue), ``observe``
(reads, no decisions), ``execute`` (writes, retried and fenced, no decisions), ``power``
(reboot/shutdown commands), ``shipper`` (logs and the instance heartbeat) and the spot
source. Every decision is the core's (``core/lifecycle.py``, ``core/ownership.py``,
``core/verdicts.py``); ``runtime.py`` is the composition root that builds the real ports. APScheduler runs three jobs: the tick (``poll_interval_s``), the
heartbeat (lease renewal, cancel and ownership check, logs; ``heartbeat_interval_s``) and
the spot watcher (``spot_poll_interval_s``). A notice or a lost lease wakes the tick.

Crash-only: ``tick()`` says whether it made progress. A tick that could not carry out its
actions (or failed outright) is a bad tick; the runtime exits non-zero after
``max_failed_ticks`` in a row and systemd starts a fresh supervisor, which resumes from S3.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from pitstop.config import Settings
from pitstop.core import actions as act
from pitstop.core import events as ev
from pitstop.core import lifecycle as lc
from pitstop.core import ownership, verdicts
from pitstop.errors import CorruptObject, ImdsError, LeaseLost, NotFound, PitstopError, StoreError
from pitstop.store.leases import Lease
from pitstop.store.objects import ObjectStore
from pitstop.store.spend import Prices
from pitstop.supervisor.claimer import Claimer
from pitstop.supervisor.claims import ClaimOrder, OnDemand
from pitstop.supervisor.context import (
    Clock,
    CommandRunner,
    Context,
    Current,
    SystemClock,
    policy_for,
    run_command,
)
from pitstop.supervisor.execute import Executor
from pitstop.supervisor.host import instance_uptime, kernel_messages
from pitstop.supervisor.observe import Observer
from pitstop.supervisor.power import Power
from pitstop.supervisor.reserve import spot_reserve
from pitstop.supervisor.shipper import Shipper
from pitstop.supervisor.spot import InterruptionSource, Notice
from pitstop.trainers.base import Trainer

log = structlog.get_logger("pitstop.supervisor")

MAX_STEPS_PER_TICK = 8

__all__ = ["Clock", "Supervisor", "SystemClock", "policy_for"]


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        trainer: Trainer,
        instance_id: str,
        *,
        spot: InterruptionSource,
        clock: Clock | None = None,
        commands: CommandRunner = run_command,
        notifier: Callable[[str, dict[str, Any]], None] | None = None,
        claimer: Callable[[], list[str]] | None = None,
        inbox: Callable[[], object] | None = None,
        host_messages: Callable[[float], str] = kernel_messages,
        uptime: Callable[[], float | None] = instance_uptime,
    ) -> None:
        self.settings = settings
        self.ctx = Context(
            settings,
            store,
            trainer,
            instance_id,
            clock or SystemClock(),
            commands,
            notifier,
            settings.state_dir,
            host_messages,
            uptime,
        )
        self.store, self.trainer, self.instance_id = store, trainer, instance_id
        self.jobs, self.leases, self.layout = self.ctx.jobs, self.ctx.leases, self.ctx.layout
        self.clock = self.ctx.clock
        self.spot = spot
        on_demand = (
            OnDemand(
                self.clock.wall,
                settings.deadline_restart_overhead_s,
                settings.deadline_checkpoint_s,
                Prices.of(settings.deadline_spot_price, settings.deadline_on_demand_price),
            )
            if settings.market == "on-demand"
            else None
        )
        self.claims = ClaimOrder(
            self.jobs, self.leases, instance_id, settings.lease_ttl_s, on_demand
        )
        order = claimer or (lambda: self.claims.candidates(self.clock.monotonic()))
        self.claimer = Claimer(
            self.ctx,
            order,
            spread_claims=on_demand is None,
            missing=self.claims.missing,
            tidy=self.claims.tidy,
            reserved=reserve.keeps if (reserve := spot_reserve(self.ctx)) else None,
        )
        self.shipper = Shipper(self.ctx)
        self.observer = Observer(self.ctx)
        self.power = Power(self.ctx, self.write_heartbeat)
        self.executor = Executor(self.ctx, self.shipper, self.power, self._drop)
        self.scan_inbox = inbox
        self.current: Current | None = None
        self.lock = threading.RLock()
        self.wake = threading.Event()
        self.stopping = self.power.stopping  # set once the instance powers off
        self.interruption: Notice | None = None
        self.idle_since: float | None = None

    @property
    def cache(self) -> Any:
        return self.ctx.cache

    # -- start: resume what we hold ----------------------------------------------------
    def resume(self) -> None:
        """At start: resume the job this instance holds (S3 first, local cache as a hint)."""
        cache = self.ctx.cache.read()
        cached = str(cache["job_id"]) if cache.get("job_id") else None
        candidates = [cached] if cached else []
        for job_id in self.jobs.live_job_ids():  # ended jobs cannot be ours to resume
            if job_id in candidates:
                continue
            try:
                status, _ = self.jobs.status(job_id)
            except StoreError:
                continue  # unreadable and not ours by the cache: the claimer handles it
            if status.instance_id == self.instance_id and status.state.is_active():
                candidates.append(job_id)
        for job_id in candidates:
            lease = self.leases.held(job_id)
            handle = cache.get("handle") if cached == job_id else None
            keep = ownership.keeps_trainer(lease_held=lease is not None)
            if lease is None or not keep:
                # fencing: a trainer of a job we no longer own must not run on
                if handle and self.trainer.adopt(handle):
                    self.ctx.log_event(ev.LEASE_LOST, job_id, action="stopping leftover trainer")
                    self.trainer.stop(self.settings.stop_timeout_s)
                self.trainer.stop_strays(job_id, self.instance_id)
                if cached == job_id:
                    self.ctx.cache.clear()
                continue
            self._resume_held(job_id, lease, handle)
            return

    def _resume_held(self, job_id: str, lease: Lease, handle: dict[str, Any] | None) -> None:
        try:
            spec = self.jobs.spec(job_id)
            status, _ = self.jobs.status(job_id)
        except (CorruptObject, NotFound) as e:
            if handle:
                self.trainer.adopt(handle)
            self.trainer.stop(self.settings.stop_timeout_s)
            self.claimer.quarantine(job_id, lease, e)
            return
        last = status.attempts[-1] if status.attempts else None
        open_attempt = last is not None and last.ended_at is None
        alive = (
            handle is not None
            and last is not None
            and handle.get("attempt") == last.n
            and self.trainer.adopt(handle)
        )
        self.trainer.stop_strays(
            job_id, self.instance_id
        )  # anything not adopted: exactly one trainer per job
        finished = (
            open_attempt
            and not alive
            and last is not None
            and self.observer.finished(job_id, last.n)
        )
        elapsed = self.observer.elapsed_s(last.started_at if last else None)
        policy = policy_for(self.settings, spec, self.ctx.refund_until)
        run, actions = lc.resume(
            status.state,
            attempts=len(status.attempts),
            attempt_open=open_attempt,
            trained_s=sum(a.training_s for a in status.attempts if a.ended_at),
            restarts=status.restarts,
            reboots=status.reboots,
            trainer_alive=alive,
            attempt_elapsed_s=elapsed,
            now=self.clock.monotonic(),
            finished=finished,
            reason=status.reason,
            policy=policy,
            evaluation=spec.evaluation is not None,
            infra_restarts=status.infra_restarts,
            stop_on_interruption=spec.on_interruption == "stop",
        )
        cur = Current(job_id, spec, lease, run, policy)
        cur.renewed_at = self.clock.monotonic()
        if status.attempts and status.attempts[-1].n == run.attempt:
            cur.pretrained = status.attempts[-1].pretrained_checkpoint
        self.current = cur
        self.ctx.log_event("supervisor.resumed", job_id, state=status.state.value, adopted=alive)
        self.executor.queue(cur, actions)
        self.executor.drain(cur)

    # -- the tick ----------------------------------------------------------------------
    def tick(self) -> bool:
        """One round of work; False when it could not make progress (crash-only count)."""
        with self.lock:
            try:
                return self._tick()
            except PitstopError as e:
                log.warning(ev.TICK_FAILED, instance_id=self.instance_id, error=str(e))
            except Exception:  # a bug must not end supervision at once: log it whole
                log.exception(ev.TICK_FAILED, instance_id=self.instance_id)
            return False

    def _tick(self) -> bool:
        if self.power.powering_off:
            return True
        if self.current is None:
            return self._idle_tick()
        cur = self.current
        for _ in range(MAX_STEPS_PER_TICK):
            # actions an earlier tick could not carry out go first, in order; when they still
            # fail, the run is stepped anyway (a notice or a crash is still acted on locally)
            self.executor.drain(cur)
            if self.current is not cur:
                return True
            obs = self.observer.observe(
                cur, stop_failed=self.executor.stop_failed, notice=self._notice()
            )
            run, actions = lc.step(cur.run, obs, self.clock.monotonic(), cur.policy)
            cur.run = run
            self.executor.queue(cur, actions)
            if not any(isinstance(a, act.StopTrainer) for a in actions):
                break
        return self.executor.drain(cur)

    def _idle_tick(self) -> bool:
        now = self.clock.monotonic()
        if self.interruption is None:
            if self.scan_inbox is not None:
                self.scan_inbox()
            cur = self.claimer.try_claim()
            if cur is not None:
                self.current, self.idle_since = cur, None
                self.executor.queue(cur, cur.claimed)
                return self._tick()
        if self.idle_since is None:
            self.idle_since = now
        decision = ownership.idle(
            now - self.idle_since,
            idle_shutdown_s=self.settings.idle_shutdown_s,
            notice=self.interruption is not None,
            shutdown_on_notice=self.settings.shutdown_on_notice,
            leave_to_ec2=self.interruption is not None
            and self.interruption.kind == "interruption"
            and lc.leave_to_ec2(self.clock.monotonic(), self.ctx.refund_until),
        )
        if decision is not None:
            if self.interruption is None:
                self.ctx.log_event(ev.INSTANCE_IDLE, idle_s=round(now - self.idle_since, 1))
            if not self.power.shutdown(decision.reason):
                self.idle_since = None  # an idle shutdown tries again after another idle period
        return True

    def _notice(self) -> str | None:
        return self.interruption.action if self.interruption else None

    def _drop(self, cur: Current, keep_cache: bool = False) -> None:
        if self.current is cur:
            self.current = None
        self.executor.stop_failed = False
        if not keep_cache:
            self.ctx.cache.clear()

    # -- the other scheduled jobs -------------------------------------------------------
    def heartbeat(self) -> None:
        """Renew the lease, read cancel and ownership, ship logs, write ``instances/ID.json``."""
        with self.lock:
            cur = self.current
            if cur is not None and not cur.run.done and not cur.fenced:
                self._renew(cur)
                if not cur.fenced and cur.run.attempt_started_at is not None:
                    self.shipper.upload_logs(cur, cur.run.attempt, only_grown=True)
            try:
                self.write_heartbeat()
            except StoreError as e:
                log.warning(ev.TICK_FAILED, error=str(e), what="instance heartbeat")

    def _renew(self, cur: Current) -> None:
        try:
            self.executor.ensure_lease(cur)
            status, _ = self.jobs.status(cur.job_id)
        except LeaseLost as e:
            self.executor.fence(cur, str(e))
            self.wake.set()
            return
        except StoreError as e:  # unknown: try again at the next heartbeat
            log.warning(ev.TICK_FAILED, job_id=cur.job_id, error=str(e), what="renewing lease")
            return
        cur.cancel_requested = status.cancel_requested
        if not ownership.owns(status, self.instance_id, cur.lease.epoch):
            self.executor.fence(cur, f"state.json names {status.instance_id}")
            self.wake.set()
        elif cur.cancel_requested:
            self.wake.set()

    def write_heartbeat(self) -> None:
        interruption = self.interruption.key if self.interruption else None
        self.shipper.write_heartbeat(self.current, interruption)

    def poll_spot(self) -> None:
        try:
            notices = self.spot.poll()
        except ImdsError as e:
            log.info(ev.IMDS_ERROR, instance_id=self.instance_id, error=str(e))
            return
        for notice in notices:
            job_id = self.current.job_id if self.current else None
            if verdicts.is_interruption(notice.kind, self.settings.rebalance_is_notice):
                self.ctx.log_event(
                    ev.SPOT_NOTICE, job_id, action=notice.action, time=notice.time, kind=notice.kind
                )
                if self.interruption is None:
                    self.interruption = notice
                    if notice.kind == "interruption" and lc.leave_to_ec2(
                        self.clock.monotonic(), self.ctx.refund_until
                    ):
                        self.ctx.log_event(
                            ev.INSTANCE_LEFT_TO_EC2,
                            job_id,
                            reason="a spot notice in the instance's first hour: EC2 takes it, "
                            "and AWS bills nothing for that hour",
                        )
                    self.wake.set()
            else:
                self.ctx.log_event(ev.SPOT_REBALANCE, job_id, time=notice.time)
                with self.lock:
                    if self.current is not None:  # recorded by the next tick (retried)
                        event = act.Emit(ev.SPOT_REBALANCE, {"time": notice.time})
                        self.executor.queue(self.current, [event])

    # -- graceful stop (SIGTERM) ----------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the trainer cleanly, record the attempt, hand the job back (lifecycle.interrupt)."""
        with self.lock:
            cur = self.current
            if cur is None or cur.run.done or cur.fenced:
                return
            run, actions = lc.interrupt(cur.run, self.clock.monotonic(), cur.policy)
            cur.run = run
            self.executor.queue(cur, actions)
            if not self.executor.drain(cur):
                # S3 is unreachable: the trainer is stopped; a restart resumes from S3
                self.trainer.stop(self.settings.stop_timeout_s)
