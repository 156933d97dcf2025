"""simapp's evaluation metrics as laps and a summary (pure; REFERENCE.md "Evaluation").

``metrics/evaluation/evaluation-EPOCH.json`` is rewritten after every lap:
``{"metrics": [{"trial", "completion_percentage", "elapsed_time_in_milliseconds",
"episode_status", "crash_count", "immobilized_count", "off_track_count", "reversed_count",
"reset_count", ...}]}``. A lap counts as complete when its status is ``Lap complete``.
"""

from __future__ import annotations

import statistics
from typing import Any

from pydantic import BaseModel, Field

from pitstop.errors import CorruptObject
from pitstop.evaluation.laps import LAP_COMPLETE, Lap
from pitstop.store import parse


class LapRow(BaseModel):
    trial: int
    time_ms: int
    status: str
    resets: int = 0
    off_tracks: int = 0
    completion: float = 0.0

    @property
    def complete(self) -> bool:
        return self.status == LAP_COMPLETE


class Summary(BaseModel):
    laps: int
    complete: int
    completion_rate: float  # complete laps / laps
    best_ms: int | None  # the best complete lap
    mean_ms: float | None  # over complete laps
    median_ms: float | None
    resets: int  # over every lap
    off_tracks: int


class Results(BaseModel):
    """``jobs/ID/results.json``: what an evaluation job measured."""

    job_id: str
    world: str
    model_prefix: str
    model_job: str | None = None
    checkpoint: str  # the checkpoint evaluated (a name, best/last resolved)
    speed_scale: float = 1.0
    ended_at: str | None = None
    laps: list[LapRow] = Field(default_factory=list)
    summary: Summary

    def ranking(self) -> tuple[int, int] | None:
        """(best complete lap ms, resets of that lap); None without a complete lap."""
        done = [r for r in self.laps if r.complete]
        if not done:
            return None
        best = min(done, key=lambda r: (r.time_ms, r.resets))
        return best.time_ms, best.resets


def metrics_doc(laps: list[Lap], started_ms: int) -> dict[str, Any]:
    """The evaluation metrics file simapp writes after those laps (the simulated trainer)."""
    rows, t = [], started_ms
    for lap in laps:
        rows.append(
            {
                "trial": lap.trial,
                "completion_percentage": int(lap.completion),  # simapp's EvalMetrics: int
                "elapsed_time_in_milliseconds": lap.time_ms,
                "episode_status": lap.status,
                "crash_count": 0,
                "immobilized_count": 0,
                "off_track_count": lap.off_tracks,
                "reversed_count": 0,
                "reset_count": lap.resets,
                "start_time": t,
                "metric_time": t + lap.time_ms,
            }
        )
        t += lap.time_ms
    return {"metrics": rows}


def parse_metrics(body: bytes, source: str) -> list[LapRow]:
    """The laps of one metrics file; ``CorruptObject`` naming ``source`` when it is not one
    (not JSON, not simapp's shape, or a value no lap can have: NaN, infinity, negative)."""
    doc = parse.json_object(body, source)
    rows = []
    for r in parse.json_list(doc, "metrics", source):
        if not isinstance(r, dict):
            raise CorruptObject(f"{source}: a metrics row is not an object", key=source)
        rows.append(
            LapRow(
                trial=parse.integer(r, "trial", source),
                time_ms=parse.integer(r, "elapsed_time_in_milliseconds", source),
                status=parse.text(r, "episode_status", source, default=""),
                resets=parse.integer(r, "reset_count", source, default=0),
                off_tracks=parse.integer(r, "off_track_count", source, default=0),
                completion=parse.number(
                    r, "completion_percentage", source, default=0.0, lo=0.0, hi=100.0
                ),
            )
        )
    return rows


def summarise(laps: list[LapRow]) -> Summary:
    done = sorted(r.time_ms for r in laps if r.complete)
    return Summary(
        laps=len(laps),
        complete=len(done),
        completion_rate=round(len(done) / len(laps), 4) if laps else 0.0,
        best_ms=done[0] if done else None,
        mean_ms=round(statistics.fmean(done), 1) if done else None,
        median_ms=float(statistics.median(done)) if done else None,
        resets=sum(r.resets for r in laps),
        off_tracks=sum(r.off_tracks for r in laps),
    )
