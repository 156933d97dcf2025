"""Preview: a heat map of a reward function over a track's surface.

Every cell of a grid over the road is a car pose: at the cell's centre, heading along the
track (the direction of the centre line at its nearest point) plus ``heading_offset``,
driving at ``speed`` with the wheels straight, ``steps`` as many as a car at that speed
needs from the start line to get there. The reward is computed for each pose in the
sandbox child (the file is untrusted code) and drawn with the track borders and a colour
bar. Matplotlib is imported here only, so the CLI stays fast.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pitstop.errors import InvalidRewardFunction
from pitstop.reward_funcs import harness, sandbox, static
from pitstop.reward_funcs.validator import short_params
from pitstop.tracks import Track

TARGET_CELLS = 30_000  # road cells in the grid: enough detail, a second or two of calls


@dataclass
class Grid:
    """Road cells of a regular grid and the reward at each."""

    xs: np.ndarray
    ys: np.ndarray
    mask: np.ndarray  # (ny, nx) True where the cell centre is on the road
    values: np.ndarray  # (ny, nx) reward, NaN off the road
    resolution: float


def _grid_points(track: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    w = track.waypoints
    allx = np.concatenate([w[:, 0], w[:, 2], w[:, 4]])
    ally = np.concatenate([w[:, 1], w[:, 3], w[:, 5]])
    area = track.length * float(np.mean(track.widths))
    res = max(0.005, math.sqrt(area / TARGET_CELLS))
    margin = 0.25
    xs = np.arange(allx.min() - margin, allx.max() + margin, res)
    ys = np.arange(ally.min() - margin, ally.max() + margin, res)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()]), res


def compute(
    source: str,
    filename: str,
    track: Track,
    *,
    speed: float = 2.0,
    heading_offset: float = 0.0,
    limits: sandbox.Limits | None = None,
) -> Grid:
    """Reward at every road cell; ``InvalidRewardFunction`` if the file fails on any of them."""
    problems = static.check_source(source)
    if problems:
        raise InvalidRewardFunction(problems[0].describe(filename))
    geo = harness.Geometry(track)
    xs, ys, pts, res = _grid_points(track)
    # cheap prefilter by distance to the centre line, then the exact road polygon
    seg, t = harness._project(pts, geo.centre[:-1], geo.centre[1:])
    near = geo.centre[seg] + t[:, None] * (geo.centre[seg + 1] - geo.centre[seg])
    close = np.linalg.norm(pts - near, axis=1) <= float(np.max(track.widths)) / 2.0 + res
    idx = np.flatnonzero(close)
    on = geo.on_track(pts[idx])
    idx = idx[on]
    cells = pts[idx]
    d = geo.centre[seg[idx] + 1] - geo.centre[seg[idx]]
    along = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
    cols = geo.compute(cells[:, 0], cells[:, 1], along + heading_offset, 0.0)
    per_step = max(speed, 0.1) / harness.STEPS_PER_SECOND
    steps = np.maximum(1, np.round(cols["projection_distance"] / per_step)).astype(int)
    n = len(cells)
    sw = harness.Sweep(
        track=track,
        columns=[cols],
        blocks=[(geo, 0, n)],
        speed=[float(speed)] * n,
        steering=[0.0] * n,
        steps=steps.tolist(),
        crashed=[False] * n,
        progress_override={},
    )
    lim = limits or sandbox.Limits(
        budget_seconds=120.0, startup_seconds=10.0, require_file_wall=False
    )
    (res_,) = sandbox.run([(source, filename)], sw.as_rows(), lim, collect=True)
    if res_.failure is not None:
        f = res_.failure
        case = f.get("case")
        where = f"line {f['line']}: " if f.get("line") else ""
        msg = f"{filename}: {where}{f['message']}"
        if isinstance(case, int) and 0 <= case < n:
            msg += f" for params {short_params(sw.params(case))}"
        raise InvalidRewardFunction(msg)
    values = res_.values or []
    if len(values) < n:
        raise InvalidRewardFunction(
            f"{filename}: too slow to preview ({len(values)} of {n} cells in the time budget)"
        )
    grid = np.full(len(pts), np.nan)
    grid[idx] = values
    shape = (len(ys), len(xs))
    mask = np.zeros(len(pts), dtype=bool)
    mask[idx] = True
    return Grid(xs=xs, ys=ys, mask=mask.reshape(shape), values=grid.reshape(shape), resolution=res)


def value_range(grids: list[Grid]) -> tuple[float, float]:
    """The lowest and highest reward over ``grids``: one colour scale for all of them."""
    finite = [g.values[np.isfinite(g.values)] for g in grids]
    values = np.concatenate(finite) if finite else np.zeros(0)
    vmin = float(values.min()) if values.size else 0.0
    vmax = float(values.max()) if values.size else 1.0
    return vmin, (vmax if vmax > vmin else vmin + 1e-9)


def render(
    grid: Grid,
    track: Track,
    out: Path,
    *,
    title: str,
    scale: tuple[float, float] | None = None,
    scale_label: str = "reward",
) -> Path:
    """Draw the heat map, the borders, the centre line and the direction of travel to PNG.

    ``scale``: the (min, max) of the colour bar, shared by several pictures to compare
    them; default this grid's own range."""
    from pitstop.extras import require

    require("matplotlib", "the reward preview")
    fig = draw(grid, track, title=title, scale=scale, scale_label=scale_label)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def draw(
    grid: Grid,
    track: Track,
    *,
    title: str,
    scale: tuple[float, float] | None = None,
    scale_label: str = "reward",
) -> Any:
    """The heat map as a matplotlib ``Figure`` (Agg canvas, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    w = track.waypoints
    span_x = float(grid.xs[-1] - grid.xs[0])
    span_y = float(grid.ys[-1] - grid.ys[0])
    fig_w = 10.0
    fig_h = max(4.0, min(12.0, fig_w * span_y / max(span_x, 1e-6) + 1.2))
    fig = Figure(figsize=(fig_w, fig_h), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#d9d9d9")
    r = grid.resolution
    extent = (
        float(grid.xs[0] - r / 2),
        float(grid.xs[-1] + r / 2),
        float(grid.ys[0] - r / 2),
        float(grid.ys[-1] + r / 2),
    )
    vmin, vmax = scale or value_range([grid])
    img = ax.imshow(
        np.ma.masked_invalid(grid.values),
        origin="lower",
        extent=extent,
        cmap="viridis",
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
    )
    ax.plot(w[:, 2], w[:, 3], color="black", linewidth=1.4, label="inner border")
    ax.plot(w[:, 4], w[:, 5], color="crimson", linewidth=1.4, label="outer border")
    ax.plot(w[:, 0], w[:, 1], color="white", linewidth=0.7, linestyle="--", label="centre line")
    # start and direction of travel
    d = w[1, 0:2] - w[0, 0:2]
    norm = float(np.hypot(d[0], d[1])) or 1.0
    arrow = d / norm * max(0.4, float(np.mean(track.widths)))
    ax.annotate(
        "",
        xy=(w[0, 0] + arrow[0], w[0, 1] + arrow[1]),
        xytext=(w[0, 0], w[0, 1]),
        arrowprops={"arrowstyle": "->", "color": "orange", "linewidth": 2.0},
    )
    ax.plot([w[0, 0]], [w[0, 1]], "o", color="orange", markersize=5, label="start")
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(title, fontsize=10)
    # below the map, never over the road; on the off-road grey, so the white centre line shows
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.09),
        ncol=4,
        fontsize=8,
        facecolor="#bdbdbd",
        edgecolor="0.4",
        framealpha=1.0,
    )
    # a colour bar exactly as tall as the map (the map's aspect is fixed)
    cax = make_axes_locatable(ax).append_axes("right", size="3%", pad=0.12)
    bar = fig.colorbar(img, cax=cax)
    bar.set_label(scale_label)
    fig.tight_layout()
    return fig


def preview(
    source: str,
    filename: str,
    track: Track,
    out: Path,
    *,
    speed: float = 2.0,
    heading_offset: float = 0.0,
) -> tuple[Path, Grid]:
    from pitstop.extras import require

    require("matplotlib", "the reward preview")  # before the sandbox's seconds of work
    grid = compute(source, filename, track, speed=speed, heading_offset=heading_offset)
    return render(grid, track, out, title=_title(filename, track, speed, heading_offset)), grid


def _title(filename: str, track: Track, speed: float, heading_offset: float) -> str:
    return (
        f"{filename} on {track.name}: speed {speed:g} m/s, heading offset "
        f"{heading_offset:+g} deg, steering 0"
    )


def preview_html(
    source: str,
    filename: str,
    track: Track,
    out: Path,
    *,
    speeds: list[float],
    heading_offset: float = 0.0,
    progress: Callable[[str], None] = lambda line: None,
) -> tuple[Path, tuple[float, float]]:
    """An HTML page with one heat map per speed in a balanced grid (``columns``; PNGs next
    to the page), all on one colour scale so that a colour means the same reward in each.
    Returns the page and the scale; ``progress`` gets a line per step (it takes seconds per
    speed)."""
    from pitstop.extras import require

    require("matplotlib", "the reward preview")
    out.parent.mkdir(parents=True, exist_ok=True)
    grids = []
    for i, s in enumerate(speeds, 1):
        progress(f"computing the reward at {s:g} m/s ({i} of {len(speeds)})...")
        grids.append(compute(source, filename, track, speed=s, heading_offset=heading_offset))
    scale = value_range(grids)
    label = f"reward (one scale for {', '.join(f'{s:g}' for s in speeds)} m/s)"
    figures = []
    for s, grid in zip(speeds, grids, strict=True):
        png = out.with_name(f"{out.stem}-{s:g}mps.png")
        progress(f"drawing {png}")
        title = _title(filename, track, s, heading_offset)
        render(grid, track, png, title=title, scale=scale, scale_label=label)
        figures.append((s, png.name))
    page = page_html(filename, track.name, heading_offset, scale, figures)
    out.write_text(page, encoding="utf-8")
    return out, scale


def columns(n: int) -> int:
    """How many heat maps a row of the page holds: all of them up to three; else 2 to 4
    columns, the layout with no panel alone on its last row, then the fewest empty cells,
    then the squarest, then the fewest rows (4: 2 x 2, 5: 3 + 2, 6: 3 x 2, 7: 4 + 3,
    8: 4 x 2, 9: 3 x 3)."""
    if n <= 3:
        return max(1, n)

    def cost(c: int) -> tuple[bool, int, int, int]:
        rows = math.ceil(n / c)
        return (n % c == 1, rows * c - n, abs(rows - c), rows)

    return min(range(2, 5), key=cost)


def page_html(
    filename: str,
    track_name: str,
    heading_offset: float,
    scale: tuple[float, float],
    figures: list[tuple[float, str]],
) -> str:
    """The page of ``preview_html``: ``figures`` are (speed, PNG name) in a grid of
    ``columns`` equal columns."""
    cells = "\n".join(
        f'<figure><img src="{html.escape(name)}" alt="speed {s:g} m/s">'
        f"<figcaption>speed {s:g} m/s</figcaption></figure>"
        for s, name in figures
    )
    cols = columns(len(figures))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(filename)} on {html.escape(track_name)}</title>"
        "<style>body{font-family:sans-serif}"
        f" .grid{{display:grid;grid-template-columns:repeat({cols},minmax(0,1fr));gap:8px}}"
        " figure{margin:0} img{width:100%}</style></head><body>"
        f"<h1>{html.escape(filename)} on {html.escape(track_name)}</h1>"
        f"<p>Heading offset {heading_offset:+g} degrees, steering 0. One colour scale for "
        f"every speed: reward {scale[0]:.3g} to {scale[1]:.3g}.</p>"
        f"<div class='grid'>{cells}</div></body></html>\n"
    )
