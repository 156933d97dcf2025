"""The job's records: its spec (immutable), its status (``state.json``) and its attempts.

Plain pydantic models; reading them from S3 and writing them back is ``store.jobs``'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pitstop.core.ids import JOB_ID_PATTERN
from pitstop.core.states import JobState
from pitstop.core.times import parse_time


class Fault(BaseModel):
    """One injected fault for the simulated trainer (``trainers/simulated_run.py`` says what
    each kind does)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(
        pattern="^(freeze|crash|exception|ignore_sigterm|slow_start|crash_during_upload"
        "|reward_error|gpu_error|silent_worker)$"
    )
    attempt: int | None = Field(None, ge=1, description="only in this attempt (all when unset)")
    after_checkpoint: int = Field(0, ge=0, description="after this many checkpoints of the attempt")
    exit_code: int = Field(1, ge=1, le=255)
    seconds: float = Field(
        0.0, ge=0, description="slow_start: delay before the first trained checkpoint"
    )
    step: int = Field(
        200, ge=1, le=10_000_000, description="reward_error: the iteration's step that raises"
    )
    message: str | None = Field(
        None,
        max_length=500,
        description="reward_error: the exception as Python's last traceback line prints it "
        "(default KeyError: 'closest_objects')",
    )
    line: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="reward_error: reward_function.py's line (default: its first return line)",
    )
    variant: Literal["xid", "cuda_oom"] = Field(
        "xid", description="gpu_error: an NVRM Xid 79 (off the bus) or CUDA out of memory"
    )
    worker: int = Field(
        1, ge=1, le=7, description="silent_worker: the rollout worker (1..) that goes quiet"
    )


class Simulation(BaseModel):
    """The simulated trainer's pace and faults (trainers/simulated.py)."""

    model_config = ConfigDict(extra="forbid")
    checkpoint_interval_s: float = Field(0.5, gt=0, le=3600)
    checkpoints: int = Field(8, ge=1, le=100000, description="total iterations the job trains")
    steps_per_checkpoint: int = Field(1000, ge=1)
    workers: int = Field(
        1, ge=1, le=8, description="rollout workers whose TrainingMetrics files it writes"
    )
    faults: list[Fault] = Field(default_factory=list)


CHECKPOINT_PATTERN = r"^(best|last|[0-9]{1,9}_Step-[0-9]{1,12}\.ckpt)$"
WORLD_PATTERN = r"^[A-Za-z0-9_\-]+$"
# a key prefix in the job's bucket: no leading slash, no odd characters (and no '..')
PREFIX_PATTERN = r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-/]{0,511}$"


class Evaluation(BaseModel):
    """What an evaluation job evaluates and how (DRfC's ``DR_EVAL_*`` keys, REFERENCE.md).

    ``model_prefix`` is resolved at submission (a training job's newest attempt holding a
    complete checkpoint, or a prefix given as such); the supervisor copies the chosen
    checkpoint into the attempt's own prefix and evaluates that copy, so the model evaluated
    is never written to.
    """

    model_config = ConfigDict(extra="forbid")
    model_prefix: str = Field(pattern=PREFIX_PATTERN)
    model_job: str | None = Field(None, pattern=JOB_ID_PATTERN, description="its training job")
    checkpoint: str = Field("last", pattern=CHECKPOINT_PATTERN)
    laps: int = Field(3, ge=1, le=100, description="DR_EVAL_NUMBER_OF_TRIALS")
    continuous: bool = Field(False, description="DR_EVAL_IS_CONTINUOUS")
    max_resets: int = Field(100, ge=0, le=10000, description="DR_EVAL_MAX_RESETS")
    off_track_penalty_s: float = Field(5.0, ge=0, le=60, description="DR_EVAL_OFF_TRACK_PENALTY")
    reverse: bool = Field(False, description="DR_EVAL_REVERSE_DIRECTION")
    speed_scale: float = Field(
        1.0, gt=0, le=3.0, description="every action's speed times this (tuning without retraining)"
    )

    @model_validator(mode="after")
    def _plain_prefix(self) -> Evaluation:
        if ".." in self.model_prefix.split("/") or "//" in self.model_prefix:
            raise ValueError(f"model_prefix {self.model_prefix!r}: not a plain key prefix")
        return self


class Pretrained(BaseModel):
    """A model made elsewhere that a training job starts from (a DRoA export, a console
    model, another job's or another DRfC's model copied into this bucket): its prefix and
    the checkpoint, resolved to a name at submission (so the job's start never moves)."""

    model_config = ConfigDict(extra="forbid")
    model_prefix: str = Field(pattern=PREFIX_PATTERN)
    checkpoint: str = Field("last", pattern=CHECKPOINT_PATTERN)

    @model_validator(mode="after")
    def _plain_prefix(self) -> Pretrained:
        if ".." in self.model_prefix.split("/") or "//" in self.model_prefix:
            raise ValueError(f"model_prefix {self.model_prefix!r}: not a plain key prefix")
        return self


class JobSpec(BaseModel):
    """The immutable spec of a job. User-settable fields come from ``--job FILE`` or job.json."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=JOB_ID_PATTERN)
    name: str
    submitted_at: str
    source: str = "cli"
    world: str = Field("reInvent2019_track", pattern=WORLD_PATTERN)
    max_hours: float | None = Field(None, gt=0, le=24 * 30)
    simulation: Simulation | None = None
    run_script: str | None = Field(
        None, description="key of the job's own run script in the bucket"
    )
    # simapp's single-model race types; HEAD_TO_HEAD races two models and is not training
    race_type: str = Field("TIME_TRIAL", pattern="^(TIME_TRIAL|OBJECT_AVOIDANCE|HEAD_TO_BOT)$")
    workers: int = Field(1, ge=1, le=8)
    kind: Literal["training", "evaluation"] = "training"
    evaluation: Evaluation | None = None  # with kind "evaluation"
    # a training job's first attempt loads this model (later attempts resume their own)
    pretrained: Pretrained | None = None
    # after a spot interruption: back to the queue to resume (default), or end the job
    on_interruption: Literal["resume", "stop"] = "resume"
    # worlds to evaluate the trained model on once training succeeds (one job each)
    evaluate_on: list[Annotated[str, Field(pattern=WORLD_PATTERN)]] = Field(
        default_factory=list, max_length=20
    )
    # due time (ISO 8601 with a zone), or hours after submission (then ``deadline`` is
    # filled in at submission); needs ``max_hours``, the training it must fit (deadlines.py)
    deadline: str | None = None
    deadline_hours: float | None = Field(None, gt=0, le=24 * 90)
    content_sha256: str = ""

    @model_validator(mode="after")
    def _kind_matches(self) -> JobSpec:
        if self.kind == "evaluation" and self.evaluation is None:
            raise ValueError("an evaluation job needs an 'evaluation' block")
        if self.kind == "training" and self.evaluation is not None:
            raise ValueError("'evaluation' is only for kind 'evaluation'")
        if self.kind == "evaluation" and self.evaluate_on:
            raise ValueError("'evaluate_on' is only for training jobs")
        if self.kind == "evaluation" and self.pretrained is not None:
            raise ValueError("'pretrained' is only for training jobs")
        return self

    @field_validator("deadline")
    @classmethod
    def _deadline_iso(cls, v: str | None) -> str | None:
        if v is not None:
            parse_time(v)
        return v

    def deadline_at(self) -> datetime | None:
        """The due time, or None for a job without a deadline."""
        if self.deadline is not None:
            return parse_time(self.deadline)
        if self.deadline_hours is not None:
            return parse_time(self.submitted_at) + timedelta(hours=self.deadline_hours)
        return None


# fields a trainer may set in job.json / ``--job FILE`` (an evaluation's model is never named
# from the inbox: ``pitstop evaluate`` and the client make evaluation jobs)
USER_FIELDS = frozenset(
    {
        "world",
        "max_hours",
        "simulation",
        "run_script",
        "race_type",
        "workers",
        "name",
        "evaluate_on",
        "deadline",
        "deadline_hours",
        "pretrained",
        "on_interruption",
    }
)


class Attempt(BaseModel):
    model_config = ConfigDict(extra="ignore")
    n: int
    instance_id: str | None = None
    model_prefix: str
    pretrained_prefix: str | None = None
    pretrained_checkpoint: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    outcome: str | None = None  # running | succeeded | crashed | stalled | preempted | ...
    last_checkpoint: str | None = None
    training_s: float = 0.0
    # a failed attempt's class (user_error | infrastructure | unknown) and why, in one line
    failure: str | None = None
    failure_reason: str | None = None
    signature: str | None = None  # a known failure or hang: reward_error, gpu_xid, ...
    # what the deadline rule's cost cap bills it by (core/spend.py): the instance's market
    # (spot | on-demand) and when it booted (AWS's first-hour refund); None in older states
    market: str | None = None
    launched_at: str | None = None
    ec2_notice: bool = False  # a spot interruption notice ended it (EC2's doing, not ours)


class JobStatus(BaseModel):
    """``state.json``: what S3 says about a job right now."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=JOB_ID_PATTERN)
    state: JobState = JobState.PENDING
    reason: str | None = None
    instance_id: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    restarts: int = 0
    reboots: int = 0
    infra_restarts: int = 0  # restarts after infrastructure failures (not in ``restarts``)
    cancel_requested: bool = False
    lease_epoch: int = 0  # the epoch of the lease its last owner held (fencing token)
    created_at: str | None = None
    updated_at: str | None = None
    # one more per write of state.json: the listing (index/jobs/) keeps the newest entry
    revision: int = 0
    name: str | None = None  # the spec's name, for the listing (None in older states)
    # the spec's deadline and training hours, for the listing's slack (None: none, or older)
    deadline: str | None = None
    max_hours: float | None = None
    # the listing key (index/jobs/) written for this job's newest listed state: a claim
    # writes none (the start follows at once), so the write after it knows what to delete
    listing_key: str | None = None

    @property
    def training_s(self) -> float:
        return sum(a.training_s for a in self.attempts)
