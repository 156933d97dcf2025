"""Progress from S3: the rows of ``pitstop status`` and the data of ``pitstop report``.

Cost is instance hours x a spot price the caller gives (pitstop does not query prices):
an attempt's hours run from ``started_at`` to ``ended_at`` (or the S3 server's now while it
runs). Training curves come from every attempt's ``metrics/TrainingMetrics.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pitstop.core.records import Attempt
from pitstop.core.times import parse_or_none
from pitstop.errors import InvalidJob, StoreError
from pitstop.store import parse
from pitstop.store.jobs import JobStore
from pitstop.store.layout import ModelKeys

# attempt outcomes that mark the curve: how the attempt before a boundary ended
PREEMPTIONS = frozenset({"preempted", "interrupted", "lease_lost"})
RESTARTS = frozenset({"crashed", "stalled", "stop_failed"})


def _t(s: str | None) -> datetime | None:
    return parse_or_none(s)


def attempt_hours(a: Attempt, now: datetime) -> float:
    start = _t(a.started_at)
    if start is None:
        return 0.0
    end = _t(a.ended_at) or now
    return max(0.0, (end - start).total_seconds() / 3600.0)


@dataclass
class Curve:
    attempt: int
    outcome: str | None
    episodes: list[int] = field(default_factory=list)  # x: episode across all attempts
    reward: list[float] = field(default_factory=list)
    completion: list[float] = field(default_factory=list)
    eval_episodes: list[int] = field(default_factory=list)
    eval_completion: list[float] = field(default_factory=list)


def training_metrics(jobs: JobStore, prefix: str) -> list[dict[str, Any]]:
    key = ModelKeys(prefix).metrics
    try:  # simapp may write NaN: such a value is None, the rest of the file still counts
        doc = parse.json_object(jobs.store.get(key).body, key, non_finite="null")
    except StoreError:  # CorruptObject included: no curve from it
        return []
    metrics = doc.get("metrics")
    return [m for m in metrics if isinstance(m, dict)] if isinstance(metrics, list) else []


def curves(jobs: JobStore, attempts: list[Attempt]) -> list[Curve]:
    """One curve per attempt, laid end to end on one episode axis."""
    out: list[Curve] = []
    offset = 0
    for a in attempts:
        c = Curve(a.n, a.outcome)
        for i, m in enumerate(training_metrics(jobs, a.model_prefix)):
            x = offset + i
            try:
                completion = float(m.get("completion_percentage", 0) or 0)
                reward = float(m.get("reward_score", 0) or 0)
            except (TypeError, ValueError):
                continue
            if m.get("phase") == "evaluation":
                c.eval_episodes.append(x)
                c.eval_completion.append(completion)
            else:
                c.episodes.append(x)
                c.reward.append(reward)
                c.completion.append(completion)
        offset += len(c.episodes) + len(c.eval_episodes)
        out.append(c)
    return out


@dataclass
class JobProgress:
    doc: dict[str, Any]  # `pitstop job --json`
    hours: float
    cost: float | None
    preemptions: int
    curves: list[Curve] = field(default_factory=list)

    @property
    def progress(self) -> str:
        last = next(
            (
                a["last_checkpoint"]
                for a in reversed(self.doc["attempts"])
                if a.get("last_checkpoint")
            ),
            None,
        )
        max_hours = self.doc["spec"].get("max_hours")
        trained = self.doc["training_s"] / 3600.0
        parts = []
        if last:
            parts.append(f"ckpt {last.split('_', 1)[0]}")
        if max_hours:
            parts.append(f"{min(100.0, 100.0 * trained / max_hours):.0f}% of {max_hours:g} h")
        return ", ".join(parts) or "-"

    def row(self) -> dict[str, Any]:
        return {
            "id": self.doc["id"],
            "name": self.doc["name"],
            "state": self.doc["state"],
            "attempts": len(self.doc["attempts"]),
            "restarts": self.doc["restarts"],
            "preemptions": self.preemptions,
            "instance_id": self.doc["instance_id"],
            "progress": self.progress,
            "instance_hours": round(self.hours, 3),
            "cost": None if self.cost is None else round(self.cost, 2),
        }


def job_progress(
    jobs: JobStore, job_id: str, now: datetime, spot_price: float | None, with_curves: bool = False
) -> JobProgress:
    from pitstop.store.jobs import job_document

    doc = job_document(jobs, job_id)
    status, _ = jobs.status(job_id)
    hours = sum(attempt_hours(a, now) for a in status.attempts)
    preemptions = sum(1 for a in status.attempts if a.outcome in PREEMPTIONS)
    return JobProgress(
        doc=doc,
        hours=hours,
        cost=None if spot_price is None else hours * spot_price,
        preemptions=preemptions,
        curves=curves(jobs, status.attempts) if with_curves else [],
    )


def all_progress(
    jobs: JobStore, spot_price: float | None, with_curves: bool = False
) -> list[JobProgress]:
    now = jobs.store.server_time()
    out = []
    for job_id in jobs.job_ids():
        try:
            out.append(job_progress(jobs, job_id, now, spot_price, with_curves))
        except InvalidJob:
            continue  # not a runnable job; ``pitstop jobs`` lists it with the reason
    out.sort(key=lambda p: str(p.doc["spec"].get("submitted_at", "")))
    return out
