"""Job states (the README's "How it works") and their groups."""

from __future__ import annotations

from enum import Enum


class JobState(str, Enum):
    PENDING = "pending"  # submitted, waiting for an instance
    STARTING = "starting"  # an attempt was launched; no checkpoint from it yet
    RUNNING = "running"  # the attempt has written at least one checkpoint
    RESTARTING = "restarting"  # a crash or stall: stopping, then a new attempt after backoff
    PREEMPTED = "preempted"  # spot notice or lost instance; claimable again, not counted
    SUCCEEDED = "succeeded"  # .finished written, or the time budget spent
    FAILED = "failed"  # the restart budget is spent (or the instance cannot recover)
    CANCELLED = "cancelled"  # `pitstop cancel`
    REJECTED = "rejected"  # bad input; the reason says which file and why

    def __str__(self) -> str:
        return self.value

    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    def is_active(self) -> bool:
        return self in ACTIVE_STATES


TERMINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED}
)
ACTIVE_STATES = frozenset({JobState.STARTING, JobState.RUNNING, JobState.RESTARTING})
CLAIMABLE_STATES = frozenset({JobState.PENDING, JobState.PREEMPTED})


class TrainerStatus(str, Enum):
    """What a trainer backend reports about the attempt it runs."""

    RUNNING = "running"
    EXITED = "exited"  # the process (or stack) ended; exit_code says how
    ABSENT = "absent"  # nothing is running: never started, or stopped by us
    STOP_FAILED = "stop_failed"  # SIGTERM, wait, SIGKILL, wait: still there


class Outcome(str, Enum):
    """How an attempt ended (``attempts[].outcome`` in state.json)."""

    SUCCEEDED = "succeeded"
    BUDGET_SPENT = "budget_spent"
    CRASHED = "crashed"
    STALLED = "stalled"
    PREEMPTED = "preempted"  # a spot notice, or its instance went silent
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the supervisor went away (reboot, restart, SIGTERM)
    LEASE_LOST = "lease_lost"
    STOP_FAILED = "stop_failed"
    REFUSED = "refused"  # could not start for a reason no restart changes (bad input)


COUNTED = frozenset({Outcome.CRASHED, Outcome.STALLED})  # against max_restarts
