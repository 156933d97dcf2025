"""Generators of action spaces: the console's grid, explicit lists, asymmetric steering,
speed that falls with steering angle, and continuous ranges.

Every generator returns a ``ModelMetadata`` with all keys written out (sensor, network,
algorithm, type, version). Generators do not check the rules; callers run
``check_metadata`` on the result (the CLI does, and refuses to write an invalid file).
Values are rounded to 4 decimals so that 30 * (2/6 - 1) prints as -20, not -19.999999.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pitstop.action_space import limits as L
from pitstop.action_space.models import (
    Action,
    ContinuousSpace,
    ModelMetadata,
    Range,
    make_action,
)
from pitstop.errors import UsageError

DECIMALS = 4


def _r(x: float) -> float:
    return round(float(x), DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def steering_values(
    max_steering: float, steps: int, min_steering: float | None = None
) -> list[float]:
    """``steps`` angles evenly spaced over [min_steering, max_steering].

    ``min_steering`` defaults to ``-max_steering`` (the console's symmetric grid); give it
    for asymmetric steering, e.g. -15..30. One step means straight ahead only.
    """
    low = -max_steering if min_steering is None else min_steering
    if steps < 1:
        raise ValueError("steering steps must be at least 1")
    if steps == 1:
        return [0.0]
    return [_r(low + (max_steering - low) * j / (steps - 1)) for j in range(steps)]


def speed_values(max_speed: float, steps: int, min_speed: float | None = None) -> list[float]:
    """``steps`` speeds: the console's ``max_speed * i / n`` for i = 1..n, or evenly spaced
    over [min_speed, max_speed] when ``min_speed`` is given."""
    if steps < 1:
        raise ValueError("speed steps must be at least 1")
    if min_speed is None:
        return [_r(max_speed * i / steps) for i in range(1, steps + 1)]
    if steps == 1:
        return [_r(max_speed)]
    return [_r(min_speed + (max_speed - min_speed) * i / (steps - 1)) for i in range(steps)]


def build_metadata(
    action_space: list[Action] | ContinuousSpace,
    *,
    algorithm: str = L.DEFAULT_ALGORITHM,
    sensors: Sequence[str] = (L.DEFAULT_SENSOR,),
    network: str = L.DEFAULT_NETWORK,
    version: str = L.DEFAULT_VERSION,
) -> ModelMetadata:
    """A complete model_metadata with every key written out."""
    return ModelMetadata(
        action_space=action_space,
        sensor=list(sensors),
        neural_network=network,
        training_algorithm=algorithm,
        action_space_type="continuous" if isinstance(action_space, ContinuousSpace) else "discrete",
        version=version,
    )


def grid_actions(
    steerings: Sequence[float],
    speed_for: Callable[[float], list[float]],
) -> list[Action]:
    """Every steering angle with each of its speeds: steering outer, speed inner."""
    return [make_action(s, v) for s in steerings for v in speed_for(s)]


def console_grid(
    max_steering: float,
    steering_steps: int,
    max_speed: float,
    speed_steps: int,
    min_speed: float | None = None,
    min_steering: float | None = None,
) -> list[Action]:
    """The console's grid: steering evenly spaced over [-max, +max] with N values, and
    speeds ``max_speed * i / n`` for i = 1..n (or from ``min_speed``)."""
    speeds = speed_values(max_speed, speed_steps, min_speed)
    return grid_actions(
        steering_values(max_steering, steering_steps, min_steering), lambda _s: speeds
    )


def explicit_actions(pairs: Sequence[tuple[float, float]]) -> list[Action]:
    """Actions exactly as listed: (steering, speed) pairs, in order."""
    return [make_action(_r(s), _r(v)) for s, v in pairs]


def product_actions(steerings: Sequence[float], speeds: Sequence[float]) -> list[Action]:
    """Every listed steering angle with every listed speed."""
    return grid_actions([_r(s) for s in steerings], lambda _s: [_r(v) for v in speeds])


@dataclass(frozen=True)
class SpeedBand:
    """Up to ``max_abs_steering`` degrees, speeds reach at most ``max_speed``."""

    max_abs_steering: float
    max_speed: float


def linear_falloff(
    max_speed: float, corner_speed: float, max_abs_steering: float
) -> Callable[[float], float]:
    """Top speed falling linearly from ``max_speed`` (straight) to ``corner_speed`` at
    full steering."""

    def top(steering: float) -> float:
        if max_abs_steering <= 0:
            return max_speed
        share = min(abs(steering) / max_abs_steering, 1.0)
        return max_speed - (max_speed - corner_speed) * share

    return top


def banded_falloff(bands: Sequence[SpeedBand]) -> Callable[[float], float]:
    """Top speed from a table of bands of |steering| (the first band that covers it)."""
    ordered = sorted(bands, key=lambda b: b.max_abs_steering)
    if not ordered:
        raise ValueError("give at least one speed band")

    def top(steering: float) -> float:
        for band in ordered:
            if abs(steering) <= band.max_abs_steering + 1e-9:
                return band.max_speed
        return ordered[-1].max_speed

    return top


def falloff_grid(
    steerings: Sequence[float],
    top_speed: Callable[[float], float],
    speed_steps: int,
    min_speed: float | None = None,
) -> list[Action]:
    """A grid whose speeds shrink with steering: at each angle, ``speed_steps`` speeds up
    to ``top_speed(angle)`` (console formula, or from ``min_speed``). Duplicates, which
    appear when ``min_speed`` meets a low top speed, are dropped."""
    actions: list[Action] = []
    seen: set[tuple[float, float]] = set()
    for s in steerings:
        top = top_speed(s)
        low = None if min_speed is None else min(min_speed, top)
        for v in speed_values(top, speed_steps, low):
            if (s, v) not in seen:
                seen.add((s, v))
                actions.append(make_action(s, v))
    return actions


def continuous_space(
    min_steering: float, max_steering: float, min_speed: float, max_speed: float
) -> ContinuousSpace:
    """Continuous ranges: steering [low, high] in degrees, speed [low, high] in m/s."""
    return ContinuousSpace(
        steering_angle=Range(low=_r(min_steering), high=_r(max_steering)),
        speed=Range(low=_r(min_speed), high=_r(max_speed)),
    )


def default_metadata() -> dict[str, object]:
    """DRfC's default model_metadata.json: five steering angles at 0.6 m/s, PPO, version "5"."""
    actions = grid_actions([-30.0, -15.0, 0.0, 15.0, 30.0], lambda _s: [0.6])
    return build_metadata(actions).to_dict()


@dataclass(frozen=True)
class SpaceOptions:
    """What ``pitstop action-space generate`` was asked for (None: not given)."""

    continuous: bool = False
    max_steering: float | None = None
    min_steering: float | None = None
    steering_steps: int | None = None
    max_speed: float | None = None
    min_speed: float | None = None
    speed_steps: int | None = None
    corner_speed: float | None = None
    speed_bands: tuple[tuple[float, float], ...] = ()
    actions: tuple[tuple[float, float], ...] = ()
    steering_angles: tuple[float, ...] | None = None
    speeds: tuple[float, ...] | None = None


def space_from_options(o: SpaceOptions) -> list[Action] | ContinuousSpace:
    """Which generator a combination of options means, and its actions (or ranges).

    Continuous ranges, explicit actions, every angle with every speed, a grid whose top
    speed falls with steering (linear or banded), or the console's grid; a combination
    that mixes them is a ``UsageError`` naming the options."""
    explicit = bool(o.actions) or o.steering_angles is not None or o.speeds is not None
    grid = any(v is not None for v in (o.steering_steps, o.speed_steps, o.corner_speed)) or bool(
        o.speed_bands
    )
    if o.actions and (o.steering_angles is not None or o.speeds is not None):
        raise UsageError("give --action, or --steering-angles with --speeds, not both")
    if explicit and grid:
        raise UsageError("explicit actions exclude the grid options (--steering-steps, ...)")
    if o.corner_speed is not None and o.speed_bands:
        raise UsageError("give --corner-speed (linear) or --speed-band (table), not both")
    max_steer = 30.0 if o.max_steering is None else o.max_steering
    if not 0 <= max_steer <= 90:
        raise UsageError(f"--max-steering {max_steer:g}: give degrees from 0 to 30")
    if o.continuous:
        if explicit or grid:
            raise UsageError(
                "--continuous takes ranges only: --max-steering, "
                "--min-steering, --max-speed, --min-speed"
            )
        if o.max_speed is None:
            raise UsageError("--continuous needs --max-speed")
        low_steer = -max_steer if o.min_steering is None else o.min_steering
        low_speed = L.MIN_CONTINUOUS_SPEED if o.min_speed is None else o.min_speed
        return continuous_space(low_steer, max_steer, low_speed, o.max_speed)
    if o.actions:
        return explicit_actions(o.actions)
    if o.steering_angles is not None or o.speeds is not None:
        if o.steering_angles is None or o.speeds is None:
            raise UsageError("--steering-angles and --speeds go together")
        return product_actions(o.steering_angles, o.speeds)
    if o.max_speed is None and not o.speed_bands:
        raise UsageError("give --max-speed (or --action / --steering-angles with --speeds)")
    steer_steps = 5 if o.steering_steps is None else o.steering_steps
    speed_steps = 2 if o.speed_steps is None else o.speed_steps
    if steer_steps < 1 or speed_steps < 1:
        raise UsageError("--steering-steps and --speed-steps must be at least 1")
    angles = steering_values(max_steer, steer_steps, o.min_steering)
    if o.corner_speed is not None:
        assert o.max_speed is not None  # checked above: no bands here
        top = linear_falloff(o.max_speed, o.corner_speed, max(abs(a) for a in angles))
        return falloff_grid(angles, top, speed_steps, o.min_speed)
    if o.speed_bands:
        bands = [SpeedBand(d, v) for d, v in o.speed_bands]
        return falloff_grid(angles, banded_falloff(bands), speed_steps, o.min_speed)
    assert o.max_speed is not None
    return console_grid(
        max_steer, steer_steps, o.max_speed, speed_steps, o.min_speed, o.min_steering
    )
