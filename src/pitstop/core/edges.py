"""The job state machine's edges: every state change the core may make, and nothing else.

Each ``Transition`` the core returns is checked here (``check``); the table is the
contract's picture (docs/architecture.md has the edge -> function table). A self-edge
rewrites the state with a new reason or counts (``restarting`` -> ``restarting`` when a
stopped attempt goes into backoff or the instance reboots).
"""

from __future__ import annotations

from pitstop.core.states import JobState
from pitstop.errors import IllegalTransition

P, ST, RU, RE, PR = (
    JobState.PENDING,
    JobState.STARTING,
    JobState.RUNNING,
    JobState.RESTARTING,
    JobState.PREEMPTED,
)
SU, FA, CA, RJ = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED

EDGES: dict[JobState, frozenset[JobState]] = {
    # claimed: start; cancelled while queued; quarantined (unreadable); rejected by intake
    P: frozenset({ST, CA, FA, RJ}),
    PR: frozenset({ST, CA, FA}),
    # first trained checkpoint; stall, crash, reboot or a trainer lost with its supervisor;
    # finished or budget spent; notice, SIGTERM or take-over; cancel; refused or budget gone
    ST: frozenset({RU, RE, SU, PR, CA, FA}),
    RU: frozenset({RE, SU, PR, CA, FA}),
    # next attempt; backoff or reboot (self); notice or SIGTERM; cancel; budget spent
    RE: frozenset({ST, RE, PR, CA, FA}),
    SU: frozenset(),
    FA: frozenset(),
    CA: frozenset(),
    RJ: frozenset(),
}


def allowed(before: JobState, after: JobState) -> bool:
    return after in EDGES[before]


def check(before: JobState, after: JobState, why: str) -> None:
    """Raise ``IllegalTransition`` for a change the table does not hold (a bug in the core)."""
    if not allowed(before, after):
        raise IllegalTransition(f"{before.value} -> {after.value} is not an edge ({why})")
