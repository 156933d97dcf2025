"""What the action-space commands tell a user: the rules each way of building a
model_metadata.json follows (their ``--help``), a one-line summary of a model, the summary
of an action space derived from a line, and the refusal of an invalid result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pitstop.errors import UsageError

if TYPE_CHECKING:  # the texts are read by --help: nothing heavy is imported for them
    from pitstop.action_space.models import ModelMetadata
    from pitstop.action_space.track_settings import Settings

GENERATE_RULES = """\
Generate model_metadata.json and print it (or --out FILE).

Console grid (default): steering evenly spaced over [-MAX, +MAX] (or
[--min-steering, MAX] for asymmetric steering) with --steering-steps values;
speeds MAX_SPEED*i/n for i = 1..n (n = --speed-steps), or evenly spaced from
--min-speed. Actions are listed steering first (right to left), then speed.
Values are rounded to 4 decimals.

Speed falling with steering: --corner-speed MPS lowers the top speed linearly
from --max-speed (straight) to MPS (full steering); --speed-band DEG:MPS
(repeat) caps the top speed for |steering| <= DEG.

Explicit: --action S:V (repeat; write --action=-30:1 for negative angles) or
--steering-angles=-30,0,30 --speeds 1,2 (every angle with every speed).

Continuous: --continuous with --max-steering/--min-steering and
--max-speed/--min-speed (min speed default 0.5, the console's minimum).

The result is checked (2-30 actions, steering -30..30, speed 0.1..4, one
camera, sac needs continuous, ...); an invalid result is not written (exit 1).
"""

EDIT_RULES = """\
Edit model_metadata.json; everything not edited (unknown keys included) is kept.
Edits apply in this order: --drop (positions of the input file), --add,
--speed-shift/--speed-scale, --sort, --reindex/--no-index, --set-version.
Speeds are clamped to 0.1..4 m/s (continuous: 0.5..4); actions that become
identical at a limit are merged. Actions that carry "index" are renumbered in
list order. The result is checked and only written when valid.
"""


def from_track_rules(d: Settings) -> str:
    """How ``from-track`` derives actions from a line, with the defaults of ``d``."""
    return f"""\
Derive an action space from a line the car should follow: a bundled track's
centre line (TRACK), a waypoint .npy (--track-file), or a racing line
(--racing-line: .npy of (N, 2) or .csv of x, y).

Assumptions:
  line       resampled every --spacing m ({d.spacing:g}); a loop when its ends meet
  curvature  circle through the points --span/2 m behind and ahead (span
             {d.span:g} m), then a moving average over --smooth m ({d.smooth:g});
             + = left turn
  steering   kinematic bicycle model: atan(wheelbase * curvature), wheelbase
             {d.wheelbase:g} m (simulated car, simapp URDF); + = left; clamped to 30
  speed      steady cornering: v = sqrt(a_lat * r), a_lat = --a-lat ({d.a_lat:g}
             m/s^2), clamped to [--min-speed, --max-speed] ({d.min_speed:g}..{d.max_speed:g})
  reduction  k-means on (steering, speed) with a deterministic start (or
             --method quantiles of |steering|); by default samples are folded to
             |steering| and each turning action mirrored left/right; straights
             (|steering| < --straight-deg, {d.straight_deg:g}) become zero steering at
             top speed (plus one slower straight action when N is even). The
             sharpest action on each side takes the largest angle of its cluster,
             rounded up to 0.1 deg, so the tightest corner is covered; each
             action's speed is the speed model at its steering angle.
The model ignores tyre slip, acceleration limits and the car's reaction time.
"""


def summary(meta: ModelMetadata) -> str:
    """``discrete, 10 actions, clipped_ppo, FRONT_FACING_CAMERA, version 5``."""
    version = meta.to_dict()["version"]
    shape = "continuous" if meta.is_continuous else f"discrete, {len(meta.actions)} actions"
    return f"{shape}, {meta.algorithm}, {', '.join(meta.sensors)}, version {version}"


def refuse_invalid(meta: ModelMetadata, what: str, usage: bool) -> None:
    """Refuse an invalid result: bad usage (exit 2) when it comes from the options alone
    (``usage``), else ``CheckFailed`` (exit 1, an edited file)."""
    from pitstop.action_space.check import metadata_problems
    from pitstop.action_space.io import raise_problems

    problems = metadata_problems(meta.to_dict())
    if problems and usage:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"{what}: {problems[0]}{more}")
    raise_problems(what, problems)


def line_summary(name: str, prof: Any, actions: list[Any], asked: int) -> str:
    """What ``from-track`` derived: the line, its tightest corner, the widest action."""
    sharpest = float(abs(prof.curvature).max())
    radius = f"{1 / sharpest:.2f} m" if sharpest > 0 else "none"
    widest = max(abs(a.steering_angle) for a in actions)
    fewer = "" if len(actions) == asked else f" (asked {asked}; the line has less variety)"
    return (
        f"{name}: {prof.length:.1f} m {'loop' if prof.is_loop else 'open line'}, tightest "
        f"radius {radius} -> {float(abs(prof.steering).max()):.2f} deg; widest action "
        f"{widest:g} deg; {len(actions)} actions{fewer}"
    )


def action_table(meta: ModelMetadata) -> tuple[list[str], list[list[object]]]:
    """The actions as (headers, rows): each discrete action, or the continuous ranges."""
    from pitstop.action_space.check import fmt

    space = meta.action_space
    if not meta.is_continuous:
        rows: list[list[object]] = [
            [i, a.index, fmt(a.steering_angle), fmt(a.speed)] for i, a in enumerate(meta.actions)
        ]
        return ["#", "index", "steering (deg)", "speed (m/s)"], rows
    assert not isinstance(space, list)
    return ["", "low", "high"], [
        ["steering_angle (deg)", fmt(space.steering_angle.low), fmt(space.steering_angle.high)],
        ["speed (m/s)", fmt(space.speed.low), fmt(space.speed.high)],
    ]


def check_line_source(track: str | None, track_file: str | None, racing_line: str | None) -> None:
    """``from-track`` needs one line: a TRACK name or --track-file (not both), or a racing line."""
    if track is None and track_file is None and racing_line is None:
        raise UsageError("give a TRACK name, --track-file PATH or --racing-line PATH")
    if track is not None and track_file is not None:
        raise UsageError("give a TRACK name or --track-file, not both")


def check_version(meta: ModelMetadata, set_version: str | None, source: str) -> None:
    """An edit keeps the model's version; a file without one needs ``--set-version``."""
    from pitstop.action_space import limits as L
    from pitstop.errors import CheckFailed

    if not meta.has_version and set_version is None:
        raise CheckFailed(
            f"{source}: version: missing (the simulator would use version 1 physics); "
            f'give --set-version (DRfC writes "{L.DEFAULT_VERSION}")'
        )
