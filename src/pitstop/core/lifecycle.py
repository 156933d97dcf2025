"""The run lifecycle: one pure function of (run, observation, now, policy) -> (run, actions).

This module imports no boto3, subprocess, time or os. The daemon, the tests and the
goodput simulator all drive ``step``; only the supervisor turns actions into S3 writes,
signals and reboots. Every state change is one ``Transition`` action that carries its
event, checked against the edge table (``core/edges.py``); a success's follow-up (record
an evaluation's results, queue a training job's evaluations) is an action too.

Edges (``# A -> B`` comments below name them):

- claimed (``pending``/``preempted``) -> ``starting``: launch attempt n+1. The job is
  marked ``starting`` *before* attempt n+1 is recorded, and recording it closes any earlier
  attempt still open (``add_attempt``): wherever a supervisor is killed, an open attempt
  sits under an active state, where a restart adopts its trainer or closes it.
- ``starting`` -> ``running``: the attempt's first *trained* checkpoint appears. simapp
  saves an initial checkpoint (the model as loaded) as soon as it starts; that one is not
  progress, so the first-checkpoint grace runs until a trained one follows.
- ``starting``/``running`` -> ``restarting``: a stall (no new checkpoint for
  ``stall_timeout_s``; before the first trained one, ``max(startup_grace_s,
  stall_timeout_s)``) or a crash (the trainer exited without ``model/.finished``, or wrote
  it without evidence of success: simapp writes it from a ``finally:``). Counts against
  ``max_restarts``.
- ``restarting`` -> ``starting``: after the trainer stopped and the backoff passed, a new
  attempt in a new model prefix loads the previous attempt's resume point (the checkpoint
  DeepRacer's ``last``/``best`` resolves to, all files present).
- ``restarting`` -> ``failed``: the restart budget is spent.
- active -> ``succeeded``: ``.finished`` seen with evidence of success (enough training
  episodes, or a clean exit), or the training-time budget spent.
- active -> ``preempted``: a spot notice (does not count against ``max_restarts``).
- active -> ``cancelled``: ``pitstop cancel``.
- ``starting`` -> ``failed``: the attempt was refused at start for a reason no restart
  changes (an evaluation's checkpoint is gone); no restart is spent, no reboot.
- stop failed or too many failures in a row -> reboot, bounded by ``max_reboots``.
- lease lost -> stop at once and write nothing: another instance owns the job.

Outside a held run (pure functions of ``core/ownership.py``, so no rule is written twice):

- claim (``take``): ``pending``/``preempted`` stay; an active job of a silent instance ->
  ``preempted``, its open attempt closed with the training time and checkpoint it reached;
  a state written under a newer lease epoch -> step back (fencing).
- resume after a restart: adopt a live trainer; finish a stop that was under way;
  ``.finished`` seen -> ``succeeded`` (never an extra attempt); else ``interrupted``, with
  the time from its start until now. An open attempt under ``pending``/``preempted`` (written
  by a version that recorded the attempt before the state) is resumed as ``starting``.
- recording an attempt (``add_attempt``): an earlier attempt still open is closed
  ``interrupted`` when its successor starts, with the time until then.
- SIGTERM (``interrupt``, here): active -> ``preempted`` (not counted), lease released.
- idle (``idle``): a notice or ``idle_shutdown_s`` -> power off.
- cancel (``request_cancel``): ``pending``/``preempted`` -> ``cancelled`` at once; an
  active job is flagged and its supervisor stops it (active -> ``cancelled``).

A heartbeat that could not be read is *unknown*: it never yields a stall verdict, and once
readings return the trainer gets a full stall timeout from that moment (it could not
upload while S3 was unreachable either).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pitstop.core import edges, hangs
from pitstop.core import events as ev
from pitstop.core.actions import (
    Action,
    ClearStaleLock,
    Emit,
    EndAttempt,
    QueueEvaluations,
    Reboot,
    RecordResults,
    ReleaseLease,
    Shutdown,
    StartAttempt,
    StopTrainer,
    Transition,
)
from pitstop.core.failures import Diagnosis, FailureKind, Leftovers, classify
from pitstop.core.records import JobStatus
from pitstop.core.states import COUNTED, JobState, Outcome, TrainerStatus

__all__ = [  # the lifecycle's vocabulary, re-exported for its callers
    "COUNTED",
    "Action",
    "ClearStaleLock",
    "Emit",
    "EndAttempt",
    "Outcome",
    "QueueEvaluations",
    "Reboot",
    "RecordResults",
    "ReleaseLease",
    "Shutdown",
    "StartAttempt",
    "StopTrainer",
    "TrainerStatus",
    "Transition",
]


@dataclass(frozen=True)
class Heartbeat:
    """A successful read of the attempt's model prefix."""

    checkpoint: str | None = None  # newest checkpoint name (.coach_checkpoint); None: none yet
    checkpoint_mtime: float | None = None  # its LastModified (server epoch s): identifies "new"
    age_s: float | None = None  # server Date - LastModified
    finished: bool = False  # model/.finished exists (and, if judged, finished_ok says how)
    # evidence of success once .finished is seen: False is a crash; None: not judged
    finished_ok: bool | None = None
    evidence: str = ""  # what finished_ok rests on, for the reason
    initial: bool = False  # the checkpoint is simapp's initial one (no episode yet): not progress


@dataclass(frozen=True)
class Observation:
    trainer: TrainerStatus
    exit_code: int | None = None
    heartbeat: Heartbeat | None = None  # None: S3 could not be read (unknown, never a stall)
    cancel_requested: bool = False
    interruption: str | None = None  # a spot notice's action, e.g. "terminate"
    lease_lost: bool = False
    # the attempt could not start for a reason no restart changes (the checkpoint to
    # evaluate is gone): the job fails with it, no restart, no reboot
    refused: str | None = None
    # the trainer could not be launched (a TrainerError): a crash, with backoff
    start_error: str | None = None
    # what the running attempt shows (containers, evaluation tail): known hangs
    live: hangs.Live | None = None
    # what an attempt whose trainer is down left (exit, logs, containers): why it failed
    leftovers: Leftovers | None = None


@dataclass(frozen=True)
class Policy:
    stall_timeout_s: float
    startup_grace_s: float
    max_restarts: int
    backoff_base_s: float
    backoff_max_s: float
    stop_timeout_s: float = 60.0
    reboot_after_failed_attempts: int = 0  # 0: never reboot for failures
    max_reboots: int = 0
    max_training_s: float | None = None
    shutdown_on_notice: bool = True
    max_infra_restarts: int = 20  # infrastructure failures: their own budget
    # endless evaluation: this many training-episode lengths of evaluation, no checkpoint
    hang_evaluation_lengths: float = 30.0
    restart_limit: int = hangs.RESTART_LIMIT  # a container restarted this often is looping
    # on a spot instance, the end of its first hour less a margin, on the step's clock
    # (``leave_to_ec2``); None: unknown or on-demand, a notice powers off as configured
    refund_until: float | None = None

    @property
    def notice_stop_timeout_s(self) -> float:
        """A spot notice leaves ~120 s: never wait longer than 5 s for SIGTERM."""
        return min(self.stop_timeout_s, 5.0)

    def stall_limit_s(self, has_checkpoint: bool) -> float:
        """How long without a new checkpoint is a stall: before the first trained one, the
        startup grace (simapp loads the model and the simulator first)."""
        if has_checkpoint:
            return self.stall_timeout_s
        return max(self.startup_grace_s, self.stall_timeout_s)

    def backoff_s(self, failures_in_row: int) -> float:
        if failures_in_row <= 0:
            return 0.0
        return float(min(self.backoff_base_s * 2 ** (failures_in_row - 1), self.backoff_max_s))


_DEFAULT_POLICY = Policy(
    stall_timeout_s=1800.0,
    startup_grace_s=2400.0,
    max_restarts=10,
    backoff_base_s=10.0,
    backoff_max_s=600.0,
)


@dataclass(frozen=True)
class Run:
    """What the supervisor knows about the job it holds. Times are monotonic seconds."""

    state: JobState
    attempt: int = 0
    restarts: int = 0
    failures_in_row: int = 0
    reboots: int = 0
    infra_restarts: int = 0  # restarts after infrastructure failures (not in ``restarts``)
    trained_s: float = 0.0  # training seconds of ended attempts
    attempt_started_at: float | None = None
    stale_since: float | None = None  # since when no new checkpoint is known
    checkpoint: str | None = None
    checkpoint_mtime: float | None = None
    blind: bool = False  # the last heartbeat could not be read
    start_after: float | None = None  # backoff: the next attempt may start then
    stopping: Outcome | None = None  # the trainer is being stopped for this outcome
    stop_reason: str | None = None
    stop_signature: str | None = None  # the known hang the trainer is being stopped for
    reason: str | None = None
    done: bool = False  # nothing more to do for this job on this instance
    evaluation: bool = False  # an evaluation job (its follow-up records results)
    stop_on_interruption: bool = False  # the job's ``on_interruption: stop``: a notice ends it

    def training_s(self, now: float) -> float:
        running = (
            0.0 if self.attempt_started_at is None else max(0.0, now - self.attempt_started_at)
        )
        return self.trained_s + running


def _emit(run: Run, event: str, **fields: Any) -> Emit:
    return Emit(event, {"attempt": run.attempt, "state": run.state.value, **fields})


def _move(
    run: Run, to: JobState, reason: str | None, event: str, **changes: Any
) -> tuple[Run, Transition]:
    """The run after a state change (its ``reason`` too), and the one action that writes it
    and its event. ``changes`` set the run's other fields; ``fields`` (in changes) go to the
    event.
    Every change is checked against the edge table."""
    fields = changes.pop("fields", {})
    edges.check(run.state, to, event)
    new = replace(run, state=to, reason=reason, **changes)
    t = Transition(to, reason, event, new.restarts, new.reboots, new.attempt, fields)
    return new, replace(t, infra_restarts=new.infra_restarts)


def resume(
    state: JobState,
    *,
    attempts: int,
    attempt_open: bool,
    trained_s: float,
    restarts: int,
    reboots: int,
    trainer_alive: bool,
    attempt_elapsed_s: float,
    now: float,
    finished: bool = False,
    reason: str | None = None,
    policy: Policy | None = None,
    evaluation: bool = False,
    infra_restarts: int = 0,
    stop_on_interruption: bool = False,
) -> tuple[Run, list[Action]]:
    """Rebuild the run of a job this instance holds (after a supervisor restart or reboot).

    ``attempt_open``: the last attempt has no ``ended_at`` yet. ``finished``: its model
    prefix holds ``.finished`` (it may have ended while nobody watched). After this, exactly
    one trainer runs for the job and every attempt but the running one is closed.
    """
    base = claimed_run(
        state,
        attempts=attempts,
        restarts=restarts,
        reboots=reboots,
        trained_s=trained_s,
        evaluation=evaluation,
        infra_restarts=infra_restarts,
        stop_on_interruption=stop_on_interruption,
    )
    stop_s = policy.stop_timeout_s if policy is not None else 60.0
    if not (attempts > 0 and attempt_open):
        if state is JobState.RESTARTING:
            return replace(base, start_after=now), []  # restarting -> starting, next step
        if state.is_active():
            # active with every attempt closed (killed between two writes): start again
            return replace(base, state=JobState.RESTARTING, start_after=now), []
        return base, []
    started = now - attempt_elapsed_s
    if state in (JobState.PENDING, JobState.PREEMPTED):
        # our attempt recorded before the job was marked starting (a supervisor of an older
        # version killed between the two writes): it was being started, so resume it as such;
        # never start another beside it
        _, starting = _move(base, JobState.STARTING, None, ev.RUN_RESUMED)
        run, acts = resume(
            JobState.STARTING,
            attempts=attempts,
            attempt_open=True,
            trained_s=trained_s,
            restarts=restarts,
            reboots=reboots,
            trainer_alive=trainer_alive,
            attempt_elapsed_s=attempt_elapsed_s,
            now=now,
            finished=finished,
            reason=reason,
            policy=policy,
            evaluation=evaluation,
            infra_restarts=infra_restarts,
            stop_on_interruption=stop_on_interruption,
        )
        return run, [starting, *acts]
    if state is JobState.RESTARTING:
        # killed while stopping a stalled or crashed attempt: finish that stop first
        why = reason or "attempt being stopped when the supervisor restarted"
        run = replace(base, attempt_started_at=started, stopping=Outcome.STALLED, stop_reason=why)
        return run, ([StopTrainer(stop_s)] if trainer_alive else [])
    if state in (JobState.STARTING, JobState.RUNNING):
        if trainer_alive:
            # the trainer outlived its supervisor: adopt it, with a fresh stall clock
            run = replace(base, attempt_started_at=started, stale_since=now)
            return run, [_emit(run, ev.RUN_ADOPTED)]
        if finished:
            # it finished while nobody watched: record the success, never a new attempt
            run = replace(base, attempt_started_at=started)
            return _finish_stop(
                run,
                now,
                policy or _DEFAULT_POLICY,
                Outcome.SUCCEEDED,
                "training finished (model/.finished) while the supervisor was down",
            )
        # the trainer went down with the supervisor (reboot, kill): not the run's fault; its
        # time until now counts (max_hours), as the record says
        why = "trainer lost with its supervisor (reboot or restart); resuming from checkpoint"
        run, moved = _move(
            base,
            JobState.RESTARTING,
            why,
            ev.RUN_INTERRUPTED,
            start_after=now,
            trained_s=trained_s + attempt_elapsed_s,
        )
        return run, [
            EndAttempt(attempts, Outcome.INTERRUPTED, why, attempt_elapsed_s),
            ClearStaleLock(attempts),
            moved,
        ]
    return base, []


def step(run: Run, obs: Observation, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    """Advance the run by one observation. Pure: same inputs, same outputs."""
    if run.done:
        return run, []
    if obs.lease_lost:
        return _lease_lost(run, obs, policy)
    if run.stopping is not None:
        return _stopping(run, obs, now, policy)
    if run.state in (JobState.PENDING, JobState.PREEMPTED):
        return _start(run, now)  # pending/preempted -> starting
    if run.state is JobState.RESTARTING:
        return _restarting(run, obs, now, policy)
    if run.state in (JobState.STARTING, JobState.RUNNING):
        return _active(run, obs, now, policy)
    return replace(run, done=True), []  # a terminal state: nothing to supervise


def _lease_lost(run: Run, obs: Observation, policy: Policy) -> tuple[Run, list[Action]]:
    # fencing: another instance owns the job now; stop at once and write nothing to the job
    acts: list[Action] = []
    if obs.trainer is TrainerStatus.RUNNING:
        acts.append(StopTrainer(policy.notice_stop_timeout_s))
    new = replace(run, done=True, reason="lease lost to another instance")
    acts.append(_emit(new, ev.LEASE_LOST))
    return new, acts


def _start(run: Run, now: float) -> tuple[Run, list[Action]]:
    n = run.attempt + 1
    pretrained = run.attempt if run.attempt > 0 else None
    new, moved = _move(
        run,
        JobState.STARTING,
        None,
        ev.RUN_STARTED if n == 1 else ev.RUN_RESTARTED,
        attempt=n,
        attempt_started_at=now,
        stale_since=now,
        checkpoint=None,
        checkpoint_mtime=None,
        blind=False,
        start_after=None,
        fields={"pretrained_from": pretrained},
    )
    # the state first: a supervisor killed after the record finds the attempt open under
    # ``starting`` and closes or adopts it (under ``pending`` it would start another)
    return new, [moved, StartAttempt(n, pretrained)]


def _restarting(run: Run, obs: Observation, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    if obs.interruption:
        return _preempted(run, _notice_reason(obs.interruption), policy, now)
    if obs.cancel_requested:
        return _end_job(run, JobState.CANCELLED, "cancelled by request", [])
    if run.start_after is None or now >= run.start_after:
        return _start(run, now)  # restarting -> starting
    return run, []


def _notice_reason(action: str) -> str:
    return f"spot interruption notice ({action})"


def ec2_notice(reason: str) -> bool:
    """An attempt's end reason says EC2 is taking the instance (a rebalance recommendation
    acted on as a notice is the owner's choice)."""
    return reason.startswith(_notice_reason("")[:-1]) and reason != _notice_reason("rebalance")


def _preempted(run: Run, reason: str, policy: Policy, now: float) -> tuple[Run, list[Action]]:
    """A spot notice: the job goes back to the queue (``preempted``, not counted), or, with
    ``on_interruption: stop``, ends (``cancelled``, its checkpoints kept)."""
    if run.stop_on_interruption:
        why = f"{reason}; the job ends here (on_interruption: stop)"
        new, acts = _end_job(run, JobState.CANCELLED, why, [])
    else:
        new, moved = _move(run, JobState.PREEMPTED, reason, ev.RUN_PREEMPTED, done=True)
        acts = [moved, ReleaseLease()]
    # a rebalance recommendation acted on as a notice: EC2 may never take the instance
    ec2_takes_it = ec2_notice(reason)
    if policy.shutdown_on_notice and not (ec2_takes_it and leave_to_ec2(now, policy.refund_until)):
        acts.append(Shutdown(reason))
    return new, acts


def leave_to_ec2(now: float, refund_until: float | None) -> bool:
    """After a spot interruption notice inside the instance's first hour, the supervisor
    does not power it off: EC2 takes it within two minutes, and AWS bills nothing for a
    spot instance EC2 interrupts in its first hour (an owner's shutdown may be billed)."""
    return refund_until is not None and now < refund_until


def _active(run: Run, obs: Observation, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    if obs.interruption:
        return _begin_stop(
            run, obs, now, policy, Outcome.PREEMPTED, _notice_reason(obs.interruption)
        )
    if obs.cancel_requested:
        return _begin_stop(run, obs, now, policy, Outcome.CANCELLED, "cancelled by request")
    if obs.refused is not None and obs.trainer is not TrainerStatus.RUNNING:
        return _finish_stop(run, now, policy, Outcome.REFUSED, obs.refused)  # -> failed
    if obs.start_error is not None and obs.trainer is not TrainerStatus.RUNNING:
        why = f"could not start: {obs.start_error}"
        left = obs.leftovers or Leftovers(logs=obs.start_error)
        return _finish_stop(run, now, policy, Outcome.CRASHED, why, left)
    hb = obs.heartbeat
    if hb is not None and hb.finished and hb.finished_ok is False:
        why = f"model/.finished without evidence of success ({hb.evidence or 'none'})"
        return _begin_stop(run, obs, now, policy, Outcome.CRASHED, why)
    if hb is not None and hb.finished:
        return _begin_stop(
            run, obs, now, policy, Outcome.SUCCEEDED, "training finished (model/.finished)"
        )
    if obs.trainer is TrainerStatus.EXITED and not (hb is None and obs.exit_code == 0):
        # exited without .finished (a clean exit with an unreadable heartbeat waits for S3)
        code = obs.exit_code
        return _finish_stop(
            run,
            now,
            policy,
            Outcome.CRASHED,
            f"trainer exited with code {code} before model/.finished",
            obs.leftovers,
        )
    if obs.trainer is TrainerStatus.ABSENT:
        why = "trainer is not running"
        return _finish_stop(run, now, policy, Outcome.CRASHED, why, obs.leftovers)
    if policy.max_training_s is not None and run.training_s(now) >= policy.max_training_s:
        hours = policy.max_training_s / 3600
        return _begin_stop(
            run, obs, now, policy, Outcome.BUDGET_SPENT, f"time budget of {hours:g} h spent"
        )
    # what the containers show holds whatever S3 says (unreadable, or a new checkpoint)
    live = obs.live
    hang = hangs.running_hang(live.containers, policy.restart_limit) if live else None
    if hang is not None:
        return _stop_hung(run, obs, now, policy, hang)
    if hb is None:
        if run.blind:
            return run, []
        new = replace(run, blind=True)
        return new, [_emit(new, ev.HEARTBEAT_UNKNOWN)]
    return _observe_heartbeat(run, obs, hb, now, policy)


def _stop_hung(
    run: Run, obs: Observation, now: float, policy: Policy, hang: hangs.Hang
) -> tuple[Run, list[Action]]:
    """A known hang: stop now, as a stall (the restart that follows names the signature)."""
    reason = f"stall: {hang.describe()}"
    return _begin_stop(
        run, obs, now, policy, Outcome.STALLED, reason, {"signature": hang.signature}
    )


def _observe_heartbeat(
    run: Run, obs: Observation, hb: Heartbeat, now: float, policy: Policy
) -> tuple[Run, list[Action]]:
    acts: list[Action] = []
    new = run
    if run.blind:
        # readings are back: the trainer could not upload either, so restart its clock now
        new = replace(new, blind=False, stale_since=max(new.stale_since or now, now))
        acts.append(_emit(new, ev.HEARTBEAT_RESTORED))
    if hb.checkpoint is not None and not hb.initial and hb.checkpoint_mtime != run.checkpoint_mtime:
        written = now - max(0.0, hb.age_s or 0.0)
        floor = new.attempt_started_at if new.attempt_started_at is not None else written
        new = replace(
            new,
            checkpoint=hb.checkpoint,
            checkpoint_mtime=hb.checkpoint_mtime,
            # never back past a fresh clock (readings just restored, a trainer adopted)
            stale_since=max(written, floor, new.stale_since or floor),
            failures_in_row=0,
        )
        if new.state is JobState.STARTING:  # starting -> running, with its first checkpoint
            new, moved = _move(
                new,
                JobState.RUNNING,
                None,
                ev.RUN_CHECKPOINTED,
                fields={"checkpoint": hb.checkpoint},
            )
            return new, [*acts, moved]
        return new, [*acts, _emit(new, ev.RUN_CHECKPOINTED, checkpoint=hb.checkpoint)]
    hang = hangs.stuck(obs.live, policy.hang_evaluation_lengths)
    if (
        hang is not None
    ):  # no new checkpoint this poll, and a silent worker or the endless evaluation shows
        stopped, more = _stop_hung(new, Observation(TrainerStatus.RUNNING), now, policy, hang)
        return stopped, acts + more
    stale_for = now - (new.stale_since if new.stale_since is not None else now)
    limit = policy.stall_limit_s(new.checkpoint is not None)
    if stale_for >= limit:
        what = (
            f"no new checkpoint for {stale_for:.0f} s"
            if new.checkpoint
            else f"no first checkpoint within {limit:.0f} s"
        )
        stopped, more = _begin_stop(
            new, Observation(TrainerStatus.RUNNING), now, policy, Outcome.STALLED, f"stall: {what}"
        )
        return stopped, acts + more
    return new, acts


def _begin_stop(
    run: Run,
    obs: Observation,
    now: float,
    policy: Policy,
    outcome: Outcome,
    reason: str,
    fields: dict[str, Any] | None = None,
) -> tuple[Run, list[Action]]:
    if obs.trainer is not TrainerStatus.RUNNING:
        return _finish_stop(run, now, policy, outcome, reason, obs.leftovers)
    timeout = (
        policy.notice_stop_timeout_s if outcome is Outcome.PREEMPTED else policy.stop_timeout_s
    )
    signature = (fields or {}).get("signature")
    new = replace(run, stopping=outcome, stop_reason=reason, stop_signature=signature)
    acts: list[Action] = []
    if outcome is Outcome.STALLED:
        # running -> restarting: tell the world now, the stop can take a while
        new, moved = _move(new, JobState.RESTARTING, reason, ev.RUN_STALLED, fields=fields or {})
        acts.append(moved)
    acts.append(StopTrainer(timeout))
    return new, acts


def _stopping(run: Run, obs: Observation, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    assert run.stopping is not None
    if obs.trainer is TrainerStatus.RUNNING:
        return run, [StopTrainer(policy.stop_timeout_s)]
    if obs.trainer is TrainerStatus.STOP_FAILED:
        return _escalate(run, now, policy, f"trainer could not be stopped ({run.stop_reason})")
    why = run.stop_reason or run.stopping.value
    return _finish_stop(run, now, policy, run.stopping, why, obs.leftovers)


def _attempt_over(run: Run, now: float) -> tuple[Run, float]:
    """The run once its attempt is over (no stop under way), and that attempt's training."""
    training = max(0.0, now - run.attempt_started_at) if run.attempt_started_at is not None else 0.0
    over = replace(
        run,
        stopping=None,
        stop_reason=None,
        stop_signature=None,
        trained_s=run.trained_s + training,
        attempt_started_at=None,
    )
    return over, training


def _escalate(run: Run, now: float, policy: Policy, reason: str) -> tuple[Run, list[Action]]:
    """A trainer that survives SIGKILL (hung driver, D-state): only a reboot can help."""
    base, training = _attempt_over(run, now)
    acts: list[Action] = [EndAttempt(run.attempt, Outcome.STOP_FAILED, reason, training)]
    if run.reboots < policy.max_reboots:
        return _reboot(base, reason, acts)
    why = f"{reason}; reboot budget of {policy.max_reboots} spent"
    return _fail(base, why, acts)


def _reboot(run: Run, reason: str, acts: list[Action]) -> tuple[Run, list[Action]]:
    new, moved = _move(
        run,
        JobState.RESTARTING,
        reason,
        ev.INSTANCE_REBOOTING,
        done=True,
        reboots=run.reboots + 1,
        failures_in_row=0,
    )
    return new, [*acts, moved, Reboot(reason)]


_END_EVENTS = {
    JobState.SUCCEEDED: ev.RUN_SUCCEEDED,
    JobState.CANCELLED: ev.RUN_CANCELLED,
    JobState.FAILED: ev.RUN_FAILED,
}


def _end_job(
    run: Run,
    state: JobState,
    reason: str,
    acts: list[Action],
    fields: dict[str, Any] | None = None,
) -> tuple[Run, list[Action]]:
    """The job is over (succeeded, cancelled, failed): record it and hand the lease back.
    A success first does its follow-up: an evaluation records its results, a training job
    queues its evaluations (both idempotent, so a retry repeats them safely)."""
    if state is JobState.SUCCEEDED:
        acts = [*acts, RecordResults() if run.evaluation else QueueEvaluations()]
    new, moved = _move(run, state, reason, _END_EVENTS[state], done=True, fields=fields or {})
    return new, [*acts, moved, ReleaseLease()]


def _fail(run: Run, reason: str, acts: list[Action]) -> tuple[Run, list[Action]]:
    return _end_job(run, JobState.FAILED, reason, acts)


def _finish_stop(
    run: Run,
    now: float,
    policy: Policy,
    outcome: Outcome,
    reason: str,
    leftovers: Leftovers | None = None,
) -> tuple[Run, list[Action]]:
    """The trainer is down: close the attempt and decide what comes next. A crash or a stall
    is classified from what the attempt left (``core/failures.py``): a user error fails the
    job at once, an infrastructure fault restarts on its own budget, the rest count."""
    failed = outcome in (Outcome.CRASHED, Outcome.STALLED)
    diagnosis = classify(leftovers) if failed and leftovers is not None else None
    hang = run.stop_signature if outcome is Outcome.STALLED else None
    if hang is not None and (diagnosis is None or diagnosis.kind is FailureKind.UNKNOWN):
        # the logs explain nothing more than the hang the stop was made for: keep its name
        code = diagnosis.fault_code if diagnosis is not None else None
        diagnosis = Diagnosis(FailureKind.UNKNOWN, reason, hang, code)
    else:
        reason = _with_diagnosis(reason, diagnosis)
    base, training = _attempt_over(run, now)
    base = replace(base, reason=reason)
    acts: list[Action] = [
        EndAttempt(run.attempt, outcome, reason, training, diagnosis),
        ClearStaleLock(run.attempt),
    ]
    if outcome in (Outcome.SUCCEEDED, Outcome.BUDGET_SPENT):
        return _end_job(base, JobState.SUCCEEDED, reason, acts)
    if outcome is Outcome.CANCELLED:
        return _end_job(base, JobState.CANCELLED, reason, acts)
    if outcome is Outcome.REFUSED:  # bad input: another attempt would meet it again
        return _fail(base, reason, acts)
    if outcome is Outcome.PREEMPTED:
        new, more = _preempted(base, reason, policy, now)
        return new, acts + more
    kind = diagnosis.kind if diagnosis is not None else FailureKind.UNKNOWN
    failure = _failure_fields(diagnosis)
    if outcome is Outcome.CRASHED:
        crashed = replace(base, state=JobState.RESTARTING)
        acts.append(_emit(crashed, ev.RUN_CRASHED, reason=reason, **failure))
    if kind is FailureKind.USER_ERROR:
        # the job's own input fails: every restart would fail the same way
        return _end_job(base, JobState.FAILED, reason, acts, failure)
    failures = run.failures_in_row + 1
    if kind is FailureKind.INFRASTRUCTURE:
        # the machine's fault: restart on the infrastructure budget, not max_restarts
        infra = run.infra_restarts + 1
        base = replace(base, failures_in_row=failures, infra_restarts=infra)
        if infra > policy.max_infra_restarts:
            why = f"infrastructure restart budget of {policy.max_infra_restarts} spent; last: {reason}"
            return _end_job(base, JobState.FAILED, why, acts, failure)
    else:
        restarts = run.restarts + 1
        base = replace(base, failures_in_row=failures, restarts=restarts)
        if restarts > policy.max_restarts:
            why = f"restart budget of {policy.max_restarts} spent; last failure: {reason}"
            return _end_job(base, JobState.FAILED, why, acts, failure)
    if (
        policy.reboot_after_failed_attempts
        and failures >= policy.reboot_after_failed_attempts
        and run.reboots < policy.max_reboots
    ):
        why = f"{failures} failed attempts in a row; rebooting the instance (last: {reason})"
        return _reboot(base, why, acts)
    backoff = policy.backoff_s(failures)
    new, moved = _move(
        base,
        JobState.RESTARTING,
        reason,
        ev.RUN_BACKING_OFF,
        start_after=now + backoff,
        fields={"backoff_s": backoff, **failure},
    )
    return new, [*acts, moved]


def _with_diagnosis(reason: str, d: Diagnosis | None) -> str:
    """The attempt's reason with its class: ``user_error: <simapp's message> (line N)`` for
    what the logs explain; an unexplained failure keeps its own reason, with the class."""
    if d is None:
        return reason
    if d.kind is FailureKind.UNKNOWN and d.signature is None and d.fault_code is None:
        return f"{reason} (unknown cause)"
    if d.kind is FailureKind.UNKNOWN:
        return f"{reason}; {d.describe()}"
    if d.kind is FailureKind.USER_ERROR:
        return d.describe()
    return f"{d.describe()} [{reason}]"


def _failure_fields(d: Diagnosis | None) -> dict[str, Any]:
    if d is None:
        return {}
    fields: dict[str, Any] = {"failure": d.kind.value}
    if d.signature is not None:
        fields["signature"] = d.signature
    if d.line is not None:
        fields["reward_line"] = d.line
    return fields


# -- a held run: claimed, or interrupted by SIGTERM -------------------------------------
def run_for(
    status: JobStatus, *, evaluation: bool = False, stop_on_interruption: bool = False
) -> Run:
    """The run of a job just claimed (``pending`` or ``preempted``): the next step starts it."""
    return claimed_run(
        status.state,
        attempts=len(status.attempts),
        restarts=status.restarts,
        reboots=status.reboots,
        trained_s=sum(a.training_s for a in status.attempts),
        evaluation=evaluation,
        infra_restarts=status.infra_restarts,
        stop_on_interruption=stop_on_interruption,
    )


def claimed_run(
    state: JobState,
    *,
    attempts: int,
    restarts: int,
    reboots: int,
    trained_s: float,
    evaluation: bool = False,
    infra_restarts: int = 0,
    stop_on_interruption: bool = False,
) -> Run:
    """The run an instance holds once it claimed a job in ``state`` (the simulator's claim
    too): the counts carry over, and the next step starts attempt ``attempts + 1``."""
    return Run(
        state=state,
        attempt=attempts,
        restarts=restarts,
        reboots=reboots,
        trained_s=trained_s,
        evaluation=evaluation,
        infra_restarts=infra_restarts,
        stop_on_interruption=stop_on_interruption,
    )


def interrupt(run: Run, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    """SIGTERM to the supervisor: stop the trainer, close the attempt, hand the job back.

    ``preempted`` (not counted): another instance, or this one after its restart, resumes
    from the last checkpoint.
    """
    if run.done:
        return run, []
    if run.state in (JobState.PENDING, JobState.PREEMPTED):
        # claimed, nothing started yet: hand the lease back, the job stays as it was
        return replace(run, done=True), [ReleaseLease()]
    reason = "supervisor stopped (SIGTERM); resuming from checkpoint later"
    acts: list[Action] = []
    if run.attempt_started_at is not None:
        training = max(0.0, now - run.attempt_started_at)
        acts += [
            StopTrainer(policy.stop_timeout_s),
            EndAttempt(run.attempt, Outcome.INTERRUPTED, reason, training),
            ClearStaleLock(run.attempt),
        ]
    new, moved = _move(run, JobState.PREEMPTED, reason, ev.RUN_PREEMPTED, done=True, stopping=None)
    return new, [*acts, moved, ReleaseLease()]
