"""The supervisor daemon: one tick observes, asks ``lifecycle.step``, and carries out actions.

It owns the side effects: S3 (through the store), the trainer, the clock, the spot source
and the reboot/shutdown commands, all passed in. APScheduler runs three jobs: the tick
(``poll_interval_s``), the heartbeat (instance heartbeat + lease renewal,
``heartbeat_interval_s``) and the spot watcher (``spot_poll_interval_s``). A notice or a
lost lease wakes the tick at once. Errors are caught here only: a tick that fails is
logged and the next one carries on.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import structlog

from pitstop import __version__
from pitstop.config import Settings
from pitstop.errors import LeaseLost, PitstopError, StoreError, TrainerError
from pitstop.store import metrics
from pitstop.store.checkpoints import (
    Progress,
    clear_stale_lock,
    is_initial_checkpoint,
    read_progress,
    resume_point,
)
from pitstop.store.jobs import Attempt, JobSpec, JobStatus, JobStore, iso, utcnow
from pitstop.store.layout import Layout, model_prefix
from pitstop.store.leases import Lease, Leases
from pitstop.store.objects import ObjectStore
from pitstop.store.states import JobState
from pitstop.supervisor import events as ev
from pitstop.supervisor import lifecycle as lc
from pitstop.supervisor.cache import LocalCache
from pitstop.supervisor.claims import ClaimOrder, spread
from pitstop.supervisor.spot import ImdsError, InterruptionSource, Notice
from pitstop.trainers.base import AttemptPlan, Trainer

log = structlog.get_logger("pitstop.supervisor")

MAX_STEPS_PER_TICK = 8
MAX_LOG_UPLOAD = 5 * 1024 * 1024


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def wall(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(timezone.utc)


CommandRunner = Callable[[list[str]], None]


def run_command(argv: list[str]) -> None:
    subprocess.run(argv, check=False, timeout=60)


@dataclass
class Current:
    """The job this instance holds."""

    job_id: str
    spec: JobSpec
    lease: Lease
    run: lc.Run
    policy: lc.Policy
    notified: bool = False
    progress: Progress | None = None  # the last heartbeat read (its .coach_checkpoint ETag)
    evidence: tuple[int, metrics.Evidence] | None = None  # (attempt, read when .finished seen)


def policy_for(settings: Settings, spec: JobSpec) -> lc.Policy:
    return lc.Policy(
        stall_timeout_s=settings.stall_timeout_s,
        startup_grace_s=settings.startup_grace_s,
        max_restarts=settings.max_restarts,
        backoff_base_s=settings.backoff_base_s,
        backoff_max_s=settings.backoff_max_s,
        stop_timeout_s=settings.stop_timeout_s,
        reboot_after_failed_attempts=settings.reboot_after_failed_attempts,
        max_reboots=settings.max_reboots,
        max_training_s=None if spec.max_hours is None else spec.max_hours * 3600,
        shutdown_on_notice=settings.shutdown_on_notice,
    )


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
        inbox: Callable[[], list[str]] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.layout = Layout(settings.prefix)
        self.jobs = JobStore(store, self.layout)
        self.leases = Leases(store, self.layout, instance_id, settings.lease_ttl_s)
        self.trainer = trainer
        self.instance_id = instance_id
        self.spot = spot
        self.clock = clock or SystemClock()
        self.commands = commands
        self.notifier = notifier
        self.claims = ClaimOrder(self.jobs, self.leases, instance_id, settings.lease_ttl_s)
        self.claim_order = claimer or (lambda: self.claims.candidates(self.clock.monotonic()))
        self.scan_inbox = inbox
        self.current: Current | None = None
        self.lock = threading.RLock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.interruption: Notice | None = None
        self.lease_lost = False
        self.stop_failed = False
        self.idle_since: float | None = None
        self.state_dir = Path(settings.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.cache = LocalCache(self.state_dir / "current.json")
        self.powering_off = False
        self._uploaded: dict[str, int] = {}  # log name -> size at its last upload

    # -- logging and events ------------------------------------------------------------
    def _log_event(self, event: str, job_id: str | None = None, **fields: Any) -> None:
        log.info(event, **{"job_id": job_id, "instance_id": self.instance_id, **fields})

    def _emit(self, cur: Current, event: str, fields: dict[str, Any]) -> None:
        doc = {
            "attempt": cur.run.attempt,
            "state": cur.run.state.value,
            **fields,
            "instance_id": self.instance_id,
        }
        self._log_event(event, cur.job_id, **doc)
        try:
            self.jobs.event(cur.job_id, event, **doc)
        except StoreError as e:
            log.warning(ev.TICK_FAILED, job_id=cur.job_id, error=str(e), what=f"recording {event}")
        if self.notifier is not None:
            self.notifier(event, {"job_id": cur.job_id, **doc})

    # -- start: resume what we hold ----------------------------------------------------
    def resume(self) -> None:
        """At start: resume the job this instance holds (S3 first, local cache as a hint)."""
        cache = self.cache.read()
        candidates: list[str] = []
        if cache.get("job_id"):
            candidates.append(str(cache["job_id"]))
        for job_id in self.jobs.live_job_ids():  # ended jobs cannot be ours to resume
            if job_id in candidates:
                continue
            try:
                status, _ = self.jobs.status(job_id)
            except StoreError:
                continue
            if status.instance_id == self.instance_id and status.state.is_active():
                candidates.append(job_id)
        for job_id in candidates:
            lease = self.leases.held(job_id)
            handle = cache.get("handle") if cache.get("job_id") == job_id else None
            if lease is None:
                if handle and self.trainer.adopt(handle):
                    # fencing: a trainer of a job we no longer own must not run on
                    self._log_event(ev.LEASE_LOST, job_id, action="stopping leftover trainer")
                    self.trainer.stop(self.settings.stop_timeout_s)
                if cache.get("job_id") == job_id:
                    self.cache.clear()
                continue
            self._resume_held(job_id, lease, handle)
            return

    def _resume_held(self, job_id: str, lease: Lease, handle: dict[str, Any] | None) -> None:
        spec = self.jobs.spec(job_id)
        status, _ = self.jobs.status(job_id)
        alive = (
            handle is not None
            and handle.get("attempt") == len(status.attempts)
            and self.trainer.adopt(handle)
        )
        last = status.attempts[-1] if status.attempts else None
        elapsed = 0.0
        if last and last.started_at:
            elapsed = max(
                0.0,
                (
                    self.clock.wall()
                    - datetime.fromisoformat(last.started_at.replace("Z", "+00:00"))
                ).total_seconds(),
            )
        run, actions = lc.resume(
            status.state,
            attempts=len(status.attempts),
            trained_s=sum(a.training_s for a in status.attempts if a.ended_at),
            restarts=status.restarts,
            reboots=status.reboots,
            trainer_alive=alive,
            attempt_elapsed_s=elapsed,
            now=self.clock.monotonic(),
        )
        self.current = Current(job_id, spec, lease, run, policy_for(self.settings, spec))
        self._log_event("supervisor.resumed", job_id, state=status.state.value, adopted=alive)
        self._execute(self.current, actions)

    # -- the queue ---------------------------------------------------------------------
    def try_claim(self) -> bool:
        for job_id in spread(self.claim_order(), self.instance_id):
            try:
                status, _ = self.jobs.status(job_id)
            except StoreError:
                continue
            if status.state.is_terminal() or status.cancel_requested:
                continue  # ended since the index was listed
            lease = self.leases.claim(job_id)
            if lease is None:
                continue
            if self._take(job_id, lease):
                return True
        return False

    def _take(self, job_id: str, lease: Lease) -> bool:
        """We hold the lease: make the job ours in state.json, or give it back."""
        me = self.instance_id
        lost_attempt: list[Attempt] = []

        def change(s: JobStatus) -> JobStatus | None:
            if s.state.is_terminal() or s.cancel_requested:
                return None
            if s.state.is_active():
                # its instance vanished without a notice: a preemption, not the run's fault
                last = s.attempts[-1] if s.attempts else None
                if last is not None and last.ended_at is None:
                    last.ended_at = iso(self.clock.wall())
                    last.outcome = lc.Outcome.PREEMPTED.value
                    lost_attempt.append(last)
                s.state = JobState.PREEMPTED
                s.reason = f"instance {s.instance_id} went silent (lease expired)"
            s.instance_id = me
            return s

        try:
            status = self.jobs.update(job_id, change)
        except StoreError as e:
            log.warning(ev.TICK_FAILED, job_id=job_id, error=str(e), what="claiming")
            status = None
        if status is None:
            self.leases.release(lease)
            return False
        with contextlib.suppress(StoreError):  # claimed: out of the index (a hint only)
            self.jobs.unindex(status)
        spec = self.jobs.spec(job_id)
        run = lc.Run(
            state=status.state,
            attempt=len(status.attempts),
            restarts=status.restarts,
            reboots=status.reboots,
            trained_s=sum(a.training_s for a in status.attempts),
        )
        self.current = Current(job_id, spec, lease, run, policy_for(self.settings, spec))
        self.idle_since = None
        self.cache.save(job_id=job_id)
        self._emit(self.current, ev.LEASE_CLAIMED, {"previous_state": status.state.value})
        if lost_attempt:
            self._emit(self.current, ev.RUN_PREEMPTED, {"reason": status.reason})
        return True

    # -- the tick ----------------------------------------------------------------------
    def tick(self) -> None:
        with self.lock:
            try:
                self._tick()
            except PitstopError as e:
                log.warning(ev.TICK_FAILED, instance_id=self.instance_id, error=str(e))
            except Exception:  # a bug must not end supervision: log it whole, carry on
                log.exception(ev.TICK_FAILED, instance_id=self.instance_id)

    def _tick(self) -> None:
        if self.powering_off:
            return
        if self.current is None:
            if self.interruption is not None:
                return  # being taken back: claim nothing
            if self.scan_inbox is not None:
                self.scan_inbox()
            if not self.try_claim():
                self._idle()
                return
        cur = self.current
        assert cur is not None
        for _ in range(MAX_STEPS_PER_TICK):
            obs = self._observe(cur)
            run, actions = lc.step(cur.run, obs, self.clock.monotonic(), cur.policy)
            cur.run = run
            self._execute(cur, actions)
            if self.current is None or not any(isinstance(a, lc.StopTrainer) for a in actions):
                break

    def _idle(self) -> None:
        now = self.clock.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        idle_for = now - self.idle_since
        if self.settings.idle_shutdown_s and idle_for >= self.settings.idle_shutdown_s:
            self._log_event(ev.INSTANCE_IDLE, idle_s=round(idle_for, 1))
            self._power(ev.INSTANCE_SHUTTING_DOWN, "shutdown", f"idle for {idle_for:.0f} s")

    def _observe(self, cur: Current) -> lc.Observation:
        if self.stop_failed:
            status, code = lc.TrainerStatus.STOP_FAILED, None
        else:
            status, code = self.trainer.status()
        heartbeat: lc.Heartbeat | None = None
        cancel = False
        pretrained: str | None = None
        try:
            state, _ = self.jobs.status(cur.job_id)
            cancel = state.cancel_requested
            if state.instance_id not in (None, self.instance_id):
                self.lease_lost = True
            now_attempt = [a for a in state.attempts if a.n == cur.run.attempt]
            pretrained = now_attempt[0].pretrained_checkpoint if now_attempt else None
        except StoreError:
            pass
        if cur.run.attempt > 0:
            try:
                known = cur.progress
                p = read_progress(self.store, model_prefix(cur.job_id, cur.run.attempt), known)
                cur.progress = p
                finished, ok, why = p.finished, None, ""
                if p.finished:
                    finished, ok, why = self._finished_verdict(cur, status, code)
                heartbeat = lc.Heartbeat(
                    p.checkpoint,
                    p.checkpoint_mtime,
                    p.age_s,
                    finished,
                    finished_ok=ok,
                    evidence=why,
                    initial=is_initial_checkpoint(p.checkpoint, pretrained),
                )
            except StoreError as e:
                log.info(ev.HEARTBEAT_UNKNOWN, job_id=cur.job_id, error=str(e))
        notice = self.interruption.action if self.interruption else None
        return lc.Observation(status, code, heartbeat, cancel, notice, self.lease_lost)

    def _finished_verdict(
        self, cur: Current, status: lc.TrainerStatus, code: int | None
    ) -> tuple[bool, bool | None, str]:
        """``.finished`` is no proof (simapp writes it from a ``finally:``): judge it.

        The metrics are read once per attempt, when ``.finished`` is first seen; while the
        trainer still runs and they fall short, ``.finished`` is not reported yet.
        """
        n = cur.run.attempt
        if cur.evidence is None or cur.evidence[0] != n:
            found = metrics.read_evidence(
                self.store,
                model_prefix(cur.job_id, n),
                self.layout.custom_file(cur.job_id, "hyperparameters.json"),
            )
            cur.evidence = (n, found)
        evidence = cur.evidence[1]
        exited = status in (lc.TrainerStatus.EXITED, lc.TrainerStatus.ABSENT)
        ok = metrics.finished_ok(evidence, exited, code)
        if ok is None:
            return False, None, ""
        how = f"trainer exit code {code}" if exited else "trainer still running"
        return True, ok, f"{evidence.describe()}, {how}"

    # -- actions -----------------------------------------------------------------------
    def _execute(self, cur: Current, actions: list[lc.Action]) -> None:
        for action in actions:
            if isinstance(action, lc.Emit):
                if action.event == ev.LEASE_LOST:
                    self._log_event(ev.LEASE_LOST, cur.job_id, attempt=cur.run.attempt)
                    self._drop(cur)
                    continue
                self._emit(cur, action.event, action.fields)
            elif isinstance(action, lc.StartAttempt):
                self._start_attempt(cur, action)
            elif isinstance(action, lc.StopTrainer):
                self.stop_failed = not self.trainer.stop(action.timeout_s)
            elif isinstance(action, lc.EndAttempt):
                self._end_attempt(cur, action)
            elif isinstance(action, lc.ClearStaleLock):
                if clear_stale_lock(self.store, model_prefix(cur.job_id, action.n)):
                    self._emit(
                        cur, ev.LOCK_CLEARED, {"model_prefix": model_prefix(cur.job_id, action.n)}
                    )
            elif isinstance(action, lc.SetState):
                self._set_state(cur, action)
            elif isinstance(action, lc.ReleaseLease):
                self.leases.release(cur.lease)
                self._log_event(ev.LEASE_RELEASED, cur.job_id)
                self._drop(cur)
            elif isinstance(action, lc.Reboot):
                self._drop(cur, keep_cache=True)
                self._power(ev.INSTANCE_REBOOTING, "reboot", action.reason)
            elif isinstance(action, lc.Shutdown):
                self._power(ev.INSTANCE_SHUTTING_DOWN, "shutdown", action.reason)

    def _drop(self, cur: Current, keep_cache: bool = False) -> None:
        if self.current is cur:
            self.current = None
        self.stop_failed = False
        self.lease_lost = False
        if not keep_cache:
            self.cache.clear()

    def _power(self, event: str, which: str, reason: str) -> None:
        self.write_heartbeat()
        self._log_event(event, reason=reason)
        self.powering_off = True
        argv = self.settings.command_argv("reboot" if which == "reboot" else "shutdown")
        self.commands(argv)
        self.stopping.set()

    def _pretrained(self, cur: Current, from_attempt: int | None) -> tuple[str | None, str | None]:
        """The resume point of the newest attempt at or before ``from_attempt`` that has one:
        the checkpoint the trainer really loads (DeepRacer's ``last``, else ``best``)."""
        n = from_attempt
        while n:
            prefix = model_prefix(cur.job_id, n)
            point = resume_point(self.store, prefix)
            if point is not None:
                return prefix, point.name
            n -= 1
        return None, None

    def _start_attempt(self, cur: Current, action: lc.StartAttempt) -> None:
        pre_prefix, pre_ckpt = self._pretrained(cur, action.pretrained_from)
        prefix = model_prefix(cur.job_id, action.n)
        plan = AttemptPlan(
            job_id=cur.job_id,
            attempt=action.n,
            spec=cur.spec,
            model_prefix=prefix,
            pretrained_prefix=pre_prefix,
            pretrained_checkpoint=pre_ckpt,
            bucket=self.settings.bucket,
            region=self.settings.region,
            endpoint_url=self.settings.s3_endpoint_url,
            custom_files_prefix=self.layout.custom_files(cur.job_id),
            work_dir=self.state_dir / "jobs" / cur.job_id,
        )
        attempt = Attempt(
            n=action.n,
            instance_id=self.instance_id,
            model_prefix=prefix,
            pretrained_prefix=pre_prefix,
            pretrained_checkpoint=pre_ckpt,
            started_at=iso(self.clock.wall()),
            outcome="running",
        )

        def add(s: JobStatus) -> JobStatus:
            s.attempts = [a for a in s.attempts if a.n != action.n] + [attempt]
            return s

        self._update(cur, add)
        try:
            handle = self.trainer.start(plan)
        except TrainerError as e:
            self._emit(cur, ev.RUN_CRASHED, {"reason": f"could not start: {e}"})
            return  # the next observation sees no trainer: a crash, with backoff
        self.cache.save(job_id=cur.job_id, handle={**handle, "attempt": action.n})
        self._log_event(
            "run.launched",
            cur.job_id,
            attempt=action.n,
            model_prefix=prefix,
            pretrained=f"{pre_prefix}/{pre_ckpt}" if pre_prefix else None,
        )

    def _end_attempt(self, cur: Current, action: lc.EndAttempt) -> None:
        if action.outcome is not lc.Outcome.STOP_FAILED:
            # an ended attempt leaves nothing behind: a crashed DRfC stack may still have
            # containers up, a crashed run script may have children; this also saves logs
            self.trainer.stop(self.settings.stop_timeout_s)
        prefix = model_prefix(cur.job_id, action.n)
        try:  # the checkpoint the next attempt will resume from (what DeepRacer loads)
            point = resume_point(self.store, prefix)
            last = point.name if point else None
        except StoreError:
            last = None
        ended = iso(self.clock.wall())

        def close(s: JobStatus) -> JobStatus:
            for a in s.attempts:
                if a.n == action.n:
                    a.ended_at, a.outcome, a.training_s = (
                        ended,
                        action.outcome.value,
                        round(action.training_s, 3),
                    )
                    a.last_checkpoint = last
            return s

        self._update(cur, close)
        self._upload_logs(cur, action.n)

    def _upload_logs(self, cur: Current, n: int, *, only_grown: bool = False) -> None:
        """Copy the attempt's local logs into ``jobs/JOB/logs/`` (the last 5 MB of each).

        ``only_grown``: skip files that did not grow since the last upload (the heartbeat
        uses it, so logs can be followed while training runs at one PUT per heartbeat).
        """
        for path in self.trainer.log_files():
            name = f"attempt-{n}-{path.name}"
            try:
                size = path.stat().st_size
                if only_grown and self._uploaded.get(name) == size:
                    continue
                with path.open("rb") as f:
                    f.seek(max(0, size - MAX_LOG_UPLOAD))
                    self.jobs.put_log(cur.job_id, name, f.read())
                self._uploaded[name] = size
            except (OSError, StoreError) as e:
                log.warning(ev.TICK_FAILED, job_id=cur.job_id, error=str(e), what="uploading logs")

    def _set_state(self, cur: Current, action: lc.SetState) -> None:
        run = cur.run

        def change(s: JobStatus) -> JobStatus:
            s.state, s.reason = action.state, action.reason
            s.restarts, s.reboots = run.restarts, run.reboots
            return s

        self._update(cur, change)

    def _update(self, cur: Current, change: Callable[[JobStatus], JobStatus]) -> None:
        """Write state.json, but only while the job is still ours (fencing)."""
        me = self.instance_id

        def guarded(s: JobStatus) -> JobStatus | None:
            if s.instance_id not in (None, me):
                raise LeaseLost(f"job {cur.job_id} is owned by {s.instance_id}")
            s.instance_id = me
            return change(s)

        try:
            self.jobs.update(cur.job_id, guarded)
        except LeaseLost:
            self.lease_lost = True

    # -- the other scheduled jobs -------------------------------------------------------
    def heartbeat(self) -> None:
        """Renew the lease, then write ``instances/ID.json``."""
        with self.lock:
            cur = self.current
            if cur is not None and not cur.run.done:
                try:
                    cur.lease = self.leases.renew(cur.lease)
                except LeaseLost as e:
                    log.warning(ev.LEASE_LOST, job_id=cur.job_id, error=str(e))
                    self.lease_lost = True
                    self.wake.set()
                except StoreError as e:
                    log.warning(
                        ev.TICK_FAILED, job_id=cur.job_id, error=str(e), what="renewing lease"
                    )
                if cur.run.attempt_started_at is not None:
                    self._upload_logs(cur, cur.run.attempt, only_grown=True)
            try:
                self.write_heartbeat()
            except StoreError as e:
                log.warning(ev.TICK_FAILED, error=str(e), what="instance heartbeat")

    def write_heartbeat(self) -> None:
        cur = self.current
        doc = {
            "instance_id": self.instance_id,
            "hostname": socket.gethostname(),
            "version": __version__,
            "at": iso(utcnow()),
            "job_id": cur.job_id if cur else None,
            "attempt": cur.run.attempt if cur else None,
            "state": cur.run.state.value if cur else "idle",
            "last_checkpoint": cur.run.checkpoint if cur else None,
            "interruption": self.interruption.key if self.interruption else None,
        }
        self.store.put(
            self.layout.instance(self.instance_id),
            json.dumps(doc).encode(),
            content_type="application/json",
        )

    def poll_spot(self) -> None:
        try:
            notices = self.spot.poll()
        except ImdsError as e:
            log.info(ev.IMDS_ERROR, instance_id=self.instance_id, error=str(e))
            return
        for notice in notices:
            if notice.kind == "interruption" or self.settings.rebalance_is_notice:
                self._log_event(
                    ev.SPOT_NOTICE,
                    self.current.job_id if self.current else None,
                    action=notice.action,
                    time=notice.time,
                    kind=notice.kind,
                )
                if self.interruption is None:
                    self.interruption = replace(notice, action=notice.action)
                    self.wake.set()
            else:
                self._log_event(
                    ev.SPOT_REBALANCE,
                    self.current.job_id if self.current else None,
                    time=notice.time,
                )
                if self.current is not None:
                    with self.lock:
                        if self.current is not None:
                            self._emit(self.current, ev.SPOT_REBALANCE, {"time": notice.time})
        idle = self.current is None and not self.powering_off
        if self.interruption is not None and idle and self.settings.shutdown_on_notice:
            self._power(
                ev.INSTANCE_SHUTTING_DOWN, "shutdown", "spot interruption notice while idle"
            )

    # -- graceful stop (SIGTERM) ----------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the trainer cleanly, record the attempt, hand the job back, exit."""
        with self.lock:
            cur = self.current
            if cur is None or cur.run.done:
                return
            if cur.run.attempt_started_at is not None:
                self.trainer.stop(self.settings.stop_timeout_s)
                now = self.clock.monotonic()
                reason = "supervisor stopped (SIGTERM); resuming from checkpoint later"
                training = max(0.0, now - cur.run.attempt_started_at)
                self._end_attempt(
                    cur, lc.EndAttempt(cur.run.attempt, lc.Outcome.INTERRUPTED, reason, training)
                )
                clear_stale_lock(self.store, model_prefix(cur.job_id, cur.run.attempt))
                cur.run = replace(cur.run, state=JobState.PREEMPTED)
                self._set_state(cur, lc.SetState(JobState.PREEMPTED, reason))
                self._emit(cur, ev.RUN_PREEMPTED, {"reason": reason})
            self.leases.release(cur.lease)
            self._drop(cur)
