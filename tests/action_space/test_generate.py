"""Generators: the console grid exactly, and every generated file passes check."""

from __future__ import annotations

import pytest

from pitstop.action_space import (
    SpeedBand,
    banded_falloff,
    build_metadata,
    check_metadata,
    console_grid,
    continuous_space,
    explicit_actions,
    falloff_grid,
    linear_falloff,
    product_actions,
    speed_values,
    steering_values,
)


def pairs(actions: list) -> list[tuple[float, float]]:
    return [(a.steering_angle, a.speed) for a in actions]


def test_console_grid_5_steering_3_speeds_30deg_3mps_is_the_console_formula_exactly() -> None:
    max_steer, n_steer, max_speed, n_speed = 30.0, 5, 3.0, 3
    # the console's formula, written out independently of the generator
    steer = [-max_steer + 2 * max_steer * j / (n_steer - 1) for j in range(n_steer)]
    speed = [max_speed * i / n_speed for i in range(1, n_speed + 1)]
    assert steer == [-30.0, -15.0, 0.0, 15.0, 30.0]
    assert speed == [1.0, 2.0, 3.0]
    expected = [(s, v) for s in steer for v in speed]
    assert pairs(console_grid(max_steer, n_steer, max_speed, n_speed)) == expected


@pytest.mark.parametrize("n_steer", [3, 5, 7])
@pytest.mark.parametrize("n_speed", [1, 2, 3])
@pytest.mark.parametrize(("max_steer", "max_speed"), [(30.0, 4.0), (20.0, 1.0), (15.0, 2.7)])
def test_every_console_grid_matches_the_formula_and_passes_check(
    n_steer: int, n_speed: int, max_steer: float, max_speed: float
) -> None:
    actions = console_grid(max_steer, n_steer, max_speed, n_speed)
    expected = [
        (-max_steer + 2 * max_steer * j / (n_steer - 1), max_speed * i / n_speed)
        for j in range(n_steer)
        for i in range(1, n_speed + 1)
    ]
    assert len(actions) == n_steer * n_speed
    for (s, v), (es, ev) in zip(pairs(actions), expected, strict=True):
        assert s == pytest.approx(es, abs=5e-5) and v == pytest.approx(ev, abs=5e-5)  # 4 decimals
    assert check_metadata(build_metadata(actions).to_dict()) == []


def test_rounding_removes_float_noise() -> None:
    assert steering_values(30, 7) == [-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0]
    assert speed_values(1.0, 3) == [0.3333, 0.6667, 1.0]


def test_asymmetric_steering_and_min_speed() -> None:
    assert steering_values(30, 4, min_steering=-15) == [-15.0, 0.0, 15.0, 30.0]
    assert speed_values(3.0, 3, min_speed=1.5) == [1.5, 2.25, 3.0]
    assert speed_values(3.0, 1, min_speed=1.5) == [3.0]


def test_linear_falloff_lowers_top_speed_with_steering() -> None:
    angles = steering_values(30, 5)
    actions = falloff_grid(angles, linear_falloff(4.0, 1.0, 30.0), 1)
    assert pairs(actions) == [(-30.0, 1.0), (-15.0, 2.5), (0.0, 4.0), (15.0, 2.5), (30.0, 1.0)]


def test_banded_falloff_uses_the_first_band_that_covers_the_angle() -> None:
    top = banded_falloff([SpeedBand(20, 2.5), SpeedBand(10, 4.0), SpeedBand(30, 1.5)])
    assert [top(a) for a in (0, -10, 10.5, -20, 25, 40)] == [4.0, 4.0, 2.5, 2.5, 1.5, 1.5]
    actions = falloff_grid(steering_values(30, 5), top, 2, min_speed=1.0)
    assert pairs(actions)[:2] == [(-30.0, 1.0), (-30.0, 1.5)]
    assert (0.0, 4.0) in pairs(actions)


def test_falloff_drops_duplicates_when_min_speed_meets_a_low_top() -> None:
    actions = falloff_grid([0.0, 30.0], lambda s: 4.0 if s == 0 else 0.8, 3, min_speed=1.0)
    assert pairs(actions) == [(0.0, 1.0), (0.0, 2.5), (0.0, 4.0), (30.0, 0.8)]


def test_explicit_and_product_lists() -> None:
    assert pairs(explicit_actions([(-30, 1), (0, 3.5), (30, 1)])) == [(-30, 1), (0, 3.5), (30, 1)]
    assert pairs(product_actions([-10, 10], [1, 2])) == [(-10, 1), (-10, 2), (10, 1), (10, 2)]


def test_continuous_and_sac_metadata_pass_check() -> None:
    meta = build_metadata(continuous_space(-20, 30, 0.5, 3.5), algorithm="sac")
    doc = meta.to_dict()
    assert doc["action_space"] == {
        "steering_angle": {"low": -20.0, "high": 30.0},
        "speed": {"low": 0.5, "high": 3.5},
    }
    assert doc["action_space_type"] == "continuous" and doc["training_algorithm"] == "sac"
    assert check_metadata(doc) == []


def test_build_metadata_writes_every_key() -> None:
    doc = build_metadata(console_grid(30, 3, 2, 1), sensors=["STEREO_CAMERAS", "LIDAR"]).to_dict()
    assert set(doc) == {
        "action_space",
        "action_space_type",
        "sensor",
        "neural_network",
        "training_algorithm",
        "version",
    }
    assert doc["sensor"] == ["STEREO_CAMERAS", "LIDAR"] and doc["version"] == "5"
