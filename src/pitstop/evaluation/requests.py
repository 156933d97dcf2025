"""What ``pitstop evaluate`` and ``pitstop tune`` ask for: the options' rules, the
evaluation they describe, and the jobs ``evaluate`` queues (one run per call)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from pitstop.core.records import Evaluation
from pitstop.core.times import iso, utcnow
from pitstop.errors import InvalidInput
from pitstop.evaluation.jobs import (
    check_checkpoint,
    evaluation_spec,
    resolve_model,
    submit_evaluation,
)
from pitstop.store.jobs import JobStore


@dataclass(frozen=True)
class Request:
    """The options every evaluation shares (``pitstop evaluate`` and ``pitstop tune``)."""

    model: str
    checkpoint: str = "last"
    laps: int = 3
    continuous: bool = False
    max_resets: int = 100
    off_track_penalty: float = 5.0
    reverse: bool = False
    simulation: str | None = None  # JSON: the simulated trainer's pace (tests, demo)


def evaluation_for(jobs: JobStore, req: Request) -> tuple[Evaluation, dict[str, Any] | None]:
    """The evaluation ``req`` describes and its simulation settings; bad input is exit 2,
    as is a model without the checkpoint asked for."""
    if req.laps < 1 or req.max_resets < 0 or req.off_track_penalty < 0:
        raise InvalidInput("--laps must be at least 1, --max-resets and --off-track-penalty >= 0")
    sim = None
    if req.simulation:
        try:
            sim = json.loads(req.simulation)
        except ValueError as e:
            raise InvalidInput(f"--simulation: not JSON ({e})") from None
    prefix, model_job = resolve_model(jobs, req.model)
    try:
        ev = Evaluation(
            model_prefix=prefix,
            model_job=model_job,
            checkpoint=req.checkpoint,
            laps=req.laps,
            continuous=req.continuous,
            max_resets=req.max_resets,
            off_track_penalty_s=req.off_track_penalty,
            reverse=req.reverse,
        )
    except ValueError as e:
        first = str(e).splitlines()
        raise InvalidInput(f"evaluation: {' '.join(first[1:3]) if len(first) > 1 else e}") from None
    check_checkpoint(jobs, ev)  # one line and exit 2 when the model has no such checkpoint
    return ev, sim


def check_queue_options(repeat: int, speed_scale: float) -> None:
    if repeat < 1 or not (0 < speed_scale <= 3):
        raise InvalidInput("--repeat must be at least 1 and --speed-scale in (0, 3]")


def queue_evaluations(
    jobs: JobStore,
    req: Request,
    world: str,
    *,
    speed_scale: float = 1.0,
    repeat: int = 1,
    name: str | None = None,
) -> list[dict[str, Any]]:
    """Queue ``repeat`` evaluations of ``req`` on ``world``: ``{"id", "created"}`` each."""
    check_queue_options(repeat, speed_scale)
    ev, sim = evaluation_for(jobs, req)
    ev = ev.model_copy(update={"speed_scale": speed_scale})
    stamp = (iso(utcnow()) or "").replace(":", "").replace("-", "")[:15]
    name = name or f"eval-{ev.model_job or 'model'}-{world}-{stamp}"
    run = f"{stamp}-{uuid.uuid4().hex[:8]}"
    made = []
    for i in range(repeat):
        spec = evaluation_spec(
            name if repeat == 1 else f"{name}-{i + 1}",
            world,
            ev,
            simulation=sim,
            run=f"{run}-{i + 1}",  # every `pitstop evaluate` is a new run
        )
        made.append({"id": spec.id, "created": submit_evaluation(jobs, spec)})
    return made
