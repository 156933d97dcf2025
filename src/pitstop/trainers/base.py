"""The trainer port: what the supervisor needs from any training backend.

Any number of supervisors may share a host (two ``pitstop demo`` runs, the test suite beside
a demo): they can hold the same job id and instance id, so neither names a trainer alone.
What is unique to a supervisor is its state directory; ``supervisor_token`` derives a token
from it that backends put into their trainers' environment (``PITSTOP_SUPERVISOR_TOKEN``)
and match when they look for leftovers, so a supervisor only ever stops its own trainers,
and finds them again after a restart (same state directory, same token).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pitstop.core.failures import Leftovers
from pitstop.core.hangs import Container
from pitstop.core.records import JobSpec
from pitstop.core.states import TrainerStatus


@dataclass(frozen=True)
class AttemptPlan:
    """Everything a backend needs to launch one attempt."""

    job_id: str
    attempt: int
    spec: JobSpec
    model_prefix: str
    pretrained_prefix: str | None
    pretrained_checkpoint: str | None
    bucket: str
    region: str
    endpoint_url: str | None
    custom_files_prefix: str  # key prefix holding reward_function.py etc.
    work_dir: Path  # local scratch for this attempt (logs, rendered files)
    instance_id: str = ""  # the supervisor's instance: its trainers can be found again

    def env(self) -> dict[str, str]:
        """The attempt described in environment variables (run scripts, simulated trainer)."""
        env = {
            "PITSTOP_JOB_ID": self.job_id,
            "PITSTOP_ATTEMPT": str(self.attempt),
            "PITSTOP_BUCKET": self.bucket,
            "PITSTOP_REGION": self.region,
            "PITSTOP_MODEL_PREFIX": self.model_prefix,
            "PITSTOP_PRETRAINED_PREFIX": self.pretrained_prefix or "",
            "PITSTOP_PRETRAINED_CHECKPOINT": self.pretrained_checkpoint or "",
            "PITSTOP_CUSTOM_FILES_PREFIX": self.custom_files_prefix,
            "PITSTOP_WORLD": self.spec.world,
            "PITSTOP_INSTANCE_ID": self.instance_id,
        }
        if self.endpoint_url:
            env["PITSTOP_S3_ENDPOINT_URL"] = self.endpoint_url
        if self.spec.evaluation is not None:
            env["PITSTOP_KIND"] = "evaluation"
            env["PITSTOP_EVALUATION"] = self.spec.evaluation.model_dump_json()
        if self.spec.simulation is not None:  # for the simulated trainer, or a stand-in stack
            env["PITSTOP_SIMULATION"] = self.spec.simulation.model_dump_json()
        return env

    @property
    def log_path(self) -> Path:
        return self.work_dir / f"attempt-{self.attempt}.log"


TOKEN_VARIABLE = "PITSTOP_SUPERVISOR_TOKEN"


def supervisor_token(state_dir: Path) -> str:
    """A token unique to the supervisor whose state lives in ``state_dir``, stable across its
    restarts: a hash of the directory's absolute, resolved path."""
    path = str(Path(state_dir).expanduser().resolve())
    return hashlib.sha256(path.encode()).hexdigest()[:16]


class Trainer(Protocol):
    def start(self, plan: AttemptPlan) -> dict[str, Any]:
        """Launch the attempt; return a handle (JSON-able) to adopt it after a restart."""

    def adopt(self, handle: dict[str, Any]) -> bool:
        """Take over a still-running attempt from a handle; False if it is gone."""

    def status(self) -> tuple[TrainerStatus, int | None]:
        """RUNNING, EXITED (with exit code if known) or ABSENT."""

    def stop(self, timeout_s: float) -> bool:
        """Stop cleanly (SIGTERM, wait, SIGKILL); False when it could not be stopped."""

    def stop_strays(self, job_id: str, instance_id: str) -> int:
        """Stop every trainer of ``job_id`` started by this supervisor (``instance_id``, and
        its state directory's token) but the one adopted.

        A supervisor killed between starting a trainer and saving its handle cannot adopt
        it; this finds it anyway, so a job never has two trainers. Another supervisor's
        trainers on the same host are never touched, even with the same job and instance
        ids. Returns how many.
        """

    def log_files(self) -> list[Path]:
        """Local log files of the current attempt, to copy into the job's logs."""

    def containers(self) -> tuple[Container, ...]:
        """The attempt's containers as docker reports them now (none for a process backend):
        what names a hang while the trainer runs. Empty when docker does not answer."""

    def leftovers(self) -> Leftovers:
        """What the attempt left once its trainer is down (exit code, the tail of its logs,
        its containers): the evidence ``core/failures.classify`` reads. Never raises."""


LOG_TAIL_BYTES = 64 * 1024  # of each log: simapp's fatal lines come last


def tail(path: Path, size: int = LOG_TAIL_BYTES) -> str:
    """The last ``size`` bytes of a log file as text ("" when it cannot be read)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
