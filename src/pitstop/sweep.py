"""Sweeps: a grid or random search over reward parameters, hyperparameters and action-space
speed scales, run as pitstop jobs through ``pitstop.client``.

A sweep file (YAML) names a reward template whose ``{{ name }}`` placeholders take each
point's values, the parameter grid (or ranges to sample), optional hyperparameter values
and speed scales, and the job fields every job shares. Each point becomes one job; its
metrics are read from the trained model's ``metrics/TrainingMetrics.json`` when the job
ends: the mean ``reward_score`` and completion % of the last training episodes and the best
complete evaluation lap. Results: one row per point (CSV and JSON) and a PNG against each
swept parameter (the evaluation lap; else the mean reward when every point shares one
reward function; else the completion %).
"""

from __future__ import annotations

import csv
import itertools
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pitstop.errors import (
    CorruptObject,
    InvalidInput,
    JobFailed,
    MissingExtra,
    NotFound,
    StoreError,
    validation_message,
)
from pitstop.evaluation.laps import LAP_COMPLETE
from pitstop.extras import require
from pitstop.store import parse
from pitstop.store.layout import ModelKeys

PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")
LAST_EPISODES = 10


class RandomSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    samples: int = Field(ge=1, le=10000)
    seed: int = 0
    ranges: dict[str, tuple[float, float]]


class SweepFile(BaseModel):
    """The sweep file's fields; paths are relative to the file."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("sweep", pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")
    reward_template: str
    parameters: dict[str, list[Any]] = Field(default_factory=dict)
    random: RandomSearch | None = None
    hyperparameters: dict[str, list[Any]] = Field(default_factory=dict)
    speed_scale: list[float] = Field(default_factory=list)
    metadata: str | None = None
    job: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_search(self) -> SweepFile:
        if self.parameters and self.random:
            raise ValueError("give either 'parameters' (a grid) or 'random', not both")
        for k, v in self.parameters.items():
            if not v:
                raise ValueError(f"parameters.{k}: needs at least one value")
        if any(s <= 0 for s in self.speed_scale):
            raise ValueError("speed_scale: every scale must be > 0")
        return self


@dataclass
class Sweep:
    file: Path
    spec: SweepFile
    template: str
    metadata: dict[str, Any] | None
    points: list[dict[str, Any]] = field(default_factory=list)


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; one-line ``InvalidInput`` naming the file otherwise."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except OSError as e:
        raise InvalidInput(f"{p}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise InvalidInput(f"{p}: not valid YAML: {str(e).splitlines()[0]}") from None
    try:
        spec = SweepFile.model_validate(doc if doc is not None else {})
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "sweep"
        raise InvalidInput(f"{p}: {loc}: {validation_message(err)}") from None
    template_path = p.parent / spec.reward_template
    try:
        template = template_path.read_text()
    except OSError as e:
        raise InvalidInput(f"{p}: reward_template {template_path}: {e.strerror}") from None
    names = set(spec.parameters) | (set(spec.random.ranges) if spec.random else set())
    used = set(PLACEHOLDER.findall(template))
    if used - names:
        raise InvalidInput(
            f"{template_path}: placeholder {sorted(used - names)[0]!r} has no values in {p}"
        )
    metadata = None
    if spec.metadata:
        metadata = _read_json(p.parent / spec.metadata, p)
    sweep = Sweep(p, spec, template, metadata)
    sweep.points = expand(spec)
    return sweep


def _read_json(path: Path, sweep_file: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InvalidInput(f"{sweep_file}: {path}: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{sweep_file}: {path}: must be a JSON object")
    return doc


def expand(spec: SweepFile) -> list[dict[str, Any]]:
    """Every point of the search: reward parameters x hyperparameters x speed scales."""
    if spec.random is not None:
        rng = random.Random(spec.random.seed)
        reward = [
            {k: round(rng.uniform(lo, hi), 6) for k, (lo, hi) in spec.random.ranges.items()}
            for _ in range(spec.random.samples)
        ]
    else:
        keys = list(spec.parameters)
        reward = [
            dict(zip(keys, vals, strict=True))
            for vals in itertools.product(*spec.parameters.values())
        ]
    hkeys = list(spec.hyperparameters)
    hyper = [
        {f"hp.{k}": v for k, v in zip(hkeys, vals, strict=True)}
        for vals in itertools.product(*spec.hyperparameters.values())
    ]
    scales = [{"speed_scale": s} for s in spec.speed_scale] or [{}]
    return [{**r, **h, **s} for r, h, s in itertools.product(reward, hyper, scales)]


def render(template: str, point: dict[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: repr(point[m.group(1)]), template)


def job_spec(sweep: Sweep, n: int, point: dict[str, Any]) -> dict[str, Any]:
    """The client spec (job.json fields + files) of point ``n``."""
    from pitstop import action_space
    from pitstop.action_space.edit import scale_speeds
    from pitstop.action_space.models import ModelMetadata

    spec: dict[str, Any] = {
        **sweep.spec.job,
        "name": f"{sweep.spec.name}-{n:03d}",
        "reward_function": render(sweep.template, point),
    }
    hps = {k[3:]: v for k, v in point.items() if k.startswith("hp.")}
    if hps:
        spec["hyperparameters"] = {**action_space.default_hyperparameters(), **hps}
    if "speed_scale" in point or sweep.metadata is not None:
        base = sweep.metadata or action_space.default_metadata()
        meta = ModelMetadata.model_validate(base)
        if "speed_scale" in point:
            meta, _ = scale_speeds(meta, float(point["speed_scale"]))
        spec["model_metadata"] = json.loads(meta.to_json())
    return spec


def _episodes(store: Any, doc: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The episodes of ``metrics/TrainingMetrics.json`` of the job's last attempt that has
    one; None when the store cannot be read."""
    for attempt in reversed(doc.get("attempts") or []):
        key = ModelKeys(str(attempt.get("model_prefix", ""))).metrics
        try:
            got = parse.json_object(store.get(key).body, key, non_finite="null")
        except (NotFound, CorruptObject):
            continue
        except StoreError:
            return None
        episodes = got.get("metrics")
        rows = [e for e in (episodes if isinstance(episodes, list) else []) if isinstance(e, dict)]
        if rows:
            return rows
    return []


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def mean_reward(episodes: list[dict[str, Any]]) -> float | None:
    """Mean ``reward_score`` of the last training episodes."""
    scores = [
        float(e["reward_score"])
        for e in episodes
        if e.get("phase", "training") == "training" and _number(e.get("reward_score"))
    ][-LAST_EPISODES:]
    return sum(scores) / len(scores) if scores else None


def best_eval_lap_s(episodes: list[dict[str, Any]]) -> float | None:
    """The fastest complete lap (s) of the evaluation episodes; None: none complete."""
    laps = [
        float(e["elapsed_time_in_milliseconds"]) / 1000
        for e in episodes
        if e.get("phase") == "evaluation"
        and e.get("episode_status") == LAP_COMPLETE
        and _number(e.get("elapsed_time_in_milliseconds"))
    ]
    return min(laps) if laps else None


def mean_completion(episodes: list[dict[str, Any]]) -> float | None:
    """Mean ``completion_percentage`` of the last training episodes: unlike the reward, the
    same measure whatever the reward function."""
    done = [
        float(e["completion_percentage"])
        for e in episodes
        if e.get("phase", "training") == "training" and _number(e.get("completion_percentage"))
    ][-LAST_EPISODES:]
    return sum(done) / len(done) if done else None


def metric(store: Any, doc: dict[str, Any]) -> float | None:
    """Mean ``reward_score`` of the last training episodes of the job's last attempt."""
    return mean_reward(_episodes(store, doc) or [])


def measures(store: Any, doc: dict[str, Any]) -> dict[str, float | None]:
    """A finished job's row values: ``metric`` (mean reward of the last training episodes),
    ``completion_pct`` (their mean completion %) and ``eval_lap_s`` (its best complete
    evaluation lap)."""
    episodes = _episodes(store, doc) or []
    return {
        "metric": mean_reward(episodes),
        "completion_pct": mean_completion(episodes),
        "eval_lap_s": best_eval_lap_s(episodes),
    }


def write_results(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """``results.csv``, ``results.json`` and ``metric.png`` in ``out`` (the picture only with
    the ``plot`` extra: the results never wait on it)."""
    out.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with (out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    files = [out / "results.csv", out / "results.json"]
    try:
        plot_metric(rows, out / "metric.png")
    except MissingExtra:
        pass  # the CLI says which extra draws it
    else:
        files.append(out / "metric.png")
    return files


FIXED = frozenset({"n", "job_id", "state", "metric", "completion_pct", "eval_lap_s", "reason"})


def reward_parameters(rows: list[dict[str, Any]]) -> list[str]:
    """The reward template's parameters among the rows' keys (``expand``: not ``hp.*``, not
    ``speed_scale``)."""
    keys = dict.fromkeys(k for r in rows for k in r)
    return [k for k in keys if k not in FIXED and not k.startswith("hp.") and k != "speed_scale"]


def plotted(rows: list[dict[str, Any]]) -> tuple[str | None, str, str]:
    """What metric.png plots: (the row key or None: nothing comparable, the y label, a note
    for the title). An evaluation lap when any job has one; else the mean reward, but only
    when every job trained with the same reward function (rewards of different functions
    are not comparable); else the mean completion % of the last training episodes."""
    if any(r.get("eval_lap_s") is not None for r in rows):
        n = sum(r.get("eval_lap_s") is not None for r in rows)
        return "eval_lap_s", "best evaluation lap (s)\nlower is better", f"{n} with a lap"
    last = f"(last {LAST_EPISODES} training episodes)"
    varied = [k for k in reward_parameters(rows) if len({repr(r.get(k)) for r in rows}) > 1]
    if not varied:
        return "metric", f"mean reward\n{last}", "one reward function, no evaluation lap"
    functions = len({tuple(repr(r.get(k)) for k in varied) for r in rows})
    why = f"{functions} reward functions ({', '.join(varied)} vary), no evaluation lap"
    if any(r.get("completion_pct") is not None for r in rows):
        return "completion_pct", f"mean completion %\n{last}", f"{why}: completion, not reward"
    return None, "", f"{why}: mean rewards are not comparable"


def _spread(xs: list[Any]) -> tuple[list[float], list[float], list[str]]:
    """Plot positions for ``xs``: the values themselves when numeric (else their index, with
    tick labels), points sharing a value spread side by side so that none hides another.
    Returns (positions, tick positions, tick labels)."""
    distinct = list(dict.fromkeys(xs))
    numeric = all(_number(x) for x in distinct)
    if numeric:
        order = sorted(float(x) for x in distinct)
        base = {x: float(x) for x in distinct}
    else:
        order = [float(i) for i in range(len(distinct))]
        base = {x: float(i) for i, x in enumerate(distinct)}
    gaps = [b - a for a, b in itertools.pairwise(order) if b > a]
    width = 0.15 * (min(gaps) if gaps else 1.0)
    seen: dict[Any, int] = {}
    counts = {x: xs.count(x) for x in distinct}
    out = []
    for x in xs:
        k, i = counts[x], seen.get(x, 0)
        seen[x] = i + 1
        out.append(base[x] + (width * (2 * i / (k - 1) - 1) if k > 1 else 0.0))
    if numeric:
        return out, order, [f"{x:g}" for x in order]
    return out, order, [str(x) for x in distinct]


def metric_figure(rows: list[dict[str, Any]]) -> Any:
    """The matplotlib ``Figure`` of metric.png (Agg canvas, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    key, ylabel, note = plotted(rows)
    params = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in FIXED]
    params = [k for k in params if len({repr(r.get(k)) for r in rows}) > 1] or ["n"]
    fig = Figure(figsize=(max(6.0, 4.5 * len(params)), 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(params), squeeze=False)[0]
    for ax, p in zip(axes, params, strict=True):
        ax.set_xlabel(p)
        ax.grid(alpha=0.3)
        if key is None:
            ax.text(0.5, 0.5, "not comparable", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        shown = [r for r in rows if r.get(key) is not None]
        xs, ticks, labels = _spread([r.get(p) for r in shown])
        ax.scatter(
            xs,
            [r[key] for r in shown],
            color="#1f77b4",
            alpha=0.6,
            edgecolors="black",
            linewidths=0.6,
            s=36,
        )
        if len(ticks) <= 12:
            ax.set_xticks(ticks, labels)  # a tick at each value tried; spread points around it
        ax.set_ylabel(ylabel)
    fig.suptitle(f"{len(rows)} jobs: {note}", fontsize=10)
    return fig


def plot_metric(rows: list[dict[str, Any]], path: Path) -> None:
    require("matplotlib", "the sweep's metric.png")
    metric_figure(rows).savefig(path, dpi=100)


def run_sweep(
    sweep: Sweep,
    executor: Any,
    store: Any,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Submit every point through ``executor`` (a ``pitstop.client.Executor``) and collect a
    row per point as its job ends, in point order."""
    from concurrent.futures import as_completed

    futures = {
        executor.submit(job_spec, sweep, n, point): (n, point)
        for n, point in enumerate(sweep.points)
    }
    rows: dict[int, dict[str, Any]] = {}
    for future in as_completed(futures):
        n, point = futures[future]
        row: dict[str, Any] = {"n": n, **point}
        try:
            doc = future.result()
            row.update(job_id=doc["id"], state=doc["state"], **measures(store, doc))
        except JobFailed as e:
            row.update(
                job_id=e.doc["id"],
                state=e.doc["state"],
                metric=None,
                completion_pct=None,
                eval_lap_s=None,
                reason=e.reason,
            )
        except Exception as e:
            row.update(
                job_id=None,
                state="not submitted",
                metric=None,
                completion_pct=None,
                eval_lap_s=None,
                reason=str(e),
            )
        rows[n] = row
        if on_done is not None:
            on_done(row)
    return [rows[n] for n in sorted(rows)]
