"""``pitstop report``: one self-contained HTML file (charts as PNG data URIs, no CDN).

Per job: reward and completion % per episode across every attempt, with each attempt
boundary marked by how the attempt before it ended (a stall, a crash or a preemption: each
its own line style and marker, in a legend); the attempts
and events tables; instance hours and cost. Then each world's leaderboard: a table and a
lap-time chart.
"""

from __future__ import annotations

import base64
import io
import itertools
from datetime import datetime, timezone
from typing import Any

from pitstop.fleet.progress import PREEMPTIONS, RESTARTS, Curve, JobProgress

COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22"]

# how the attempt before a boundary ended -> (kind, colour, line style, marker): each kind
# its own line and marker, named in the legend
EVENT_STYLES = {
    "preempted": ("preemption", "#d62728", "--", "v"),
    "stalled": ("stall", "#ff7f0e", ":", "s"),
    "crashed": ("crash", "#111111", "-.", "X"),
}
OTHER_EVENT = ("attempt ended", "#7f7f7f", (0, (1, 3)), "o")


def event_style(outcome: str | None) -> tuple[str, str, Any, str]:
    """The kind, colour, line style and marker of a boundary after an attempt that ended with
    ``outcome``: a preemption, a stall, a crash (a failed stop counts as one) or other."""
    if outcome in PREEMPTIONS:
        return EVENT_STYLES["preempted"]
    if outcome == "stalled":
        return EVENT_STYLES["stalled"]
    if outcome in RESTARTS:
        return EVENT_STYLES["crashed"]
    return OTHER_EVENT


def _rolling(values: list[float], n: int = 10) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / min(i + 1, n))
    return out


def chart_png(curves: list[Curve], title: str) -> str:
    """A two-panel chart (reward, completion %) as a data URI."""
    fig = chart_figure(curves, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def chart_figure(curves: list[Curve], title: str) -> Any:
    """The report's chart as a matplotlib ``Figure`` (Agg canvas, no pyplot state): reward and
    completion % per episode, a line per attempt; each boundary between attempts marked by
    how the attempt before it ended (``event_style``: a line and a marker per kind, with a
    legend of the kinds)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for k, c in enumerate(curves):
        color = COLORS[k % len(COLORS)]
        if c.episodes:
            ax1.plot(c.episodes, c.reward, ".", color=color, alpha=0.35, markersize=4)
            ax1.plot(
                c.episodes,
                _rolling(c.reward),
                "-",
                color=color,
                linewidth=2,
                label=f"attempt {c.attempt}",
            )
            ax2.plot(
                c.episodes,
                c.completion,
                "-",
                color=color,
                linewidth=1.5,
                label=f"training, attempt {c.attempt}",
            )
        if c.eval_episodes:
            ax2.plot(c.eval_episodes, c.eval_completion, "o", color=color, markersize=4, alpha=0.7)
    # mark where each attempt after the first began, by how the one before it ended
    kinds: dict[str, Any] = {}
    for prev, c in itertools.pairwise(curves):
        xs = c.episodes + c.eval_episodes
        if not xs:
            continue
        x = min(xs) - 0.5
        kind, color, style, marker = event_style(prev.outcome)
        for ax in (ax1, ax2):
            ax.axvline(x, color=color, linestyle=style, linewidth=1.8, gid=f"event:{kind}")
        # the kind's marker on the top edge of the reward panel, where the line starts
        (dot,) = ax1.plot(
            [x],
            [1.0],
            marker=marker,
            color=color,
            markeredgecolor="black",
            markersize=9,
            linestyle=style,
            linewidth=1.8,
            transform=ax1.get_xaxis_transform(),
            clip_on=False,
            zorder=5,
            gid=f"event:{kind}",
        )
        kinds.setdefault(kind, dot)
        ax1.annotate(
            f"{prev.outcome or '?'} (attempt {prev.attempt})",
            (x, 0.97),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
            color=color,
        )
    ax1.set_title(title, pad=12)  # above the boundary markers on the top edge
    ax1.set_ylabel("reward (10-episode mean)")
    ax2.set_ylabel("completion %")
    ax2.set_xlabel("episode (all attempts, in order)")
    ax2.set_ylim(-2, 105)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    if any(c.episodes for c in curves):
        ax1.legend(loc="lower right", fontsize=8)
    if kinds:
        ax2.legend(
            list(kinds.values()),
            list(kinds),
            loc="lower right",
            fontsize=8,
            title="attempt boundaries",
            title_fontsize=8,
        )
    return fig


def laps_png(board: dict[str, Any]) -> str:
    """One world's lap times: every complete lap of each ranked evaluation (a dot), its best
    (a bar), as a data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = board["entries"]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(entries) + 1.4), dpi=100)
    for i, e in enumerate(entries):
        laps = [t / 1000 for t in e.get("laps_ms") or [] if t is not None]
        ax.barh(i, e["lap_ms"] / 1000, color="#c7d2fe", height=0.6)
        ax.plot(laps, [i] * len(laps), "o", color="#1f77b4", markersize=5)
    ax.set_yticks(range(len(entries)))
    ax.set_yticklabels(
        [f"{e['rank']}. {str(e['model'])[-32:]} x{e['speed_scale']:g}" for e in entries]
    )
    ax.invert_yaxis()
    ax.set_xlabel("lap time (s): bar = best complete lap, dots = every complete lap")
    ax.set_title(f"{board['world']}: lap times")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def render(
    jobs: list[JobProgress],
    spot_price: float | None,
    bucket: str,
    boards: list[dict[str, Any]] | None = None,
) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from pitstop.extras import require

    require("matplotlib", "the report's charts")

    env = Environment(
        loader=PackageLoader("pitstop", "templates/fleet"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    items: list[dict[str, Any]] = []
    for p in jobs:
        has_points = any(c.episodes or c.eval_episodes for c in p.curves)
        items.append(
            {
                "row": p.row(),
                "doc": p.doc,
                "chart": chart_png(p.curves, f"{p.doc['name']} ({p.doc['id']})")
                if has_points
                else None,
            }
        )
    total_hours = sum(p.hours for p in jobs)
    shown = [{**b, "chart": laps_png(b)} for b in boards or [] if b["entries"]]
    return env.get_template("report.html.j2").render(
        jobs=items,
        boards=shown,
        bucket=bucket,
        spot_price=spot_price,
        total_hours=total_hours,
        total_cost=None if spot_price is None else total_hours * spot_price,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
