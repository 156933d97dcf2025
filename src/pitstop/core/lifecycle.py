"""The run lifecycle: one pure function of (run, observation, now, policy) -> (run, actions).

This module imports no boto3, subprocess, time or os. The daemon, the tests and the
goodput simulator all drive ``step``; only the daemon turns actions into S3 writes,
signals and reboots.

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

Outside a held run (each a pure function here, so no rule is written twice):

- claim (``take``): ``pending``/``preempted`` stay; an active job of a silent instance ->
  ``preempted``, its open attempt closed with the training time and checkpoint it reached;
  a state written under a newer lease epoch -> step back (fencing).
- resume after a restart: adopt a live trainer; finish a stop that was under way;
  ``.finished`` seen -> ``succeeded`` (never an extra attempt); else ``interrupted``, with
  the time from its start until now. An open attempt under ``pending``/``preempted`` (written
  by a version that recorded the attempt before the state) is resumed as ``starting``.
- recording an attempt (``add_attempt``): an earlier attempt still open is closed
  ``interrupted`` when its successor starts, with the time until then.
- SIGTERM (``interrupt``): active -> ``preempted`` (not counted), lease released.
- idle (``idle``): a notice or ``idle_shutdown_s`` -> power off.
- cancel (``request_cancel``): ``pending``/``preempted`` -> ``cancelled`` at once; an
  active job is flagged and its supervisor stops it (active -> ``cancelled``).

A heartbeat that could not be read is *unknown*: it never yields a stall verdict, and once
readings return the trainer gets a full stall timeout from that moment (it could not
upload while S3 was unreachable either).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pitstop.core import events as ev
from pitstop.core.states import COUNTED, JobState, Outcome, TrainerStatus
from pitstop.core.times import seconds_between

if TYPE_CHECKING:  # only the shape: take() edits a copy the caller read
    from pitstop.core.records import Attempt, JobStatus

__all__ = ["COUNTED", "Outcome", "TrainerStatus"]  # re-exported: the lifecycle's vocabulary


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

    @property
    def notice_stop_timeout_s(self) -> float:
        """A spot notice leaves ~120 s: never wait longer than 5 s for SIGTERM."""
        return min(self.stop_timeout_s, 5.0)

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


# -- actions (the daemon carries them out in order) -------------------------------------
@dataclass(frozen=True)
class StartAttempt:
    """Record attempt ``n`` (``add_attempt``) and launch its trainer. Always queued after
    ``SetState(STARTING)``, so the record never sits under a claimable or restarting state."""

    n: int
    pretrained_from: int | None  # attempt whose last complete checkpoint to load


@dataclass(frozen=True)
class StopTrainer:
    timeout_s: float


@dataclass(frozen=True)
class EndAttempt:
    n: int
    outcome: Outcome
    reason: str
    training_s: float


@dataclass(frozen=True)
class ClearStaleLock:
    n: int


@dataclass(frozen=True)
class SetState:
    state: JobState
    reason: str | None = None


@dataclass(frozen=True)
class Emit:
    event: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleaseLease:
    pass


@dataclass(frozen=True)
class Reboot:
    reason: str


@dataclass(frozen=True)
class Shutdown:
    reason: str


Action = (
    StartAttempt
    | StopTrainer
    | EndAttempt
    | ClearStaleLock
    | SetState
    | Emit
    | ReleaseLease
    | Reboot
    | Shutdown
)


@dataclass(frozen=True)
class Run:
    """What the supervisor knows about the job it holds. Times are monotonic seconds."""

    state: JobState
    attempt: int = 0
    restarts: int = 0
    failures_in_row: int = 0
    reboots: int = 0
    trained_s: float = 0.0  # training seconds of ended attempts
    attempt_started_at: float | None = None
    stale_since: float | None = None  # since when no new checkpoint is known
    checkpoint: str | None = None
    checkpoint_mtime: float | None = None
    blind: bool = False  # the last heartbeat could not be read
    start_after: float | None = None  # backoff: the next attempt may start then
    stopping: Outcome | None = None  # the trainer is being stopped for this outcome
    stop_reason: str | None = None
    reason: str | None = None
    done: bool = False  # nothing more to do for this job on this instance

    def training_s(self, now: float) -> float:
        running = (
            0.0 if self.attempt_started_at is None else max(0.0, now - self.attempt_started_at)
        )
        return self.trained_s + running


def _emit(run: Run, event: str, **fields: Any) -> Emit:
    return Emit(event, {"attempt": run.attempt, "state": run.state.value, **fields})


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
) -> tuple[Run, list[Action]]:
    """Rebuild the run of a job this instance holds (after a supervisor restart or reboot).

    ``attempt_open``: the last attempt has no ``ended_at`` yet. ``finished``: its model
    prefix holds ``.finished`` (it may have ended while nobody watched). After this, exactly
    one trainer runs for the job and every attempt but the running one is closed.
    """
    base = Run(
        state=state, attempt=attempts, restarts=restarts, reboots=reboots, trained_s=trained_s
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
        )
        return run, ([SetState(JobState.STARTING), *acts] if trainer_alive else acts)
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
        run = replace(
            base,
            state=JobState.RESTARTING,
            start_after=now,
            trained_s=trained_s + attempt_elapsed_s,
        )
        why = "trainer lost with its supervisor (reboot or restart); resuming from checkpoint"
        return run, [
            EndAttempt(attempts, Outcome.INTERRUPTED, why, attempt_elapsed_s),
            ClearStaleLock(attempts),
            SetState(JobState.RESTARTING, why),
            _emit(run, ev.RUN_INTERRUPTED, reason=why),
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
    new = replace(
        run,
        state=JobState.STARTING,
        attempt=n,
        attempt_started_at=now,
        stale_since=now,
        checkpoint=None,
        checkpoint_mtime=None,
        blind=False,
        start_after=None,
        reason=None,
    )
    event = ev.RUN_STARTED if n == 1 else ev.RUN_RESTARTED
    return new, [
        # the state first: a supervisor killed after the record finds the attempt open under
        # ``starting`` and closes or adopts it (under ``pending`` it would start another)
        SetState(JobState.STARTING),
        StartAttempt(n, pretrained),
        _emit(new, event, pretrained_from=pretrained),
    ]


def _restarting(run: Run, obs: Observation, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    if obs.interruption:
        return _preempted(run, _notice_reason(obs.interruption), policy)
    if obs.cancel_requested:
        return _end_job(run, JobState.CANCELLED, "cancelled by request", [])
    if run.start_after is None or now >= run.start_after:
        return _start(run, now)  # restarting -> starting
    return run, []


def _notice_reason(action: str) -> str:
    return f"spot interruption notice ({action})"


def _preempted(run: Run, reason: str, policy: Policy) -> tuple[Run, list[Action]]:
    new = replace(run, state=JobState.PREEMPTED, reason=reason, done=True)
    acts: list[Action] = [
        SetState(JobState.PREEMPTED, reason),
        _emit(new, ev.RUN_PREEMPTED, reason=reason),
        ReleaseLease(),
    ]
    if policy.shutdown_on_notice:
        acts.append(Shutdown(reason))
    return new, acts


def _active(run: Run, obs: Observation, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    if obs.interruption:
        return _begin_stop(
            run, obs, now, policy, Outcome.PREEMPTED, _notice_reason(obs.interruption)
        )
    if obs.cancel_requested:
        return _begin_stop(run, obs, now, policy, Outcome.CANCELLED, "cancelled by request")
    if obs.refused is not None and obs.trainer is not TrainerStatus.RUNNING:
        return _finish_stop(run, now, policy, Outcome.REFUSED, obs.refused)  # -> failed
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
        )
    if obs.trainer is TrainerStatus.ABSENT:
        return _finish_stop(run, now, policy, Outcome.CRASHED, "trainer is not running")
    if policy.max_training_s is not None and run.training_s(now) >= policy.max_training_s:
        hours = policy.max_training_s / 3600
        return _begin_stop(
            run, obs, now, policy, Outcome.BUDGET_SPENT, f"time budget of {hours:g} h spent"
        )
    if hb is None:
        if run.blind:
            return run, []
        new = replace(run, blind=True)
        return new, [_emit(new, ev.HEARTBEAT_UNKNOWN)]
    return _observe_heartbeat(run, hb, now, policy)


def _observe_heartbeat(
    run: Run, hb: Heartbeat, now: float, policy: Policy
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
            stale_since=max(written, floor),
            failures_in_row=0,
        )
        if new.state is JobState.STARTING:
            new = replace(new, state=JobState.RUNNING)  # starting -> running
            acts.append(SetState(JobState.RUNNING))
        acts.append(_emit(new, ev.RUN_CHECKPOINTED, checkpoint=hb.checkpoint))
        return new, acts
    stale_for = now - (new.stale_since if new.stale_since is not None else now)
    limit = (
        policy.stall_timeout_s
        if new.checkpoint
        else max(policy.startup_grace_s, policy.stall_timeout_s)
    )
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
    run: Run, obs: Observation, now: float, policy: Policy, outcome: Outcome, reason: str
) -> tuple[Run, list[Action]]:
    if obs.trainer is not TrainerStatus.RUNNING:
        return _finish_stop(run, now, policy, outcome, reason)
    timeout = (
        policy.notice_stop_timeout_s if outcome is Outcome.PREEMPTED else policy.stop_timeout_s
    )
    new = replace(run, stopping=outcome, stop_reason=reason)
    acts: list[Action] = []
    if outcome is Outcome.STALLED:
        # running -> restarting: tell the world now, the stop can take a while
        new = replace(new, state=JobState.RESTARTING, reason=reason)
        acts += [SetState(JobState.RESTARTING, reason), _emit(new, ev.RUN_STALLED, reason=reason)]
    acts.append(StopTrainer(timeout))
    return new, acts


def _stopping(run: Run, obs: Observation, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    assert run.stopping is not None
    if obs.trainer is TrainerStatus.RUNNING:
        return run, [StopTrainer(policy.stop_timeout_s)]
    if obs.trainer is TrainerStatus.STOP_FAILED:
        return _escalate(run, now, policy, f"trainer could not be stopped ({run.stop_reason})")
    return _finish_stop(run, now, policy, run.stopping, run.stop_reason or run.stopping.value)


def _escalate(run: Run, now: float, policy: Policy, reason: str) -> tuple[Run, list[Action]]:
    """A trainer that survives SIGKILL (hung driver, D-state): only a reboot can help."""
    training = max(0.0, now - run.attempt_started_at) if run.attempt_started_at is not None else 0.0
    base = replace(
        run,
        stopping=None,
        stop_reason=None,
        trained_s=run.trained_s + training,
        attempt_started_at=None,
    )
    acts: list[Action] = [EndAttempt(run.attempt, Outcome.STOP_FAILED, reason, training)]
    if run.reboots < policy.max_reboots:
        return _reboot(base, reason, acts)
    why = f"{reason}; reboot budget of {policy.max_reboots} spent"
    return _fail(base, why, acts)


def _reboot(run: Run, reason: str, acts: list[Action]) -> tuple[Run, list[Action]]:
    new = replace(
        run,
        state=JobState.RESTARTING,
        reason=reason,
        done=True,
        reboots=run.reboots + 1,
        failures_in_row=0,
    )
    return new, [
        *acts,
        SetState(JobState.RESTARTING, reason),
        _emit(new, ev.INSTANCE_REBOOTING, reason=reason),
        Reboot(reason),
    ]


_END_EVENTS = {
    JobState.SUCCEEDED: ev.RUN_SUCCEEDED,
    JobState.CANCELLED: ev.RUN_CANCELLED,
    JobState.FAILED: ev.RUN_FAILED,
}


def _end_job(
    run: Run, state: JobState, reason: str, acts: list[Action]
) -> tuple[Run, list[Action]]:
    """The job is over (succeeded, cancelled, failed): record it and hand the lease back."""
    new = replace(run, state=state, reason=reason, done=True)
    return new, [
        *acts,
        SetState(state, reason),
        _emit(new, _END_EVENTS[state], reason=reason),
        ReleaseLease(),
    ]


def _fail(run: Run, reason: str, acts: list[Action]) -> tuple[Run, list[Action]]:
    return _end_job(run, JobState.FAILED, reason, acts)


def _finish_stop(
    run: Run, now: float, policy: Policy, outcome: Outcome, reason: str
) -> tuple[Run, list[Action]]:
    """The trainer is down: close the attempt and decide what comes next."""
    training = max(0.0, now - run.attempt_started_at) if run.attempt_started_at is not None else 0.0
    base = replace(
        run,
        stopping=None,
        stop_reason=None,
        trained_s=run.trained_s + training,
        attempt_started_at=None,
        reason=reason,
    )
    acts: list[Action] = [
        EndAttempt(run.attempt, outcome, reason, training),
        ClearStaleLock(run.attempt),
    ]
    if outcome in (Outcome.SUCCEEDED, Outcome.BUDGET_SPENT):
        return _end_job(base, JobState.SUCCEEDED, reason, acts)
    if outcome is Outcome.CANCELLED:
        return _end_job(base, JobState.CANCELLED, reason, acts)
    if outcome is Outcome.REFUSED:  # bad input: another attempt would meet it again
        return _fail(base, reason, acts)
    if outcome is Outcome.PREEMPTED:
        new, more = _preempted(base, reason, policy)
        return new, acts + more
    # crashed or stalled: counts against the restart budget
    failures = run.failures_in_row + 1
    restarts = run.restarts + 1
    base = replace(base, failures_in_row=failures, restarts=restarts, state=JobState.RESTARTING)
    if outcome is Outcome.CRASHED:
        acts.append(_emit(base, ev.RUN_CRASHED, reason=reason))
    if restarts > policy.max_restarts:
        why = f"restart budget of {policy.max_restarts} spent; last failure: {reason}"
        return _fail(base, why, acts)
    if (
        policy.reboot_after_failed_attempts
        and failures >= policy.reboot_after_failed_attempts
        and run.reboots < policy.max_reboots
    ):
        why = f"{failures} failed attempts in a row; rebooting the instance (last: {reason})"
        return _reboot(base, why, acts)
    backoff = policy.backoff_s(failures)
    new = replace(base, start_after=now + backoff)
    return new, [
        *acts,
        SetState(JobState.RESTARTING, reason),
        _emit(new, ev.RUN_BACKING_OFF, reason=reason, backoff_s=backoff),
    ]


# -- transitions outside a held run: claim/take-over, SIGTERM, idle --------------------
@dataclass(frozen=True)
class Claim:
    """The facts a claim decides on (read by the claimer, passed in)."""

    me: str
    epoch: int  # our new lease's epoch
    now_iso: str  # wall time, for the records
    lost_at_iso: str | None = None  # when the previous owner was last heard of
    lost_training_s: float = 0.0  # its open attempt's training time until then
    lost_checkpoint: str | None = None  # its open attempt's last complete checkpoint


def claimed_state(state: JobState) -> JobState:
    """An active job claimed by another instance lost its owner without a notice: a
    preemption, not the run's fault (``preempted``, not counted). Others keep their state."""
    return JobState.PREEMPTED if state.is_active() else state


def take(status: JobStatus, claim: Claim) -> JobStatus | None:
    """The claim's change to ``state.json``: the job becomes ours, or None (not ours to take).

    Fencing: a status written under a newer lease epoch than ours means someone claimed
    after us; we step back. An open attempt of another (silent) instance is closed as
    ``preempted`` with the training time and checkpoint it reached, so ``max_hours`` holds.
    Idempotent: applied again to its own result (a lost reply), it changes nothing more.
    """
    if status.state.is_terminal() or status.cancel_requested:
        return None
    if status.lease_epoch > claim.epoch:
        return None
    if status.instance_id == claim.me and status.lease_epoch == claim.epoch:
        return status  # our own write, seen again after a lost reply
    last = status.attempts[-1] if status.attempts else None
    if last is not None and last.ended_at is None:
        mine = status.instance_id == claim.me
        last.ended_at = claim.lost_at_iso or claim.now_iso
        last.outcome = (Outcome.INTERRUPTED if mine else Outcome.PREEMPTED).value
        last.training_s = round(max(last.training_s, claim.lost_training_s), 3)
        last.last_checkpoint = last.last_checkpoint or claim.lost_checkpoint
    if claimed_state(status.state) is not status.state:
        status.state = claimed_state(status.state)
        status.reason = f"instance {status.instance_id} went silent (lease expired)"
    status.instance_id = claim.me
    status.lease_epoch = claim.epoch
    return status


def add_attempt(status: JobStatus, attempt: Attempt) -> JobStatus:
    """``StartAttempt``'s change to ``state.json``: record ``attempt`` once (a retry after a
    lost reply keeps the first record), and close every earlier attempt still open.

    An attempt still open when its successor starts was left by a supervisor killed before
    it could save its trainer's handle or close it; nothing accounts for it any more. It
    is closed ``interrupted`` as of its successor's start, with the time until then (its
    trainer, if any, was stopped as a stray before the successor was launched), so every
    attempt is closed and counted in ``max_hours`` and cost.
    """
    if any(a.n == attempt.n for a in status.attempts):
        return status
    for a in status.attempts:
        if a.ended_at is None:
            a.ended_at = attempt.started_at
            a.outcome = Outcome.INTERRUPTED.value
            a.training_s = round(
                max(a.training_s, seconds_between(a.started_at, attempt.started_at)), 3
            )
    status.attempts.append(attempt)
    return status


def run_for(status: JobStatus) -> Run:
    """The run of a job just claimed (``pending`` or ``preempted``): the next step starts it."""
    return Run(
        state=status.state,
        attempt=len(status.attempts),
        restarts=status.restarts,
        reboots=status.reboots,
        trained_s=sum(a.training_s for a in status.attempts),
    )


def interrupt(run: Run, now: float, policy: Policy) -> tuple[Run, list[Action]]:
    """SIGTERM to the supervisor: stop the trainer, close the attempt, hand the job back.

    ``preempted`` (not counted): another instance, or this one after its restart, resumes
    from the last checkpoint.
    """
    if run.done:
        return run, []
    reason = "supervisor stopped (SIGTERM); resuming from checkpoint later"
    acts: list[Action] = []
    if run.attempt_started_at is not None:
        training = max(0.0, now - run.attempt_started_at)
        acts += [
            StopTrainer(policy.stop_timeout_s),
            EndAttempt(run.attempt, Outcome.INTERRUPTED, reason, training),
            ClearStaleLock(run.attempt),
        ]
    new = replace(run, state=JobState.PREEMPTED, reason=reason, done=True, stopping=None)
    return new, [
        *acts,
        SetState(JobState.PREEMPTED, reason),
        _emit(new, ev.RUN_PREEMPTED, reason=reason),
        ReleaseLease(),
    ]


def idle(
    idle_for_s: float, *, idle_shutdown_s: float, notice: bool, shutdown_on_notice: bool
) -> Shutdown | None:
    """What an instance holding no job does: power off after a notice or a long idle."""
    if notice and shutdown_on_notice:
        return Shutdown("spot interruption notice while idle")
    if idle_shutdown_s and idle_for_s >= idle_shutdown_s:
        return Shutdown(f"idle for {idle_for_s:.0f} s")
    return None


def request_cancel(status: JobStatus) -> JobStatus | None:
    """``pitstop cancel``: a queued job ends at once; a running one is stopped by its
    supervisor (``cancel_requested``, read at its next heartbeat). None: already ended."""
    if status.state.is_terminal():
        return None
    status.cancel_requested = True
    if status.state in (JobState.PENDING, JobState.PREEMPTED):
        status.state, status.reason = JobState.CANCELLED, "cancelled by request"
    return status
