"""From a track: curvature, the bicycle model, the speed model and the reduction to N."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pitstop import tracks
from pitstop.action_space import build_metadata, check_metadata, metadata_from_track
from pitstop.action_space.from_track import (
    WHEELBASE_M,
    Settings,
    actions_from_line,
    profile,
    read_line,
)
from pitstop.errors import InvalidInput, UsageError


def fit_circle(points: np.ndarray) -> float:
    """Least-squares (Kasa) circle fit; returns the radius. Independent of from_track."""
    x, y = points[:, 0], points[:, 1]
    a = np.column_stack([x, y, np.ones_like(x)])
    b = -(x**2 + y**2)
    (d, e, f), *_ = np.linalg.lstsq(a, b, rcond=None)
    return float(math.sqrt(d**2 / 4 + e**2 / 4 - f))


def circle(radius: float, n: int = 200, clockwise: bool = False) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n)
    if clockwise:
        t = -t
    return np.column_stack([radius * np.cos(t), radius * np.sin(t)])


def pairs(actions: list) -> list[tuple[float, float]]:
    return [(a.steering_angle, a.speed) for a in actions]


OVAL = tracks.load("Oval_track")
# the first corner's core on Oval_track's centre line (waypoints 24..30, curvature ~0.85/m)
OVAL_CORNER_RADIUS = fit_circle(OVAL.centre[24:31])


def test_oval_corner_radius_is_what_the_track_says() -> None:
    assert 1.0 < OVAL_CORNER_RADIUS < 1.3


@pytest.mark.parametrize("n", [3, 5, 7, 9, 15])
def test_oval_gives_symmetric_actions_with_straight_at_top_speed(n: int) -> None:
    actions, _ = actions_from_line(OVAL.centre, n)
    found = pairs(actions)
    assert len(found) == n
    assert (0.0, 4.0) in found  # straight: zero steering at the top speed
    assert max(v for _, v in found) == 4.0
    for s, v in found:
        assert (-s if s else 0.0, v) in found  # mirrored
    assert check_metadata(build_metadata(actions).to_dict()) == []


@pytest.mark.parametrize("n", [3, 5, 7, 9, 15])
def test_oval_curve_steering_matches_the_bicycle_model_within_1_degree(n: int) -> None:
    expected = math.degrees(math.atan(WHEELBASE_M / OVAL_CORNER_RADIUS))
    actions, _ = actions_from_line(OVAL.centre, n)
    sharpest = max(abs(a.steering_angle) for a in actions)
    assert sharpest == pytest.approx(expected, abs=1.0)
    # and the speed of that action is the a_lat model at about that radius (within 10 %)
    speed = next(a.speed for a in actions if abs(a.steering_angle) == sharpest)
    assert speed == pytest.approx(math.sqrt(Settings().a_lat * OVAL_CORNER_RADIUS), rel=0.1)


@pytest.mark.parametrize(("radius", "clockwise"), [(2.0, False), (0.8, False), (1.5, True)])
def test_curvature_of_a_circle_is_one_over_its_radius(radius: float, clockwise: bool) -> None:
    prof = profile(circle(radius, clockwise=clockwise))
    sign = -1.0 if clockwise else 1.0
    assert prof.is_loop
    assert np.allclose(prof.curvature, sign / radius, rtol=0.01)
    steer = sign * math.degrees(math.atan(WHEELBASE_M / radius))
    assert np.allclose(prof.steering, steer, atol=0.05)
    assert np.allclose(prof.speed, min(math.sqrt(Settings().a_lat * radius), 4.0), rtol=0.01)


def test_no_mirror_keeps_the_lines_own_direction() -> None:
    actions, _ = actions_from_line(OVAL.centre, 5, Settings(mirror=False))
    assert all(a.steering_angle >= 0 for a in actions)  # the oval turns left only
    assert (0.0, 4.0) in pairs(actions)


def test_quantiles_method_is_symmetric_too() -> None:
    actions, _ = actions_from_line(OVAL.centre, 7, Settings(method="quantiles"))
    found = pairs(actions)
    assert len(found) == 7 and all((-s if s else 0.0, v) in found for s, v in found)


def test_a_lat_and_speed_limits_shape_the_speeds() -> None:
    slow, _ = actions_from_line(OVAL.centre, 5, Settings(a_lat=1.0, max_speed=3.0, min_speed=0.5))
    fast, _ = actions_from_line(OVAL.centre, 5, Settings(a_lat=6.0))
    assert max(a.speed for a in slow) == 3.0
    assert min(a.speed for a in slow) < min(a.speed for a in fast)


def test_result_is_deterministic() -> None:
    a, _ = actions_from_line(tracks.load("reInvent2019_track").centre, 11)
    b, _ = actions_from_line(tracks.load("reInvent2019_track").centre, 11)
    assert pairs(a) == pairs(b)


@pytest.mark.parametrize("name", [n for n in tracks.available() if n != "Straight_track"])
def test_every_bundled_loop_gives_a_valid_action_space(name: str) -> None:
    meta = metadata_from_track(name, 9)
    assert check_metadata(meta.to_dict()) == []
    assert (0.0, 4.0) in pairs(meta.actions)


def test_racing_line_from_csv_and_npy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    line = OVAL.centre
    csv_path = tmp_path / "line.csv"
    csv_path.write_text("x,y\n" + "\n".join(f"{x},{y}" for x, y in line))
    npy_path = tmp_path / "line.npy"
    np.save(npy_path, line)
    assert np.allclose(read_line(csv_path), line)
    assert np.allclose(read_line(npy_path), line)
    from_csv = metadata_from_track("Oval_track", 7, racing_line=str(csv_path))
    from_track = metadata_from_track("Oval_track", 7)
    assert pairs(from_csv.actions) == pairs(from_track.actions)


def test_bad_inputs_are_one_line_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="never turns"):
        metadata_from_track("Straight_track", 5)
    with pytest.raises(InvalidInput, match="unknown track 'Nowhere'"):
        metadata_from_track("Nowhere", 5)
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    with pytest.raises(InvalidInput, match=r"line 3: expected x, y numbers"):
        read_line(bad)
    with pytest.raises(InvalidInput, match="no such file"):
        read_line(tmp_path / "none.csv")
    with pytest.raises(UsageError, match="console allows 2 to 30"):
        actions_from_line(OVAL.centre, 31)
    with pytest.raises(UsageError, match="--a-lat must be above 0"):
        actions_from_line(OVAL.centre, 5, Settings(a_lat=0))


@pytest.mark.parametrize("name", [n for n in tracks.available() if n != "Straight_track"])
@pytest.mark.parametrize(
    "settings", [Settings(), Settings(method="quantiles"), Settings(mirror=False)], ids=str
)
def test_the_widest_action_covers_the_tightest_corner(name: str, settings: Settings) -> None:
    line = tracks.load(name).centre
    for n in (3, 9, 15):
        actions, prof = actions_from_line(line, n, settings)
        left = [a.steering_angle for a in actions if a.steering_angle > 0]
        right = [a.steering_angle for a in actions if a.steering_angle < 0]
        if prof.steering.max() >= settings.straight_deg:
            assert max(left) >= prof.steering.max(), (n, max(left), prof.steering.max())
        if prof.steering.min() <= -settings.straight_deg and (settings.mirror or right):
            assert min(right) <= prof.steering.min(), (n, min(right), prof.steering.min())
