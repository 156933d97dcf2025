"""What ``pitstop tune`` leaves in its output folder: each candidate's model_metadata.json
and results, tune.json (every candidate and the winner) and tune.png (best lap per scale, the
rejected candidates crossed out).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitstop.core.records import Evaluation
from pitstop.errors import InvalidInput
from pitstop.evaluation import tune as tn
from pitstop.evaluation.requests import Request, evaluation_for
from pitstop.evaluation.staging import scaled_metadata
from pitstop.evaluation.tune import Candidate
from pitstop.store.jobs import JobStore
from pitstop.store.objects import ObjectStore
from pitstop.tables import seconds

HEADERS = ["scale", "best lap s", "off-track/lap", "winner"]


def tune_policy(**values: Any) -> tn.TunePolicy:
    """The search's policy from the command's values; an impossible one is bad input."""
    try:
        return tn.TunePolicy(**values)
    except ValueError as e:
        raise InvalidInput(f"tune: {e}") from None


@dataclass
class Tuned:
    """A finished search: the document (tune.json), the files written, the table and the
    verdict (the winner's line; None: no candidate completed a lap within the limit)."""

    doc: dict[str, Any]
    files: list[Path]
    rows: list[list[object]]
    verdict: str | None


def tune_to_files(
    jobs: JobStore,
    req: Request,
    world: str,
    policy: tn.TunePolicy,
    out: Path,
    *,
    poll_s: float,
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> Tuned:
    """Tune ``req``'s model on ``world`` with evaluation jobs on the fleet (``say`` gets a
    line per candidate) and write the results into ``out``."""
    from pitstop.evaluation.runner import fleet_evaluator

    ev, sim = evaluation_for(jobs, req)
    name = f"tune-{ev.model_job or 'model'}-{world}"
    evaluate = fleet_evaluator(
        jobs, ev, world, name=name, simulation=sim, poll_s=poll_s, progress=say
    )

    def step(c: Candidate) -> None:
        say(
            f"scale {c.scale:g}: best lap {seconds(c.best_ms)} s, {c.off_track_rate:.2f} off-track/lap"
        )

    history, best = tn.tune(policy, evaluate, step)
    doc = tune_doc(req.model, world, history, best)
    files = write_tune_files(
        out,
        jobs.store,
        ev,
        doc,
        history,
        best,
        warn,
        max_off_track_rate=policy.max_off_track_rate,
    )
    rows: list[list[object]] = [
        [f"{c.scale:g}", seconds(c.best_ms), f"{c.off_track_rate:.2f}", "*" if c is best else ""]
        for c in history
    ]
    verdict = None
    if best is not None:
        verdict = (
            f"winner: speed scale {best.scale:g}, best lap {seconds(best.best_ms)} s "
            f"({doc['evaluations']} evaluations); its metadata: {out}/x{best.scale:g}/"
        )
    return Tuned(doc, files, rows, verdict)


def candidate_doc(c: Candidate) -> dict[str, Any]:
    return {
        "scale": c.scale,
        "best_ms": c.best_ms,
        "best_laps_ms": c.best_laps_ms,
        "laps": c.laps,
        "off_tracks": c.off_tracks,
        "off_track_rate": round(c.off_track_rate, 4),
        "job_ids": c.job_ids,
    }


def tune_doc(
    model: str, world: str, history: list[Candidate], best: Candidate | None
) -> dict[str, Any]:
    return {
        "model": model,
        "world": world,
        "candidates": [candidate_doc(c) for c in history],
        "winner": candidate_doc(best) if best else None,
        "evaluations": sum(len(c.best_laps_ms) for c in history),
    }


def write_tune_files(
    out: Path,
    store: ObjectStore,
    ev: Evaluation,
    doc: dict[str, Any],
    history: list[Candidate],
    best: Candidate | None,
    warn: Callable[[str], None],
    *,
    max_off_track_rate: float = tn.TunePolicy.max_off_track_rate,
) -> list[Path]:
    """Write every candidate's files, tune.json and (with matplotlib) tune.png into ``out``;
    the files written at the top (``warn`` says why a plot is missing)."""
    out.mkdir(parents=True, exist_ok=True)
    for c in history:
        d = out / f"x{c.scale:g}"
        d.mkdir(exist_ok=True)
        scaled = ev.model_copy(update={"speed_scale": c.scale})
        (d / "model_metadata.json").write_bytes(scaled_metadata(store, scaled))
        (d / "results.json").write_text(json.dumps(candidate_doc(c), indent=2))
    (out / "tune.json").write_text(json.dumps(doc, indent=2))
    files = [out / "tune.json"]
    if plot_tune(history, best, out / "tune.png", warn, max_off_track_rate=max_off_track_rate):
        files.append(out / "tune.png")
    return files


def plot_tune(
    history: list[Candidate],
    best: Candidate | None,
    path: Path,
    warn: Callable[[str], None],
    *,
    max_off_track_rate: float = tn.TunePolicy.max_off_track_rate,
) -> bool:
    """Best complete lap against speed scale: the candidates rejected for leaving the track
    crossed out, the winner starred with why; False without matplotlib."""
    from pitstop.errors import MissingExtra
    from pitstop.extras import require

    try:
        require("matplotlib", "tune's tune.png")
    except MissingExtra as e:
        warn(f"no tune.png: {e}")
        return False
    fig = tune_figure(history, best, max_off_track_rate=max_off_track_rate)
    fig.savefig(path, dpi=110)
    return True


def tune_figure(
    history: list[Candidate],
    best: Candidate | None,
    *,
    max_off_track_rate: float = tn.TunePolicy.max_off_track_rate,
) -> Any:
    """The matplotlib ``Figure`` of tune.png (Agg canvas, no pyplot state): best lap (top)
    and off-track rate (bottom, with the limit) against scale; a candidate over the limit is
    a red cross in both, the winner a star with why in the title."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    done = sorted((c for c in history if c.best_ms is not None), key=lambda c: c.scale)
    kept = [c for c in done if c.off_track_rate <= max_off_track_rate]
    out = [c for c in done if c.off_track_rate > max_off_track_rate]
    fig = Figure(figsize=(7.5, 6), layout="constrained")
    FigureCanvasAgg(fig)
    ax, ax_off = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})

    def lap(c: Candidate) -> float:
        return (c.best_ms or 0) / 1000

    ax.plot([c.scale for c in done], [lap(c) for c in done], "-", color="0.7", linewidth=1)
    ax_off.plot(
        [c.scale for c in done], [c.off_track_rate for c in done], "-", color="0.7", linewidth=1
    )
    ok = f"kept: off-track/lap <= {max_off_track_rate:g}"
    no = f"rejected: off-track/lap > {max_off_track_rate:g}"
    for axis, y in ((ax, lap), (ax_off, lambda c: c.off_track_rate)):
        axis.plot([c.scale for c in kept], [y(c) for c in kept], "o", color="tab:blue", label=ok)
        if out:
            axis.plot(
                [c.scale for c in out],
                [y(c) for c in out],
                "X",
                color="tab:red",
                markersize=9,
                linestyle="none",
                label=no,
            )
    ax_off.axhline(
        max_off_track_rate, color="tab:red", linestyle="--", linewidth=1, label="the limit"
    )
    title = "no winner: no candidate completed a lap and stayed on the track often enough"
    if best is not None and best.best_ms is not None:
        ax.plot(
            [best.scale],
            [best.best_ms / 1000],
            "*",
            color="gold",
            markeredgecolor="black",
            markersize=18,
            linestyle="none",
            label=f"chosen x{best.scale:g}: the fastest kept",
            zorder=4,
        )
        faster = [c for c in out if (c.best_ms or 0) < best.best_ms]
        title = f"winner x{best.scale:g}: best lap {best.best_ms / 1000:.2f} s"
        if faster:
            title += (
                f"; {len(faster)} faster candidate{'s' if len(faster) > 1 else ''} "
                f"(x{', x'.join(f'{c.scale:g}' for c in faster)}) rejected: "
                f"more than {max_off_track_rate:g} off-track/lap"
            )
    ax.set_title(title, fontsize=9, wrap=True)
    ax.set_ylabel("best complete lap (s)")
    ax_off.set_ylabel("off-track per lap")
    ax_off.set_xlabel("speed scale")
    ax_off.set_ylim(bottom=0)
    for axis in (ax, ax_off):
        axis.grid(alpha=0.3)
    if done:
        ax.legend(loc="upper right", fontsize=8)
        ax_off.legend(loc="upper left", fontsize=8)
    return fig
