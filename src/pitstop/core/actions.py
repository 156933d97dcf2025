"""What the core asks the world to do: the actions, carried out in order by the supervisor.

The core decides and returns actions; ``supervisor/execute.py`` carries them out (and the
simulator reads them). A state change and the event that reports it are one action,
``Transition``, so they can never drift apart; every ``Transition`` the core makes is an
edge of ``core/edges.py``'s table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pitstop.core.failures import Diagnosis
from pitstop.core.states import JobState, Outcome


@dataclass(frozen=True)
class Transition:
    """Write the job's new state (with the run's restart and reboot counts), then its event.

    ``event`` reports the change (``run.started``, ``run.stalled``, ``run.failed``...);
    ``fields`` go into the event beside ``attempt``, ``state`` and ``reason``."""

    to: JobState
    reason: str | None
    event: str
    restarts: int = 0
    reboots: int = 0
    attempt: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    infra_restarts: int = 0


@dataclass(frozen=True)
class Emit:
    """Record an event that changes no state (a checkpoint seen, S3 unreadable, a crash
    that the next ``Transition`` acts on...)."""

    event: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StartAttempt:
    """Record attempt ``n`` (``add_attempt``) and launch its trainer. Always queued after
    ``Transition(STARTING)``, so the record never sits under a claimable or restarting state."""

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
    # why a failed attempt failed (``user_error: ...``); None: not a failure, or not known
    failure: Diagnosis | None = None


@dataclass(frozen=True)
class ClearStaleLock:
    n: int


@dataclass(frozen=True)
class RecordResults:
    """An evaluation that finished: read its laps, record its results and leaderboard entry."""


@dataclass(frozen=True)
class QueueEvaluations:
    """A training job that succeeded: submit one evaluation per ``evaluate_on`` world."""


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
    Transition
    | Emit
    | StartAttempt
    | StopTrainer
    | EndAttempt
    | ClearStaleLock
    | RecordResults
    | QueueEvaluations
    | ReleaseLease
    | Reboot
    | Shutdown
)
