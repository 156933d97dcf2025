"""Who holds a job, and the changes to ``state.json`` made outside a held run.

Pure functions of the records: claim and take-over (``take``), the one fencing rule
(``superseded``/``owns``), quarantine of an unreadable job, cancel, recording an attempt,
what a restarted supervisor does with a trainer it finds, and when an idle instance powers
off. Each returns a new record (the caller's is never changed) and, where the state
changes, the ``Transition`` that reports it; every change is an edge of ``core/edges.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pitstop.core import edges
from pitstop.core import events as ev
from pitstop.core.actions import Action, Emit, Shutdown, Transition
from pitstop.core.failures import Diagnosis
from pitstop.core.records import Attempt, JobStatus
from pitstop.core.states import JobState, Outcome
from pitstop.core.times import seconds_between, timestamp


# -- fencing ----------------------------------------------------------------------------
def superseded(status: JobStatus, epoch: int) -> bool:
    """The fencing rule: a state written under a newer lease epoch than ``epoch`` means
    someone claimed the job after that lease; its holder must step back and write nothing."""
    return status.lease_epoch > epoch


def owns(status: JobStatus, me: str, epoch: int) -> bool:
    """Is the job still ours (holding the lease of ``epoch``)? Not when a newer lease wrote
    its state, nor when its state names another instance."""
    return not superseded(status, epoch) and status.instance_id in (None, me)


# -- claim and take-over ------------------------------------------------------------------
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


def claimable(status: JobStatus) -> bool:
    """May an instance try to claim it? Not once it ended, nor once a cancel was asked."""
    return not (status.state.is_terminal() or status.cancel_requested)


def take(status: JobStatus, claim: Claim) -> JobStatus | None:
    """The claim's change to ``state.json``: the job becomes ours, or None (not ours to take).

    Fencing: a status written under a newer lease epoch than ours means someone claimed
    after us; we step back. An open attempt of another (silent) instance is closed as
    ``preempted`` with the training time and checkpoint it reached, so ``max_hours`` holds.
    Idempotent: applied again to its own result (a lost reply), it changes nothing more.
    """
    if not claimable(status) or superseded(status, claim.epoch):
        return None
    if status.instance_id == claim.me and status.lease_epoch == claim.epoch:
        return status  # our own write, seen again after a lost reply
    status = status.model_copy(deep=True)
    last = status.attempts[-1] if status.attempts else None
    if last is not None and last.ended_at is None:
        mine = status.instance_id == claim.me
        ended = claim.lost_at_iso or claim.now_iso
        # the old owner was last heard of by its lease's 1 s timestamp: never before the
        # attempt's own start (it may have started within that second)
        if last.started_at and seconds_between(ended, last.started_at) > 0:
            ended = last.started_at
        last.ended_at = ended
        last.outcome = (Outcome.INTERRUPTED if mine else Outcome.PREEMPTED).value
        last.training_s = round(max(last.training_s, claim.lost_training_s), 3)
        last.last_checkpoint = last.last_checkpoint or claim.lost_checkpoint
    after = claimed_state(status.state)
    if after is not status.state:
        edges.check(status.state, after, "take-over")
        status.state = after
        status.reason = f"instance {status.instance_id} went silent (lease expired)"
    status.instance_id = claim.me
    status.lease_epoch = claim.epoch
    return status


def claimed(before: JobStatus, after: JobStatus) -> list[Action]:
    """The events of a claim: the lease taken, and a take-over of a silent instance's run."""
    acts: list[Action] = [Emit(ev.LEASE_CLAIMED, {"previous_state": after.state.value})]
    if before.state.is_active() and after.state is JobState.PREEMPTED:
        acts.append(Emit(ev.RUN_PREEMPTED, {"reason": after.reason}))
    return acts


def took_over(before: JobStatus, after: JobStatus) -> str | None:
    """Why the claim took the job from another instance (None: it was queued)."""
    if before.state.is_active() and after.state is JobState.PREEMPTED:
        return after.reason
    return None


# -- quarantine and cancel ------------------------------------------------------------------
def quarantine_reason(what: str) -> str:
    return f"unreadable job: {what}"


def quarantine(
    status: JobStatus, reason: str, *, me: str, epoch: int, now_iso: str
) -> tuple[JobStatus, Transition] | None:
    """A job whose spec (or state) cannot be read never stops the queue: it is ``failed``
    with the object named, its open attempts closed. None: it had ended already."""
    if status.state.is_terminal():
        return None
    edges.check(status.state, JobState.FAILED, "quarantine")
    new = status.model_copy(deep=True)
    new.state, new.reason, new.instance_id = JobState.FAILED, reason, me
    new.lease_epoch = max(new.lease_epoch, epoch)
    for a in new.attempts:
        if a.ended_at is None:
            a.ended_at, a.outcome = now_iso, Outcome.INTERRUPTED.value
    return new, Transition(JobState.FAILED, reason, ev.RUN_FAILED)


def request_cancel(status: JobStatus) -> JobStatus | None:
    """``pitstop cancel``: a queued job ends at once; a running one is stopped by its
    supervisor (``cancel_requested``, read at its next heartbeat). None: already ended."""
    if status.state.is_terminal():
        return None
    new = status.model_copy(deep=True)
    new.cancel_requested = True
    if new.state in (JobState.PENDING, JobState.PREEMPTED):
        edges.check(new.state, JobState.CANCELLED, "cancel")
        new.state, new.reason = JobState.CANCELLED, "cancelled by request"
    return new


# -- attempts ---------------------------------------------------------------------------
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
    new = status.model_copy(deep=True)
    for a in new.attempts:
        if a.ended_at is None:
            a.ended_at = attempt.started_at
            a.outcome = Outcome.INTERRUPTED.value
            a.training_s = round(
                max(a.training_s, seconds_between(a.started_at, attempt.started_at)), 3
            )
    new.attempts.append(attempt)
    return new


def end_attempt(
    status: JobStatus,
    n: int,
    *,
    outcome: Outcome,
    ended_at: str,
    training_s: float,
    last: str | None,
    failure: Diagnosis | None = None,
    ec2_notice: bool = False,
) -> JobStatus:
    """``EndAttempt``'s change to ``state.json``: close attempt ``n`` once (a retry changes
    nothing more), with its training time and the checkpoint the next attempt resumes from.

    The time counted is at most the attempt's recorded span: the supervisor counts from
    its decision to start, which precedes the record by a write (slow under a busy store),
    while the trainer is launched only after the record."""
    new = status.model_copy(deep=True)
    for a in new.attempts:
        if a.n == n and a.ended_at is None:
            a.ended_at, a.outcome = ended_at, outcome.value
            a.training_s = round(_within_span(training_s, a.started_at, ended_at), 3)
            a.last_checkpoint = last or a.last_checkpoint
            a.ec2_notice = ec2_notice
            if failure is not None:
                a.failure, a.failure_reason = failure.kind.value, failure.reason
                a.signature = failure.signature
    return new


# a count over its recorded span by more than this is not a slow write but a wall clock
# that stepped back during the attempt (NTP after a boot): the monotonic count stands
SPAN_SLACK_S = 60.0


def _within_span(training_s: float, started_at: str | None, ended_at: str) -> float:
    """``training_s``, cut to the seconds from ``started_at`` to ``ended_at`` when both are
    times and it runs over them by at most ``SPAN_SLACK_S`` (a record written late); an
    unreadable time, or a larger gap (the wall clock stepped), leaves it as counted, so
    ``max_hours`` never loses time."""
    start, end = timestamp(started_at), timestamp(ended_at)
    if start is None or end is None:
        return training_s
    span = max(0.0, end - start)
    return span if 0.0 < training_s - span <= SPAN_SLACK_S else training_s


def apply(status: JobStatus, t: Transition) -> JobStatus:
    """``Transition``'s change to ``state.json``: the state, its reason and the run's counts."""
    new = status.model_copy(deep=True)
    new.state, new.reason = t.to, t.reason
    new.restarts, new.reboots = t.restarts, t.reboots
    new.infra_restarts = t.infra_restarts
    return new


# -- the instance ---------------------------------------------------------------------------
def keeps_trainer(lease_held: bool) -> bool:
    """A restarted supervisor finds a trainer of a job: it runs on only while this instance
    still holds the job's lease (then it is adopted); otherwise it is stopped, with any
    stray of the job, since another instance may be training it now."""
    return lease_held


def idle(
    idle_for_s: float,
    *,
    idle_shutdown_s: float,
    notice: bool,
    shutdown_on_notice: bool,
    leave_to_ec2: bool = False,
) -> Shutdown | None:
    """What an instance holding no job does: power off after a notice (unless EC2 is left
    to take it, ``lifecycle.leave_to_ec2``) or a long idle."""
    if notice and shutdown_on_notice and not leave_to_ec2:
        return Shutdown("spot interruption notice while idle")
    if idle_shutdown_s and idle_for_s >= idle_shutdown_s:
        return Shutdown(f"idle for {idle_for_s:.0f} s")
    return None
