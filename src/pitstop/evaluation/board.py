"""The leaderboard and the model registry, kept in S3 (no database).

Each evaluation with a complete lap leaves one empty object,
``leaderboard/WORLD/LAP_MS-RESETS-ENDED_MS-JOB_ID``: its name is its rank (best lap, then
fewer resets, then earlier), so one listing per 1,000 entries is the board. The registry
(``pitstop models``) is the training jobs that left a model, with their checkpoints and
each world's best lap from the board.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pitstop.core.states import JobState
from pitstop.errors import NotFound, StoreError
from pitstop.evaluation.jobs import read_results
from pitstop.store.checkpoints import select_checkpoint
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, LeaderboardKey


@dataclass(frozen=True)
class Entry:
    rank: int
    world: str
    lap_ms: int
    resets: int
    ended_ms: int
    job_id: str  # the evaluation
    model: str = ""  # the training job, or the model prefix
    checkpoint: str = ""
    speed_scale: float = 1.0
    laps_ms: list[int | None] = field(default_factory=list)  # every lap (None: not complete)
    median_ms: float | None = None
    completion_rate: float | None = None


def entries(jobs: JobStore, world: str) -> list[LeaderboardKey]:
    """The board's keys for ``world``, best first (one listing per 1,000)."""
    layout: Layout = jobs.layout
    out = []
    for item in jobs.store.list(layout.leaderboard(world)):
        parsed = layout.parse_leaderboard_key(item.key)
        if parsed is not None:
            out.append(parsed)
    return sorted(out, key=lambda k: (k.lap_ms, k.resets, k.ended_ms, k.job_id))


def leaderboard(
    jobs: JobStore, world: str, *, top: int = 20, per_model: bool = True
) -> list[Entry]:
    """Ranked entries; with ``per_model`` only each model's best run counts (a model
    evaluated ten times is one line, as on a race's board)."""
    out: list[Entry] = []
    seen: set[tuple[str, str, float]] = set()
    for key in entries(jobs, world):
        model, checkpoint, scale = key.job_id, "", 1.0
        laps: list[int | None] = []
        median, rate = None, None
        try:
            res = read_results(jobs, key.job_id)
            model = res.model_job or res.model_prefix
            checkpoint, scale = res.checkpoint, res.speed_scale
            laps = [lap.time_ms if lap.complete else None for lap in res.laps]
            median, rate = res.summary.median_ms, res.summary.completion_rate
        except (StoreError, NotFound):
            pass  # an entry whose results went missing still ranks, under its job id
        if per_model and (model, checkpoint, scale) in seen:
            continue
        seen.add((model, checkpoint, scale))
        out.append(
            Entry(
                len(out) + 1,
                world,
                key.lap_ms,
                key.resets,
                key.ended_ms,
                key.job_id,
                model,
                checkpoint,
                scale,
                laps,
                median,
                rate,
            )
        )
        if len(out) >= top:
            break
    return out


@dataclass
class Model:
    job_id: str
    name: str
    state: str
    model_prefix: str
    best_checkpoint: str | None
    last_checkpoint: str | None
    best_laps: dict[str, int] = field(default_factory=dict)  # world -> best lap ms


def worlds(jobs: JobStore) -> list[str]:
    """Worlds with a board."""
    listed = (
        jobs.layout.parse_leaderboard_dir(p) for p in jobs.store.list_dirs(jobs.layout.leaderboards)
    )
    return [world for world in listed if world is not None]


def models(jobs: JobStore) -> list[Model]:
    """Training jobs that left a model (any checkpoint), with each world's best lap."""
    best: dict[str, dict[str, int]] = {}
    for world in worlds(jobs):
        for entry in leaderboard(jobs, world, top=10_000):
            if entry.model:
                best.setdefault(entry.model, {}).setdefault(world, entry.lap_ms)
    out: list[Model] = []
    ids, _ = jobs.scan()
    for job_id in ids:
        try:
            spec = jobs.spec(job_id)
            status, _ = jobs.status(job_id)
        except StoreError:
            continue
        if spec.kind != "training" or not status.attempts:
            continue
        prefix = status.attempts[-1].model_prefix
        found: dict[str, str | None] = {}
        for which in ("best", "last"):
            try:
                found[which] = select_checkpoint(jobs.store, prefix, which)
            except (NotFound, StoreError):
                found[which] = None
        if found["last"] is None and status.state is not JobState.SUCCEEDED:
            continue
        out.append(
            Model(
                job_id,
                spec.name,
                status.state.value,
                prefix,
                found["best"],
                found["last"],
                best.get(job_id, {}),
            )
        )
    return out


def boards_with_laps(jobs: JobStore, top: int = 20) -> list[dict[str, Any]]:
    """Every world's board (one listing per world, one ``results.json`` per line shown),
    each line with its evaluation's laps: what the dashboard and the report show."""
    return [
        {"world": world, "entries": [asdict(e) for e in leaderboard(jobs, world, top=top)]}
        for world in worlds(jobs)
    ]
