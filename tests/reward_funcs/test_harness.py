"""The harness's params against geometry computed by hand on Straight_track and Oval_track."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pitstop import tracks
from pitstop.reward_funcs import harness


@pytest.fixture(scope="module")
def straight() -> tracks.Track:
    return tracks.load("Straight_track")


@pytest.fixture(scope="module")
def oval() -> tracks.Track:
    return tracks.load("Oval_track")


def test_straight_track_point_left_of_centre(straight: tracks.Track) -> None:
    w = straight.waypoints
    # the centre line runs along +x at y ~= 1.20096; the inner border (y ~= 1.506) is left
    x0, y_c = w[0, 0], w[0, 1]
    length = float(np.sum(np.hypot(np.diff(w[:, 0]), np.diff(w[:, 1]))))
    p = harness.params_at(straight, 1.0, 1.3, 0.0)
    assert p["distance_from_center"] == pytest.approx(1.3 - y_c, abs=1e-6)
    assert p["is_left_of_center"] is True
    assert p["progress"] == pytest.approx(100.0 * (1.0 - x0) / length, abs=1e-4)
    assert p["projection_distance"] == pytest.approx(1.0 - x0, abs=1e-6)
    assert p["track_width"] == pytest.approx(w[1, 3] - w[1, 5], abs=1e-6)
    assert p["track_length"] == pytest.approx(length)
    # waypoint 1 at x=0.9807, waypoint 2 at x=1.2525: the car is between them
    assert w[1, 0] < 1.0 < w[2, 0]
    assert p["closest_waypoints"] == [1, 2]
    assert p["all_wheels_on_track"] is True
    assert p["is_offtrack"] is False
    assert len(p["waypoints"]) == len(w)
    assert p["waypoints"][3] == pytest.approx((w[3, 0], w[3, 1]))


def test_straight_track_point_right_of_centre_near_the_end(straight: tracks.Track) -> None:
    w = straight.waypoints
    x = 6.3
    p = harness.params_at(straight, x, 1.05, 0.0)
    assert p["is_left_of_center"] is False
    assert p["distance_from_center"] == pytest.approx(w[-1, 1] - 1.05, abs=1e-6)
    n = len(w)
    assert p["closest_waypoints"] == [n - 2, n - 1]
    total = float(np.sum(np.hypot(np.diff(w[:, 0]), np.diff(w[:, 1]))))
    assert p["progress"] == pytest.approx(100.0 * (x - w[0, 0]) / total, abs=1e-4)


def test_straight_track_wheels_cross_the_border(straight: tracks.Track) -> None:
    w = straight.waypoints
    half = (w[5, 3] - w[5, 5]) / 2.0
    y_c = w[5, 1]
    # car centre 0.05 m inside the left border: its left wheels (0.081 m out) are off
    p = harness.params_at(straight, 2.0, y_c + half - 0.05, 0.0)
    assert p["all_wheels_on_track"] is False
    assert p["is_offtrack"] is False  # the right wheels are still on
    # 0.1 m inside: all four wheels on
    p = harness.params_at(straight, 2.0, y_c + half - 0.1, 0.0)
    assert p["all_wheels_on_track"] is True
    # fully beyond the border: off track
    p = harness.params_at(straight, 2.0, y_c + half + 0.2, 0.0)
    assert p["is_offtrack"] is True
    assert p["distance_from_center"] == pytest.approx(half + 0.2, abs=1e-6)


def _segment_frame(track: tracks.Track, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = track.centre
    mid = (c[i] + c[i + 1]) / 2.0
    d = (c[i + 1] - c[i]) / np.linalg.norm(c[i + 1] - c[i])
    left = np.array([-d[1], d[0]])
    return mid, d, left


@pytest.mark.parametrize(
    ("i", "offset", "straight"),
    [(3, 0.12, True), (3, -0.2, True), (12, 0.05, True), (55, -0.15, True), (40, 0.05, False)],
)
def test_oval_track_hand_geometry(
    oval: tracks.Track, i: int, offset: float, straight: bool
) -> None:
    c = oval.centre
    mid, d, left = _segment_frame(oval, i)
    pos = mid + offset * left
    heading = math.degrees(math.atan2(d[1], d[0]))
    p = harness.params_at(oval, float(pos[0]), float(pos[1]), heading)
    seg = np.hypot(*np.diff(c, axis=0).T)
    along = float(np.sum(seg[:i]) + seg[i] / 2.0)
    assert p["distance_from_center"] == pytest.approx(abs(offset), abs=2e-3)
    assert p["is_left_of_center"] is (offset > 0)
    assert p["closest_waypoints"] == [i, i + 1]
    assert p["progress"] == pytest.approx(100.0 * along / float(np.sum(seg)), abs=0.05)
    assert p["track_length"] == pytest.approx(float(np.sum(seg)))
    # Oval's border points are not opposite each other: the simulator's width is the
    # distance between the borders across the track, i.e. the component of
    # (outer - inner) perpendicular to the direction of travel
    # (on a straight, where the borders are parallel; the oval is 0.6096 m = 2 ft wide)
    across = oval.outer[i] - oval.inner[i]
    expected_width = abs(float(d[0] * across[1] - d[1] * across[0]))
    if straight:
        assert p["track_width"] == pytest.approx(expected_width, rel=0.01)
    assert p["track_width"] == pytest.approx(0.6096, abs=0.01)
    assert p["heading"] == pytest.approx(heading)


def test_oval_track_is_counter_clockwise_and_reversed_flips_sides(oval: tracks.Track) -> None:
    geo = harness.Geometry(oval)
    assert geo.is_loop and geo.is_ccw
    mid, _d, left = _segment_frame(oval, 10)
    pos = mid + 0.1 * left
    fwd = harness.params_at(oval, float(pos[0]), float(pos[1]), 0.0)
    rev = harness.params_at(oval, float(pos[0]), float(pos[1]), 180.0, reverse=True)
    assert fwd["is_left_of_center"] is True
    assert rev["is_left_of_center"] is False
    assert rev["is_reversed"] is True
    n = len(oval.waypoints)
    # reversed waypoints: original index k is n-1-k
    assert rev["closest_waypoints"] == [n - 1 - 11, n - 1 - 10]
    assert rev["progress"] == pytest.approx(100.0 - fwd["progress"], abs=1e-6)
    assert rev["waypoints"][0] == pytest.approx(tuple(oval.centre[-1]))


def test_heading_is_normalised_to_plus_minus_180(oval: tracks.Track) -> None:
    p = harness.params_at(oval, float(oval.centre[5, 0]), float(oval.centre[5, 1]), 270.0)
    assert p["heading"] == pytest.approx(-90.0)


@pytest.mark.parametrize("name", tracks.available())
def test_sweep_covers_every_waypoint_both_sides_and_states(name: str) -> None:
    track = tracks.load(name)
    sw = harness.sweep(track, stride=1)
    cols = sw.columns[0]
    prev = cols["closest_waypoints"][:, 0]
    n_wp = len(track.waypoints) - (1 if harness.Geometry(track).is_loop else 0)
    # every waypoint (or the duplicate of one) is some state's previous waypoint
    seen = set(prev.tolist())
    assert len(seen) >= n_wp - 2 - int(np.sum(np.diff(track.centre, axis=0).any(axis=1) == 0))
    assert cols["is_left_of_center"].any() and (~cols["is_left_of_center"]).any()
    assert cols["is_offtrack"].any() and (~cols["all_wheels_on_track"]).any()
    assert cols["all_wheels_on_track"].any()
    assert any(sw.crashed) and set(sw.speed) == set(harness.SPEEDS)
    assert set(sw.steering) == set(harness.STEERING)
    assert min(sw.steps) == 1 and max(sw.steps) >= 1000
    assert sw.params(len(sw) - 1)["is_reversed"] is True
    progress = [sw.params(i)["progress"] for i in range(0, len(sw), 7)]
    assert min(progress) < 5.0 and max(progress) > 95.0
    for k, v in sw.params(0).items():
        if isinstance(v, float):
            assert math.isfinite(v), k
