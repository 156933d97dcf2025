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
from dataclasses import dataclass
from pathlib import Path

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
    lim = limits or sandbox.Limits(budget_seconds=120.0, startup_seconds=10.0)
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


def render(
    grid: Grid,
    track: Track,
    out: Path,
    *,
    title: str,
) -> Path:
    """Draw the heat map, the borders, the centre line and the direction of travel to PNG."""
    from pitstop.extras import require

    require("matplotlib", "the reward preview")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = track.waypoints
    span_x = float(grid.xs[-1] - grid.xs[0])
    span_y = float(grid.ys[-1] - grid.ys[0])
    fig_w = 10.0
    fig_h = max(4.0, min(12.0, fig_w * span_y / max(span_x, 1e-6) + 1.2))
    fig, ax = plt.subplots(figsize=(fig_w, fig_h), dpi=110)
    ax.set_facecolor("#d9d9d9")
    r = grid.resolution
    extent = (
        float(grid.xs[0] - r / 2),
        float(grid.xs[-1] + r / 2),
        float(grid.ys[0] - r / 2),
        float(grid.ys[-1] + r / 2),
    )
    finite = grid.values[np.isfinite(grid.values)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1e-9
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
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    bar = fig.colorbar(img, ax=ax, fraction=0.046, pad=0.02)
    bar.set_label("reward")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


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
    title = (
        f"{filename} on {track.name}: speed {speed:g} m/s, heading offset "
        f"{heading_offset:+g} deg, steering 0"
    )
    return render(grid, track, out, title=title), grid


def preview_html(
    source: str,
    filename: str,
    track: Track,
    out: Path,
    *,
    speeds: list[float],
    heading_offset: float = 0.0,
) -> Path:
    """An HTML page with one heat map per speed, side by side (PNGs next to the page)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = []
    for s in speeds:
        png = out.with_name(f"{out.stem}-{s:g}mps.png")
        preview(source, filename, track, png, speed=s, heading_offset=heading_offset)
        figures.append((s, png.name))
    cells = "\n".join(
        f'<figure><img src="{html.escape(name)}" alt="speed {s:g} m/s">'
        f"<figcaption>speed {s:g} m/s</figcaption></figure>"
        for s, name in figures
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(filename)} on {html.escape(track.name)}</title>"
        "<style>body{font-family:sans-serif} .row{display:flex;flex-wrap:wrap;gap:8px}"
        " figure{margin:0;flex:1 1 30%} img{width:100%}</style></head><body>"
        f"<h1>{html.escape(filename)} on {html.escape(track.name)}</h1>"
        f"<p>Heading offset {heading_offset:+g} degrees, steering 0.</p>"
        f"<div class='row'>{cells}</div></body></html>\n"
    )
    out.write_text(page, encoding="utf-8")
    return out
