"""Track harness: the reward ``params`` the DeepRacer simulator would pass, computed offline.

The geometry follows simapp's ``markov/track_geom/track_data.py`` and
``markov/agent_ctrl/utils.py`` (``set_reward_and_metrics``), with shapely replaced by
vectorised NumPy:

- the centre line is the polyline through the waypoints (a ring when the first row equals
  the last); a car's position is *projected* onto it (nearest point; on a tie the earlier
  segment wins, as shapely does). ``distance_from_center`` is the distance to that point,
  ``projection_distance`` its distance along the line.
- ``closest_waypoints`` is ``[prev, next]``: the waypoints whose projections bracket the
  car's (``bisect_right`` over each waypoint's normalised projection, wrapping at the end).
- ``track_width`` is the distance between the inner and outer border points nearest to the
  car's centre-line point (so it varies smoothly between waypoints).
- ``is_left_of_center`` is "closer to the inner border than to the outer one", flipped when
  the centre line runs clockwise (for an open track, when reversed), exactly as simapp.
- ``all_wheels_on_track``: all four wheel centres lie inside the road polygon (outer border
  with the inner border as a hole; for an open track both borders joined). The wheels sit at
  +0.0823 m / -0.0817 m along the car and +-0.081 m across it (simapp's URDF).
- a reversed episode uses the waypoints in reverse order, as simapp does.
- ``progress`` is ``100 * ((ndist - start_ndist) mod 1)``: the share of the centre line from
  the episode's start point to the car's projection (``100`` at the end of an open track).

This module owns the geometry and the synthetic sweep the validator runs; it does not call
reward functions (``sandbox``) or judge their results (``validator``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from pitstop.tracks import Track

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Wheel centres in the car's frame (x forward, y left), metres; simapp's
# deepracer_single_cam.urdf: front hinges at x=+0.0823, rear wheels at x=-0.0817, y=+-0.081.
WHEEL_OFFSETS = np.array(
    [[0.0823, 0.081], [0.0823, -0.081], [-0.0817, 0.081], [-0.0817, -0.081]],
    dtype=np.float64,
)

# Keys the simulator passes in a time trial with no objects, with simapp's defaults.
OBJECT_DEFAULTS: dict[str, Any] = {
    "closest_objects": [0, 0],
    "objects_location": [],
    "objects_left_of_center": [],
    "objects_speed": [],
    "objects_heading": [],
    "objects_distance_from_center": [],
    "objects_distance": [],
    "object_in_camera": False,
}

STEPS_PER_SECOND = 15.0  # the simulator calls the reward about 15 times a second

_CHUNK = 4096  # points per block in the (points x segments) computations


def _project(points: FloatArray, a: FloatArray, b: FloatArray) -> tuple[IntArray, FloatArray]:
    """Nearest point on the polyline with segments ``a[i] -> b[i]`` for each point.

    Returns the segment index and the parameter ``t`` in [0, 1] along it. Ties go to the
    lowest segment index (``argmin``), which is what shapely's ``project`` does.
    """
    d = b - a
    dd = np.einsum("ij,ij->i", d, d)
    safe = np.where(dd > 0.0, dd, 1.0)
    seg = np.empty(len(points), dtype=np.int64)
    tt = np.empty(len(points), dtype=np.float64)
    for lo in range(0, len(points), _CHUNK):
        p = points[lo : lo + _CHUNK]
        rel_x = p[:, 0:1] - a[None, :, 0]
        rel_y = p[:, 1:2] - a[None, :, 1]
        t = (rel_x * d[None, :, 0] + rel_y * d[None, :, 1]) / safe[None, :]
        t = np.clip(np.where(dd[None, :] > 0.0, t, 0.0), 0.0, 1.0)
        ex = rel_x - t * d[None, :, 0]
        ey = rel_y - t * d[None, :, 1]
        dist2 = ex * ex + ey * ey
        idx = np.argmin(dist2, axis=1)
        seg[lo : lo + len(p)] = idx
        tt[lo : lo + len(p)] = t[np.arange(len(p)), idx]
    return seg, tt


def _inside(points: FloatArray, rings: list[FloatArray]) -> BoolArray:
    """Even-odd point-in-polygon over one or more closed rings (a hole is just another ring)."""
    result = np.zeros(len(points), dtype=bool)
    for ring in rings:
        a = ring
        b = np.roll(ring, -1, axis=0)
        for lo in range(0, len(points), _CHUNK):
            p = points[lo : lo + _CHUNK]
            px = p[:, 0:1]
            py = p[:, 1:2]
            ay, by = a[None, :, 1], b[None, :, 1]
            ax, bx = a[None, :, 0], b[None, :, 0]
            crosses = (ay > py) != (by > py)
            denom = np.where(by != ay, by - ay, 1.0)
            x_at = ax + (py - ay) * (bx - ax) / denom
            hits = np.count_nonzero(crosses & (px < x_at), axis=1)
            result[lo : lo + len(p)] ^= (hits % 2).astype(bool)
    return result


@dataclass(frozen=True)
class Geometry:
    """A track as the simulator sees it in one direction (``reverse``: waypoints reversed)."""

    track: Track
    reverse: bool = False

    @cached_property
    def rows(self) -> FloatArray:
        w = self.track.waypoints
        return np.ascontiguousarray(w[::-1] if self.reverse else w)

    @property
    def centre(self) -> FloatArray:
        return self.rows[:, 0:2]

    @property
    def inner(self) -> FloatArray:
        return self.rows[:, 2:4]

    @property
    def outer(self) -> FloatArray:
        return self.rows[:, 4:6]

    @cached_property
    def is_loop(self) -> bool:
        return bool(np.array_equal(self.track.waypoints[0], self.track.waypoints[-1]))

    @cached_property
    def seg_lengths(self) -> FloatArray:
        return np.asarray(np.linalg.norm(np.diff(self.centre, axis=0), axis=1), dtype=np.float64)

    @cached_property
    def cum(self) -> FloatArray:
        return np.concatenate([[0.0], np.cumsum(self.seg_lengths)])

    @cached_property
    def length(self) -> float:
        return float(self.cum[-1])

    @cached_property
    def is_ccw(self) -> bool:
        """simapp: the forward centre ring's orientation (True for an open track), xor reverse."""
        if not self.is_loop:
            return not self.reverse
        c = self.centre
        area2 = float(np.sum(c[:-1, 0] * c[1:, 1] - c[1:, 0] * c[:-1, 1]))
        return area2 > 0.0

    @cached_property
    def ndists(self) -> FloatArray:
        """Normalised projection of each waypoint (the last one is 1.0), as simapp's TrackLine."""
        seg, t = self._project_centre(self.centre[:-1])
        along = self.cum[seg] + t * self.seg_lengths[seg]
        return np.concatenate([along / self.length, [1.0]])

    @cached_property
    def waypoints_list(self) -> list[tuple[float, float]]:
        """``params['waypoints']``: the centre line's coordinates, end point included."""
        return [(float(x), float(y)) for x, y in self.centre]

    @cached_property
    def road_rings(self) -> list[FloatArray]:
        if self.is_loop:
            return [self.outer, self.inner]
        return [np.vstack([self.outer, self.inner[::-1]])]

    def _project_centre(self, points: FloatArray) -> tuple[IntArray, FloatArray]:
        c = self.centre
        return _project(points, c[:-1], c[1:])

    @staticmethod
    def _nearest_on(points: FloatArray, line: FloatArray) -> FloatArray:
        seg, t = _project(points, line[:-1], line[1:])
        return np.asarray(line[seg] + t[:, None] * (line[seg + 1] - line[seg]), dtype=np.float64)

    def on_track(self, points: FloatArray) -> BoolArray:
        """Whether each point lies on the road surface (inside the road polygon)."""
        return _inside(np.asarray(points, dtype=np.float64), self.road_rings)

    def direction_at(self, index: IntArray) -> FloatArray:
        """Unit direction of travel at waypoints ``index`` (central difference, wrapping)."""
        c = self.centre
        n = len(c)
        if self.is_loop:
            m = n - 1
            nxt = c[(index + 1) % m]
            prv = c[(index - 1) % m]
        else:
            nxt = c[np.minimum(index + 1, n - 1)]
            prv = c[np.maximum(index - 1, 0)]
        d = nxt - prv
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        return np.asarray(d / np.where(norm > 0, norm, 1.0), dtype=np.float64)

    def compute(
        self,
        x: FloatArray,
        y: FloatArray,
        heading_deg: FloatArray,
        start_ndist: FloatArray | float = 0.0,
    ) -> dict[str, Any]:
        """Position-dependent params for many car poses at once (arrays, one entry per pose)."""
        pts = np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
        seg, t = self._project_centre(pts)
        c = self.centre
        near_c = c[seg] + t[:, None] * (c[seg + 1] - c[seg])
        along = self.cum[seg] + t * self.seg_lengths[seg]
        ndist = along / self.length
        near_in = self._nearest_on(near_c, self.inner)
        near_out = self._nearest_on(near_c, self.outer)
        dist_c = np.linalg.norm(pts - near_c, axis=1)
        dist_in = np.linalg.norm(pts - near_in, axis=1)
        dist_out = np.linalg.norm(pts - near_out, axis=1)
        left = (dist_in < dist_out) ^ (not self.is_ccw)
        width = np.linalg.norm(near_in - near_out, axis=1)
        nxt = np.searchsorted(self.ndists, ndist, side="right")
        prv = nxt - 1
        prv = np.where(prv == -1, len(self.ndists) - 1, prv)
        nxt = np.where(nxt == len(self.ndists), 0, nxt)
        rel = (ndist - np.asarray(start_ndist, dtype=np.float64)) % 1.0
        progress = 100.0 * rel
        if not self.is_loop:
            progress = np.where(ndist >= 1.0, 100.0, progress)
        h = np.radians(np.asarray(heading_deg, dtype=np.float64))
        cos_h, sin_h = np.cos(h), np.sin(h)
        wheels_on = np.ones(len(pts), dtype=bool)
        any_on = np.zeros(len(pts), dtype=bool)
        for fx, fy in WHEEL_OFFSETS:
            wx = pts[:, 0] + fx * cos_h - fy * sin_h
            wy = pts[:, 1] + fx * sin_h + fy * cos_h
            on = self.on_track(np.column_stack([wx, wy]))
            wheels_on &= on
            any_on |= on
        heading = (np.asarray(heading_deg, dtype=np.float64) + 180.0) % 360.0 - 180.0
        return {
            "x": pts[:, 0],
            "y": pts[:, 1],
            "heading": heading,
            "distance_from_center": dist_c,
            "projection_distance": ndist * self.length,
            "is_left_of_center": left,
            "track_width": width,
            "closest_waypoints": np.column_stack([prv, nxt]),
            "progress": progress,
            "all_wheels_on_track": wheels_on,
            "is_offtrack": ~any_on,
        }


def params_at(
    track: Track,
    x: float,
    y: float,
    heading: float,
    *,
    speed: float = 1.0,
    steering_angle: float = 0.0,
    steps: int = 1,
    start_ndist: float = 0.0,
    reverse: bool = False,
    is_crashed: bool = False,
) -> dict[str, Any]:
    """The full ``params`` dict the simulator would pass for one car pose."""
    geo = Geometry(track, reverse=reverse)
    cols = geo.compute(np.array([x]), np.array([y]), np.array([heading]), start_ndist)
    return build_params(geo, cols, 0, speed, steering_angle, steps, is_crashed)


def build_params(
    geo: Geometry,
    cols: dict[str, Any],
    i: int,
    speed: float,
    steering_angle: float,
    steps: int,
    is_crashed: bool,
) -> dict[str, Any]:
    prev, nxt = (int(v) for v in cols["closest_waypoints"][i])
    params: dict[str, Any] = {
        "all_wheels_on_track": bool(cols["all_wheels_on_track"][i]),
        "x": float(cols["x"][i]),
        "y": float(cols["y"][i]),
        "heading": float(cols["heading"][i]),
        "distance_from_center": float(cols["distance_from_center"][i]),
        "projection_distance": float(cols["projection_distance"][i]),
        "is_left_of_center": bool(cols["is_left_of_center"][i]),
        "is_reversed": geo.reverse,
        "is_crashed": bool(is_crashed),
        "is_offtrack": bool(cols["is_offtrack"][i]),
        "progress": float(cols["progress"][i]),
        "speed": float(speed),
        "steering_angle": float(steering_angle),
        "steps": int(steps),
        "track_width": float(cols["track_width"][i]),
        "track_length": geo.length,
        "waypoints": list(geo.waypoints_list),
        "closest_waypoints": [prev, nxt],
        "sim_time": float(steps) / STEPS_PER_SECOND,
    }
    for k, v in OBJECT_DEFAULTS.items():
        params[k] = list(v) if isinstance(v, list) else v
    return params


# ---------------------------------------------------------------------------------------
# The validator's sweep
# ---------------------------------------------------------------------------------------

SPEEDS = (0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
STEERING = (-30.0, -15.0, -5.0, 0.0, 5.0, 15.0, 30.0)
STEPS = (1, 2, 3, 10, 50, 150, 400, 1000, 5000)
# lateral offsets as a share of the half width: centre, both sides, the edge, off track
OFFSETS = (0.0, 0.5, -0.5, 0.95, -0.95, 1.3, -1.3, 2.2, -2.2)
HEADING_DELTAS = (30.0, -30.0, 90.0, -90.0, 180.0)


@dataclass
class Sweep:
    """Columns of synthetic car states; ``params(i)`` builds the dict for state ``i``."""

    track: Track
    columns: list[dict[str, Any]]  # one column block per direction (forward, reversed)
    blocks: list[tuple[Geometry, int, int]]  # geometry, first case index, end index
    speed: list[float]
    steering: list[float]
    steps: list[int]
    crashed: list[bool]
    progress_override: dict[int, float]

    def __len__(self) -> int:
        return len(self.speed)

    def params(self, i: int) -> dict[str, Any]:
        for (geo, lo, hi), cols in zip(self.blocks, self.columns, strict=True):
            if lo <= i < hi:
                p = build_params(
                    geo,
                    cols,
                    i - lo,
                    self.speed[i],
                    self.steering[i],
                    self.steps[i],
                    self.crashed[i],
                )
                if i in self.progress_override:
                    p["progress"] = self.progress_override[i]
                return p
        raise IndexError(i)

    def as_rows(self) -> dict[str, Any]:
        """Plain-Python columns (no NumPy) for the sandbox child: built once, sent pickled."""
        out: dict[str, Any] = {"blocks": []}
        for (geo, lo, hi), cols in zip(self.blocks, self.columns, strict=True):
            out["blocks"].append(
                {
                    "lo": lo,
                    "hi": hi,
                    "is_reversed": geo.reverse,
                    "track_length": geo.length,
                    "waypoints": geo.waypoints_list,
                    "cols": {
                        k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in cols.items()
                    },
                }
            )
        out["speed"] = self.speed
        out["steering"] = self.steering
        out["steps"] = self.steps
        out["crashed"] = self.crashed
        out["progress_override"] = self.progress_override
        out["object_defaults"] = OBJECT_DEFAULTS
        return out


def _poses(
    geo: Geometry, stride: int, with_headings: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Car poses in priority order: every waypoint at every offset first, then headings."""
    c = geo.centre
    n_wp = len(c) - 1 if geo.is_loop else len(c)
    idx = np.arange(0, n_wp, stride, dtype=np.int64)
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    hs: list[FloatArray] = []
    half = (geo.track.widths[::-1] if geo.reverse else geo.track.widths) / 2.0

    def add(t: float, offsets: tuple[float, ...], deltas: tuple[float, ...]) -> None:
        j = np.minimum(idx + 1, len(c) - 1)
        base = c[idx] + t * (c[j] - c[idx])
        d = geo.direction_at(idx)
        normal = np.column_stack([-d[:, 1], d[:, 0]])  # left of travel
        along = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
        for off in offsets:
            for delta in deltas:
                p = base + (off * half[idx])[:, None] * normal
                xs.append(p[:, 0])
                ys.append(p[:, 1])
                hs.append(along + delta)

    add(0.0, OFFSETS, (0.0,))
    add(0.5, OFFSETS, (0.0,))
    if with_headings:
        add(0.25, (0.4, -0.4), HEADING_DELTAS)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(hs)


def sweep(track: Track, *, stride: int = 1) -> Sweep:
    """The states the validator calls a reward function with, in priority order.

    Forward direction: every waypoint (and the midpoint after it) at the centre, both sides
    at half width, at the edge and off the track (partly and fully), heading along the
    track; then every waypoint with headings 30 and 90 degrees across and reversed. Then a
    reversed episode (waypoints reversed) at every waypoint, both sides. Speeds, steering
    angles, steps and episode start points cycle through their ranges, so each value meets
    every part of the track; a block of crashed states and the extreme progress values 0
    and 100 close the sweep. ``stride`` > 1 takes every stride-th waypoint (tests only).
    """
    stride = max(1, int(stride))
    fwd = Geometry(track)
    rev = Geometry(track, reverse=True)
    fx, fy, fh = _poses(fwd, stride, with_headings=True)
    n_f = len(fx)
    c = rev.centre
    n_wp = len(c) - 1 if rev.is_loop else len(c)
    ridx = np.arange(0, n_wp, stride, dtype=np.int64)
    rd = rev.direction_at(ridx)
    rnormal = np.column_stack([-rd[:, 1], rd[:, 0]])
    rhalf = (track.widths[::-1])[ridx] / 2.0
    rx_l, ry_l, rh_l = [], [], []
    for off in (0.0, 0.6, -0.6):
        p = c[ridx] + (off * rhalf)[:, None] * rnormal
        rx_l.append(p[:, 0])
        ry_l.append(p[:, 1])
        rh_l.append(np.degrees(np.arctan2(rd[:, 1], rd[:, 0])))
    rx, ry, rh = np.concatenate(rx_l), np.concatenate(ry_l), np.concatenate(rh_l)
    n_r = len(rx)
    # starts cycle so that progress takes many values at the same place
    starts_f = np.array([0.0, 0.0, 0.25, 0.5, 0.75])[np.arange(n_f) % 5]
    starts_r = np.array([0.0, 0.5])[np.arange(n_r) % 2]
    cols_f = fwd.compute(fx, fy, fh, starts_f)
    cols_r = rev.compute(rx, ry, rh, starts_r)
    n = n_f + n_r
    k = np.arange(n)
    # co-prime cycle lengths so combinations spread over the track
    speed = [SPEEDS[i % len(SPEEDS)] for i in k.tolist()]
    steering = [STEERING[(i // 3) % len(STEERING)] for i in k.tolist()]
    steps = [STEPS[(i // 2) % len(STEPS)] for i in k.tolist()]
    # crashed states: every 14th forward pose (the simulator reports a crash at any place)
    crashed = [i < n_f and i % 14 == 0 for i in k.tolist()]
    override: dict[int, float] = {}
    if n_f >= 2:
        override[0] = 0.0
        override[n_f - 1] = 100.0
    return Sweep(
        track=track,
        columns=[cols_f, cols_r],
        blocks=[(fwd, 0, n_f), (rev, n_f, n)],
        speed=speed,
        steering=steering,
        steps=steps,
        crashed=crashed,
        progress_override=override,
    )


def heading_along(track: Track, x: float, y: float) -> float:
    """Direction of the track (degrees) at the centre-line point nearest to ``(x, y)``."""
    geo = Geometry(track)
    seg, _ = geo._project_centre(np.array([[x, y]], dtype=np.float64))
    d = geo.centre[seg[0] + 1] - geo.centre[seg[0]]
    return math.degrees(math.atan2(float(d[1]), float(d[0])))
