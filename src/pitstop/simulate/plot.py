"""One PNG: spot availability, training progress and cost over time, one line per policy."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from pitstop.errors import UsageError
from pitstop.simulate.engine import HOUR, Result
from pitstop.simulate.traces import Trace

COLORS = {
    "pitstop": "tab:green",
    "restart-from-scratch": "tab:red",
    "notify-only": "tab:orange",
    "on-demand": "tab:blue",
}


STYLES = {"pitstop": "-", "notify-only": "--", "restart-from-scratch": "-.", "on-demand": ":"}
# the shipped policy: a wide line underneath, so another policy's thinner line drawn on the
# same path leaves it visible on both sides
MAIN = ("pitstop", "pitstop-deadline")
# a run longer than this many times the shipped policy's (or the job's) is off the scale
CLIP = 1.6


def x_span(results: list[Result], hours: float) -> tuple[float, list[Result]]:
    """The x axis' end and the runs that end beyond it: the shipped policy's run (else the
    job's length) times ``CLIP`` bounds the axis, so one policy's endless restarts do not
    squash every other curve into a corner."""
    main = [r.wall_h for r in results if r.policy in MAIN]
    limit = max([hours, *main]) * CLIP if main else float("inf")
    inside = [r.wall_h for r in results if r.wall_h <= limit]
    span = max([hours, *inside]) * 1.04
    return span, [r for r in results if r.wall_h > span]


def _cost_at(xs: list[float], ys: list[float], x: float) -> float:
    """The cost curve at ``x`` (linear between points), for the y limit of a clipped run."""
    pts = list(zip(xs, ys, strict=True))
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[-1] if xs and x >= xs[-1] else 0.0


def plot(
    path: str | Path, trace: Trace, results: list[Result], *, offset_h: float, hours: float
) -> None:
    """Write the PNG; the x axis is hours since the job was submitted."""
    from pitstop.extras import require

    require("matplotlib", "simulate --plot")
    fig = figure(trace, results, offset_h=offset_h, hours=hours)
    try:
        fig.savefig(path, dpi=110)
    except OSError as e:
        raise UsageError(f"cannot write plot {path}: {e.strerror or e}") from None


def figure(trace: Trace, results: list[Result], *, offset_h: float, hours: float) -> Any:
    """The matplotlib ``Figure``: availability, progress and cost, until the slowest policy
    ends unless it runs far longer than the shipped one (``x_span``: then an arrow at the
    right edge gives its end and cost); the legend sits below the plots, never over a
    curve."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    span, off_scale = x_span(results, hours)
    fig = Figure(figsize=(11, 8.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax_a, ax_p, ax_c = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1, 3, 3]})
    # availability: one step per tick of the trace, from the submission on
    xs: list[float] = []
    ys: list[float] = []
    first = int(offset_h * HOUR // trace.gap_s)
    last = min(len(trace.available), int((offset_h + span) * HOUR // trace.gap_s) + 1)
    for i in range(first, last):
        xs.append(max(0.0, i * trace.gap_s / HOUR - offset_h))
        ys.append(1.0 if trace.available[i] else 0.0)
    if xs:
        ax_a.fill_between(xs, ys, step="post", color="tab:green", alpha=0.4, linewidth=0)
    ax_a.set_ylim(0, 1.05)
    ax_a.set_yticks([0, 1], ["gone", "spot"])
    ax_a.set_title(f"{trace.name}: job of {hours:g} h submitted {offset_h:g} h into the trace")

    top = 0.0
    for r in sorted(results, key=lambda r: r.policy not in MAIN):
        color = COLORS.get(r.policy)
        style = STYLES.get(r.policy, "-")
        main = r.policy in MAIN
        line = {
            "color": color,
            "linestyle": style,
            "linewidth": 3.0 if main else 1.4,
            "zorder": 2 if main else 3,
            "alpha": 1.0 if main else 0.9,
        }
        label = f"{r.policy} ({r.outcome} at {r.wall_h:.1f} h, ${r.cost:.2f})"
        if r in off_scale:
            label += ": off the scale"
        px = [t / HOUR for t, _ in r.progress] + [r.wall_h]
        py = [p / HOUR for _, p in r.progress] + [r.trained_h]
        ax_p.plot(px, py, label=label, **line)
        cx = [t / HOUR for t, _ in r.spend] + [r.wall_h]
        cy = [c for _, c in r.spend] + [r.cost]
        ax_c.plot(cx, cy, **line)
        top = max([top, *(c for x, c in zip(cx, cy, strict=True) if x <= span)])
        top = max(top, _cost_at(cx, cy, span))
    ax_c.set_ylim(0, top * 1.08 + 0.01)
    for k, r in enumerate(off_scale):
        # progress: mid-height, under the finish line where the curves end; cost: the top
        for ax, what, y in (
            (ax_p, f"{r.trained_h:.1f} h trained", 0.55),
            (ax_c, f"${r.cost:.2f}", 0.97),
        ):
            ax.annotate(
                f"{r.policy}: {r.outcome} at {r.wall_h:.1f} h, {what} \u2192",
                xy=(0.995, y - 0.08 * k),
                xycoords="axes fraction",
                ha="right",
                va="top",
                fontsize=9,
                color=COLORS.get(r.policy),
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            )
    ax_p.set_ylim(0, hours * 1.08)
    ax_p.axhline(hours, color="grey", linestyle=":", linewidth=1)
    ax_p.set_ylabel("training progress (h)")
    ax_c.set_ylabel("cost (USD)")
    ax_c.set_xlabel("hours since submission")
    ax_c.set_xlim(0, span)
    for ax in (ax_a, ax_p, ax_c):
        ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    return fig
