"""What the supervisor's parts share: its ports (store, trainer, clock, commands) and the held job.

The loop (``daemon.py``), the claimer, the executor and the shipper each own one job and
reach the outside world only through this context, so tests pass fakes in, never patch.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import structlog

from pitstop import deadlines
from pitstop.config import Settings
from pitstop.core import actions as act
from pitstop.core import lifecycle as lc
from pitstop.core.failures import Leftovers
from pitstop.core.hangs import EvaluationTail, WorkerMark
from pitstop.core.records import JobSpec
from pitstop.core.verdicts import Evidence
from pitstop.evaluation.progress import EvalProgress
from pitstop.store import spend
from pitstop.store.checkpoints import Progress
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.leases import Lease, Leases
from pitstop.store.objects import ObjectStore
from pitstop.supervisor.cache import LocalCache
from pitstop.supervisor.host import instance_uptime, kernel_messages
from pitstop.trainers.base import Trainer

log = structlog.get_logger("pitstop.supervisor")


class Clock(Protocol):
    """Monotonic seconds for durations, wall time (UTC) for the records."""

    def monotonic(self) -> float: ...
    def wall(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(timezone.utc)


CommandRunner = Callable[[list[str]], int]


def run_command(argv: list[str]) -> int:
    """Run a power command; its exit status (127: it could not be started)."""
    try:
        return subprocess.run(argv, check=False, timeout=60).returncode
    except (OSError, subprocess.SubprocessError):
        return 127


REFUND_MARGIN_S = spend.LAUNCH_MARGIN_S  # the refund window runs from the launch, before boot


def policy_for(settings: Settings, spec: JobSpec, refund_until: float | None = None) -> lc.Policy:
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
        max_infra_restarts=settings.max_infra_restarts,
        hang_evaluation_lengths=settings.hang_evaluation_lengths,
        refund_until=refund_until,
    )


@dataclass
class Pending:
    """An action not yet carried out; ``token`` makes its S3 write the same on every retry."""

    action: act.Action
    token: str
    at: datetime  # when it was decided (an event's time, the same on every retry)


@dataclass
class Current:
    """The job this instance holds."""

    job_id: str
    spec: JobSpec
    lease: Lease
    run: lc.Run
    policy: lc.Policy
    pending: list[Pending] = field(default_factory=list)  # actions still to carry out, in order
    progress: Progress | None = None  # the last heartbeat read (its .coach_checkpoint ETag)
    cancel_requested: bool = False  # as of the last read of state.json (every heartbeat)
    fenced: bool = False  # the lease is lost: no more writes, no more side effects
    renewed_at: float | None = None  # monotonic time of the last successful lease write
    took_over: str | None = None  # the claim closed a silent instance's attempt: why
    claimed: list[act.Action] = field(default_factory=list)  # the claim's events, to record
    pretrained: str | None = None  # the checkpoint the running attempt loaded, if any
    evidence: tuple[int, Evidence] | None = None  # (attempt, read when .finished was seen)
    eval_progress: EvalProgress | None = None  # an evaluation's last metrics read
    refused: str | None = None  # the attempt could not start for good (bad input): why
    start_error: str | None = None  # the trainer of the attempt could not be launched: why
    metrics_tail: tuple[str, EvaluationTail] | None = None  # (ETag, its evaluation tail)
    worker_marks: tuple[int, tuple[WorkerMark, ...]] = (0, ())  # (attempt, the other workers')
    leftovers: tuple[int, Leftovers] | None = None  # (attempt, what it left once down)


@dataclass
class Context:
    settings: Settings
    store: ObjectStore
    trainer: Trainer
    instance_id: str
    clock: Clock
    commands: CommandRunner
    notifier: Callable[[str, dict[str, Any]], None] | None
    state_dir: Path
    # the instance's own messages since a wall-clock epoch (the kernel log: GPU Xid, OOM)
    host_messages: Callable[[float], str] = kernel_messages
    # seconds since the instance booted (None: unknown): its age, for AWS's first-hour rule
    uptime: Callable[[], float | None] = instance_uptime
    booted_at: float | None = field(init=False, default=None)  # on the monotonic clock
    booted_wall: datetime | None = field(init=False, default=None)
    layout: Layout = field(init=False)
    jobs: JobStore = field(init=False)
    leases: Leases = field(init=False)
    cache: LocalCache = field(init=False)

    def __post_init__(self) -> None:
        self.layout = Layout(self.settings.prefix)
        self.jobs = JobStore(self.store, self.layout)
        self.leases = Leases(self.store, self.layout, self.instance_id, self.settings.lease_ttl_s)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.cache = LocalCache(self.state_dir / "current.json")
        up = self.uptime()
        if up is not None:
            self.booted_at = self.clock.monotonic() - up
            self.booted_wall = self.clock.wall() - timedelta(seconds=up)

    @property
    def market(self) -> str | None:
        """spot or on-demand (``market``, resolved from IMDS at start); None: not known."""
        return self.settings.market if self.settings.market != "auto" else None

    @property
    def refund_until(self) -> float | None:
        """On a spot instance, the end of its first hour less a margin (monotonic): a notice
        before then is left to EC2 (``lifecycle.leave_to_ec2``). None: power off as set."""
        if self.market != "spot" or self.booted_at is None:
            return None
        if self.settings.shutdown_on_notice_first_hour:
            return None
        return self.booted_at + deadlines.REFUND_S - REFUND_MARGIN_S

    def spot_age(self) -> float:
        """How long this instance has run (0 when unknown: a fresh one)."""
        return 0.0 if self.booted_at is None else max(0.0, self.clock.monotonic() - self.booted_at)

    def log_event(self, event: str, job_id: str | None = None, **fields: Any) -> None:
        log.info(event, **{"job_id": job_id, "instance_id": self.instance_id, **fields})
