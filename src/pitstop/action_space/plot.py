"""A picture of an action space in steering x speed space, written as PNG.

Uses matplotlib's Agg canvas directly (no pyplot, no global backend switch), so it works
on a headless instance and inside tests. Discrete actions are numbered dots, listed beside the plot; a
continuous space is a shaded rectangle. The console's limits are drawn as a dashed box.
The x axis runs from +30 (left turn) on the left to -30 (right turn) on the right, as a
driver sees the wheel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pitstop.action_space import limits as L
from pitstop.action_space.check import fmt
from pitstop.action_space.models import ContinuousSpace, ModelMetadata
from pitstop.errors import InvalidInput


def plot_metadata(meta: ModelMetadata, path: str | os.PathLike[str], title: str = "") -> None:
    """Write a PNG of ``meta``'s actions to ``path``."""
    from pitstop.extras import require

    require("matplotlib", "plotting an action space")
    fig = figure(meta, title)
    p = Path(path)
    try:
        fig.savefig(p, format="png")
    except OSError as e:
        raise InvalidInput(f"{p}: cannot write ({e.strerror or e})") from None


def figure(meta: ModelMetadata, title: str = "") -> Any:
    """The matplotlib ``Figure`` of ``meta``'s actions (tests look at what it draws)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(10, 5.5), dpi=110)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 2, width_ratios=(3, 1))
    ax = fig.add_subplot(grid[0, 0])
    side = fig.add_subplot(grid[0, 1])
    side.axis("off")
    space = meta.action_space
    # the console's speed range: continuous spaces start at 0.5 m/s, discrete at 0.1
    low = L.MIN_CONTINUOUS_SPEED if isinstance(space, ContinuousSpace) else L.MIN_SPEED
    ax.add_patch(
        Rectangle(
            (-L.MAX_STEERING, low),
            2 * L.MAX_STEERING,
            L.MAX_SPEED - low,
            fill=False,
            linestyle="--",
            edgecolor="0.6",
            label=f"console limits ({fmt(low)}..{fmt(L.MAX_SPEED)} m/s)",
        )
    )
    reach = L.MAX_STEERING
    if isinstance(space, ContinuousSpace):
        s, v = space.steering_angle, space.speed
        ax.add_patch(
            Rectangle(
                (s.low, v.low),
                s.high - s.low,
                v.high - v.low,
                alpha=0.35,
                facecolor="tab:blue",
                edgecolor="tab:blue",
                label=f"continuous: steering {fmt(s.low)}..{fmt(s.high)} deg, "
                f"speed {fmt(v.low)}..{fmt(v.high)} m/s",
            )
        )
        kind = "continuous"
    else:
        xs = [a.steering_angle for a in space]
        ys = [a.speed for a in space]
        ax.scatter(xs, ys, s=60, color="tab:blue", zorder=3, label=f"{len(space)} actions")
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            ax.annotate(str(i), (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
        lines = [
            f"{'#':>3}  {'steer':>5}  {'speed':>5}",
            *(f"{i:>3}  {x:>5.1f}  {y:>5.2f}" for i, (x, y) in enumerate(zip(xs, ys, strict=True))),
        ]
        side.text(0.0, 1.0, "\n".join(lines), family="monospace", fontsize=7, va="top")
        # narrow spaces (e.g. derived from a track) get a closer look; wide ones show all
        reach = max(10.0, 1.25 * max((abs(x) for x in xs), default=0.0))
        kind = "discrete"
    reach = min(reach, L.MAX_STEERING) + 3
    ax.set_xlim(reach, -reach)  # left turns on the left
    ax.set_ylim(0, L.MAX_SPEED + 0.8)  # room above 4 m/s for labels and legend
    ax.set_xlabel("steering angle (degrees; + = left)")
    ax.set_ylabel("speed (m/s)")
    ax.grid(True, alpha=0.3)
    ax.axvline(0, color="0.8", linewidth=0.8)
    heading = (
        f"{kind}, {meta.algorithm}, {', '.join(meta.sensors)}, version {meta.to_dict()['version']}"
    )
    ax.set_title(f"{title}\n{heading}" if title else heading, fontsize=9)
    ax.legend(loc="upper center", ncol=2, fontsize=8, framealpha=0.9)
    fig.tight_layout()
    return fig
