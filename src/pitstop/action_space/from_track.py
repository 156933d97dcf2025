"""Action spaces shaped for one track: from a centre line or a racing line to N actions.

Assumptions (also printed by ``pitstop action-space from-track --help``):

- **Line.** The line is resampled every ``spacing`` metres along its length (a closed
  loop when its ends meet, as the bundled tracks' centre lines do).
- **Curvature.** At each point, the curvature of the circle through the points
  ``span/2`` metres behind and ahead (three-point, Menger curvature), then a moving
  average over ``smooth`` metres. Signed: + is a left turn.
- **Steering.** Kinematic bicycle model: ``steering = atan(wheelbase * curvature)`` with
  the simulated car's wheelbase, 0.164 m (simapp URDF). + is left, as in DeepRacer.
  Angles beyond 30 degrees are clamped (the simulator clamps them too).
- **Speed.** Steady cornering at lateral acceleration ``a_lat``:
  ``v = sqrt(a_lat * r)`` with ``r = 1 / |curvature|``, clamped to [min_speed, max_speed].
- **Reduction.** The (steering, speed) samples, one per resampled point, are reduced to
  N actions by k-means (deterministic start, scaled axes) or by quantiles of |steering|.
  With ``mirror`` (the default), samples are folded onto |steering|, clustered, and each
  turning action is mirrored left/right, so the space is symmetric and a car can correct
  either way; straight stretches (|steering| below ``straight_deg``) become one action
  at zero steering and top speed (two, at top speed and below, when N is even).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pitstop.action_space import limits as L
from pitstop.action_space.models import Action, make_action
from pitstop.action_space.track_settings import WHEELBASE_M as WHEELBASE_M
from pitstop.action_space.track_settings import Settings as Settings
from pitstop.errors import InvalidInput, UsageError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Profile:
    """The line, resampled, with what the car needs at each point."""

    points: FloatArray  # (M, 2)
    s: FloatArray  # arc length at each point, m
    curvature: FloatArray  # 1/m, + = left
    steering: FloatArray  # degrees, + = left
    speed: FloatArray  # m/s
    is_loop: bool

    @property
    def length(self) -> float:
        return float(self.s[-1]) if len(self.s) else 0.0


def read_line(path: str | Path) -> FloatArray:
    """A racing line (x, y in metres) from ``.npy`` ((N, 2), or (N, 6) waypoints: the
    centre columns) or ``.csv`` (x, y in the first two columns; a header row is allowed)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{p}: no such file")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise InvalidInput(f"{p}: not a NumPy .npy array ({e})") from None
    else:
        arr = _read_csv(p)
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[0] < 3:
        raise InvalidInput(f"{p}: expected rows of x, y (at least 3 points), got shape {arr.shape}")
    try:
        line = np.asarray(arr[:, :2], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{p}: x, y must be numbers") from None
    if not np.all(np.isfinite(line)):
        raise InvalidInput(f"{p}: the line contains NaN or infinite values")
    return line


def _read_csv(p: Path) -> FloatArray:
    try:
        with p.open(newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{p}: cannot read ({e})") from None
    out: list[list[float]] = []
    for n, row in enumerate(rows, start=1):
        try:
            out.append([float(row[0]), float(row[1])])
        except (ValueError, IndexError):
            if n == 1 and not out:
                continue  # a header row
            raise InvalidInput(f"{p}: line {n}: expected x, y numbers, got {row!r}") from None
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def _is_closed(line: FloatArray) -> bool:
    steps = np.linalg.norm(np.diff(line, axis=0), axis=1)
    gap = float(np.linalg.norm(line[-1] - line[0]))
    typical = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 0.0
    return gap <= 2.0 * typical


def resample(line: FloatArray, spacing: float, closed: bool) -> tuple[FloatArray, FloatArray]:
    """Points every ``spacing`` metres along the polyline (closing it when ``closed``)."""
    pts = line
    if closed and np.linalg.norm(pts[-1] - pts[0]) > 0:
        pts = np.vstack([pts, pts[:1]])
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    keep = np.concatenate([[True], seg > 1e-9])  # drop repeated points
    pts = pts[keep]
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(cum[-1])
    if total <= 0:
        raise InvalidInput("the line has zero length")
    n = max(round(total / spacing), 3)
    s = np.linspace(0.0, total, n, endpoint=not closed)
    x = np.interp(s, cum, pts[:, 0])
    y = np.interp(s, cum, pts[:, 1])
    return np.column_stack([x, y]), s


def _menger(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """Signed curvature of the circle through a, b, c (row-wise); + = turning left."""
    ab, bc, ca = b - a, c - b, a - c
    cross = ab[:, 0] * bc[:, 1] - ab[:, 1] * bc[:, 0]
    denom = np.linalg.norm(ab, axis=1) * np.linalg.norm(bc, axis=1) * np.linalg.norm(ca, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(denom > 0, 2.0 * cross / denom, 0.0)
    return np.asarray(k, dtype=np.float64)


def curvature(
    points: FloatArray, spacing: float, span: float, smooth: float, closed: bool
) -> FloatArray:
    """Signed curvature at each resampled point (three-point circle, then moving average)."""
    n = len(points)
    k = max(1, round(span / 2 / spacing))
    idx = np.arange(n)
    if closed:
        prev, nxt = (idx - k) % n, (idx + k) % n
    else:
        prev, nxt = np.clip(idx - k, 0, n - 1), np.clip(idx + k, 0, n - 1)
    kappa = _menger(points[prev], points, points[nxt])
    w = max(1, round(smooth / spacing))
    if w > 1:
        kernel = np.ones(w) / w
        if closed:
            padded = np.concatenate([kappa[-w:], kappa, kappa[:w]])
            kappa = np.convolve(padded, kernel, mode="same")[w:-w]
        else:
            padded = np.concatenate([np.full(w, kappa[0]), kappa, np.full(w, kappa[-1])])
            kappa = np.convolve(padded, kernel, mode="same")[w:-w]
    return np.asarray(kappa, dtype=np.float64)


def steering_for_curvature(kappa: FloatArray | float, wheelbase: float = WHEELBASE_M) -> FloatArray:
    """Bicycle model: the steering angle in degrees that holds curvature ``kappa``."""
    return np.asarray(np.degrees(np.arctan(wheelbase * np.asarray(kappa))), dtype=np.float64)


def speed_for_curvature(
    kappa: FloatArray, a_lat: float, min_speed: float, max_speed: float
) -> FloatArray:
    """``v = sqrt(a_lat * r)``, clamped to [min_speed, max_speed]; straight = max_speed."""
    with np.errstate(divide="ignore"):
        radius = np.where(np.abs(kappa) > 0, 1.0 / np.abs(kappa), np.inf)
    v = np.sqrt(a_lat * radius)
    return np.asarray(np.clip(v, min_speed, max_speed), dtype=np.float64)


def profile(line: FloatArray, settings: Settings | None = None) -> Profile:
    """Curvature, steering and speed along a line of (x, y) points."""
    settings = settings or Settings()
    _validate(settings)
    closed = _is_closed(line)
    points, s = resample(line, settings.spacing, closed)
    kappa = curvature(points, settings.spacing, settings.span, settings.smooth, closed)
    steer = np.clip(
        steering_for_curvature(kappa, settings.wheelbase), -L.MAX_STEERING, L.MAX_STEERING
    )
    speed = speed_for_curvature(kappa, settings.a_lat, settings.min_speed, settings.max_speed)
    return Profile(points, s, kappa, steer, speed, closed)


def _validate(st: Settings) -> None:
    checks = [
        (st.a_lat > 0, f"--a-lat must be above 0, got {st.a_lat:g}"),
        (
            L.MIN_SPEED <= st.min_speed <= st.max_speed <= L.MAX_SPEED,
            f"speeds must satisfy {L.MIN_SPEED:g} <= --min-speed <= --max-speed <= {L.MAX_SPEED:g}, "
            f"got {st.min_speed:g} and {st.max_speed:g}",
        ),
        (st.wheelbase > 0, f"--wheelbase must be above 0, got {st.wheelbase:g}"),
        (st.spacing > 0, f"--spacing must be above 0, got {st.spacing:g}"),
        (st.span >= 2 * st.spacing, f"--span must be at least twice --spacing, got {st.span:g}"),
        (st.smooth >= 0, f"--smooth must be 0 or more, got {st.smooth:g}"),
        (st.straight_deg >= 0, f"--straight-deg must be 0 or more, got {st.straight_deg:g}"),
        (
            st.method in ("kmeans", "quantiles"),
            f"--method must be kmeans or quantiles, got {st.method}",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)


# --- reduction to N actions ---------------------------------------------------------------

_SCALE = np.array([L.MAX_STEERING, L.MAX_SPEED])  # k-means distances in shares of the range


def kmeans(samples: FloatArray, k: int, iterations: int = 100) -> FloatArray:
    """Deterministic k-means on (steering, speed) rows: starts at quantiles of steering
    (then speed), so the same input always gives the same centres. Returns (<=k, 2)."""
    x = samples / _SCALE
    order = np.lexsort((x[:, 1], x[:, 0]))
    starts = order[np.linspace(0, len(x) - 1, k).round().astype(int)]
    centres = x[starts].copy()
    for _ in range(iterations):
        d = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        label = d.argmin(axis=1)
        new = np.array(
            [x[label == j].mean(axis=0) if np.any(label == j) else centres[j] for j in range(k)]
        )
        if np.allclose(new, centres):
            break
        centres = new
    return np.asarray(np.unique((centres * _SCALE).round(6), axis=0), dtype=np.float64)


def quantile_groups(samples: FloatArray, k: int) -> FloatArray:
    """Sort by steering, cut into k groups of equal count; each group gives its median
    steering and its lowest speed (the speed the sharpest point of the group allows)."""
    order = samples[np.argsort(samples[:, 0], kind="stable")]
    groups = [g for g in np.array_split(order, k) if len(g)]
    return np.array([[float(np.median(g[:, 0])), float(g[:, 1].min())] for g in groups])


def _reduce(samples: FloatArray, k: int, method: str) -> FloatArray:
    if k <= 0 or len(samples) == 0:
        return np.zeros((0, 2))
    k = min(k, len(samples))
    return kmeans(samples, k) if method == "kmeans" else quantile_groups(samples, k)


def _turning_angles(samples: FloatArray, k: int, method: str) -> list[float]:
    """The steering angles of k clusters. The outermost cluster on each side takes the
    largest angle of its members instead of their mean, so that the sharpest corner of
    the line is covered (the car can steer as tight as the line needs anywhere), not
    averaged away."""
    centres = _reduce(samples, k, method)
    angles = [float(c[0]) for c in centres]
    if not angles:
        return angles
    hi, lo = int(np.argmax(centres[:, 0])), int(np.argmin(centres[:, 0]))
    steer = samples[:, 0]
    if angles[hi] > 0:
        angles[hi] = max(angles[hi], float(steer.max()))
    if angles[lo] < 0 and lo != hi:
        angles[lo] = min(angles[lo], float(steer.min()))
    return angles


def _speed_for_steering(steer: float, st: Settings) -> float:
    """The speed model at a steering angle (bicycle model back to curvature)."""
    kappa = math.tan(math.radians(abs(steer))) / st.wheelbase
    return float(speed_for_curvature(np.array([kappa]), st.a_lat, st.min_speed, st.max_speed)[0])


def _round(x: float, step: float) -> float:
    return round(round(x / step) * step, 4) + 0.0


def _round_up(x: float, step: float) -> float:
    """Away from zero, to a multiple of ``step`` (a float just above one stays on it)."""
    magnitude = math.ceil(abs(x) / step - 1e-9) * step
    return round(math.copysign(magnitude, x), 4) + 0.0


def reduce_profile(prof: Profile, n: int, settings: Settings | None = None) -> list[Action]:
    """N actions (or fewer when the line has too little variety) for a profile."""
    settings = settings or Settings()
    if not L.MIN_ACTIONS <= n <= L.MAX_ACTIONS:
        raise UsageError(f"--actions {n}: the console allows {L.MIN_ACTIONS} to {L.MAX_ACTIONS}")
    if settings.mirror and n < 3:
        raise UsageError(
            "--actions must be at least 3 when mirroring (straight + a left/right pair)"
        )
    samples = np.column_stack([prof.steering, prof.speed])
    if not np.any(np.abs(samples[:, 0]) >= settings.straight_deg):
        raise InvalidInput(
            f"the line never turns (|steering| below {settings.straight_deg:g} degrees everywhere); "
            "use 'pitstop action-space generate' for a straight track"
        )
    top = float(settings.max_speed)
    actions: list[tuple[float, float]] = []
    if settings.mirror:
        folded = np.column_stack([np.abs(samples[:, 0]), samples[:, 1]])
        straight = folded[folded[:, 0] < settings.straight_deg]
        turning = folded[folded[:, 0] >= settings.straight_deg]
        n_straight = 1 if n % 2 else 2
        actions.append((0.0, top))
        if n_straight == 2:
            # a second straight action below top speed: the straight samples' slowest
            # quartile, or the turning samples' fastest, so braking before a turn is possible
            pool = straight[:, 1] if len(straight) else turning[:, 1]
            slower = float(np.quantile(pool, 0.25)) if len(pool) else top * 0.75
            if slower >= top - 0.05:
                slower = max(top * 0.75, settings.min_speed)
            actions.append((0.0, slower))
        for steer in _turning_angles(turning, (n - n_straight) // 2, settings.method):
            speed = _speed_for_steering(steer, settings)
            actions.append((steer, speed))
            actions.append((-steer, speed))
    else:
        for steer in _turning_angles(samples, n, settings.method):
            steer = 0.0 if abs(steer) < settings.straight_deg else steer
            actions.append((steer, _speed_for_steering(steer, settings)))
    out: list[Action] = []
    seen: set[tuple[float, float]] = set()
    widest = {max(s for s, _ in actions), min(s for s, _ in actions)}  # each side's
    for steer, speed in sorted(actions):
        # the widest angles round up, so that rounding never undoes the tightest corner's cover
        angle = _round_up(steer, 0.1) if steer in widest else _round(steer, 0.1)
        key = (angle, _round(min(max(speed, L.MIN_SPEED), L.MAX_SPEED), 0.01))
        if key not in seen:
            seen.add(key)
            out.append(make_action(*key))
    return out


def actions_from_line(
    line: FloatArray, n: int, settings: Settings | None = None
) -> tuple[list[Action], Profile]:
    """The whole pipeline: a line of (x, y) points to N actions, with the profile used."""
    settings = settings or Settings()
    prof = profile(line, settings)
    return reduce_profile(prof, n, settings), prof


def bicycle_steering_deg(radius: float, wheelbase: float = WHEELBASE_M) -> float:
    """Steering (degrees) that holds a circle of ``radius`` metres: atan(wheelbase / r)."""
    return math.degrees(math.atan(wheelbase / radius))
