"""The simulated car's laps: a seeded model of lap time and off-tracks (pure).

Not physics, a stand-in with the right shape for tests and benchmarks. The car cruises at
the mean of its faster half of actions; in a corner it slows down to what the corner
allows (``v = sqrt(a_lat * r)``), but never below its slowest action. Where even the
slowest action is too fast for a corner, it may leave the track: the expected off-tracks
per lap grow with the square of the excess. Each off-track costs the evaluation's penalty
plus the time to reset. So raising every speed shortens laps until the corners bite, then
lengthens them: an optimum exists, as on the real tracks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

A_LAT = 2.0  # m/s^2: the corner speed the simulated car holds without leaving the track
SPACING = 0.1  # m between resampled centre-line points
OFF_TRACK_RATE = 6.0  # expected off-tracks per metre of corner taken 100 % too fast
RESET_S = 1.5  # seconds to put the car back, besides the penalty
NOISE = 0.03  # lap-to-lap spread (log-normal sigma)
LAP_COMPLETE = "Lap complete"
OFF_TRACK = "Off track"


@dataclass(frozen=True)
class Lap:
    trial: int
    time_ms: int  # elapsed, penalties included
    status: str  # LAP_COMPLETE, or OFF_TRACK when the resets ran out
    resets: int
    off_tracks: int
    completion: float  # percent of the lap driven


@lru_cache(maxsize=64)
def _corners(world: str) -> tuple[tuple[float, ...], float]:
    """Corner speed limit at each resampled point of ``world``'s centre line, and the spacing."""
    # numpy and the track geometry load here, on the first lap model: a supervisor that
    # only reads evaluation results never imports them
    import numpy as np

    from pitstop import tracks
    from pitstop.action_space.from_track import curvature, resample

    track = tracks.load(world)
    points, s = resample(track.centre, SPACING, closed=track.is_loop)
    kappa = curvature(points, SPACING, span=1.0, smooth=0.5, closed=track.is_loop)
    with np.errstate(divide="ignore"):
        limit = np.sqrt(A_LAT / np.maximum(np.abs(kappa), 1e-6))
    step = float(s[1] - s[0]) if len(s) > 1 else SPACING
    return tuple(float(v) for v in limit), step


def expected(world: str, speeds: list[float]) -> tuple[float, float]:
    """(clean lap seconds, expected off-tracks per lap) for actions of ``speeds`` m/s."""
    if not speeds or min(speeds) <= 0:
        raise ValueError("speeds must be positive")
    ordered = sorted(speeds)
    cruise = sum(ordered[len(ordered) // 2 :]) / len(ordered[len(ordered) // 2 :])
    slowest = ordered[0]
    limits, ds = _corners(world)
    seconds, rate = 0.0, 0.0
    for v_corner in limits:
        v = max(slowest, min(cruise, v_corner))
        seconds += ds / v
        if v > v_corner:
            rate += OFF_TRACK_RATE * ds * (v / v_corner - 1.0) ** 2
    return seconds, rate


def simulate(
    world: str,
    speeds: list[float],
    laps: int,
    seed: str,
    *,
    penalty_s: float = 5.0,
    max_resets: int = 100,
) -> list[Lap]:
    """``laps`` trials of the car, reproducible from ``seed`` (a different seed, other times)."""
    clean, rate = expected(world, speeds)
    rng = random.Random(seed)
    out: list[Lap] = []
    resets_left = max_resets
    for trial in range(1, laps + 1):
        off = _poisson(rng, rate)
        status, completion = LAP_COMPLETE, 100.0
        if off > resets_left:  # the reset budget ran out part-way round
            completion = round(100.0 * (resets_left + 1) / (off + 1), 1)
            off, status = resets_left, OFF_TRACK
        resets_left -= off
        driven = clean * completion / 100.0 * math.exp(rng.gauss(0.0, NOISE))
        time_s = driven + off * (penalty_s + RESET_S)
        out.append(Lap(trial, round(time_s * 1000), status, off, off, completion))
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation: the car is hopeless anyway
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
