"""Every library function passes the validator on every bundled track."""

from __future__ import annotations

import ast

import pytest

from pitstop import tracks
from pitstop.reward_funcs import catalog, harness, validate_many

LIBRARY = catalog.entries()


def test_library_has_the_seven_functions_of_the_issue() -> None:
    assert {e.name for e in LIBRARY} == {
        "centerline",
        "all_wheels_speed",
        "progress_per_step",
        "heading_alignment",
        "steering_penalty",
        "racing_line",
        "combined",
    }


@pytest.mark.parametrize("entry", LIBRARY, ids=lambda e: e.name)
def test_library_file_is_python38_math_only_with_a_docstring(entry: catalog.LibraryEntry) -> None:
    source = entry.source()
    tree = ast.parse(source, feature_version=(3, 8))
    doc = ast.get_docstring(tree)
    assert doc and "Weights" in doc and "Idea" in doc
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }
    assert imports <= {"math"}


@pytest.mark.parametrize("track_name", tracks.available())
def test_every_library_function_passes_on_every_track(track_name: str) -> None:
    track = tracks.load(track_name)
    reports = validate_many([(e.source(), f"{e.name}.py") for e in LIBRARY], track=track, stride=4)
    for r in reports:
        assert r.ok, r.reason
        assert r.calls == r.cases_total > 0


def _reward(name: str, params: dict[str, object]) -> float:
    ns: dict[str, object] = {}
    exec(compile(catalog.get(name).source(), name, "exec"), ns)
    return float(ns["reward_function"](params))  # type: ignore[operator]


def test_library_functions_reward_what_their_docstrings_say() -> None:
    track = tracks.load("reInvent2019_track")
    c = track.centre
    x, y = float(c[20, 0]), float(c[20, 1])
    along = harness.heading_along(track, x, y)
    on_centre = harness.params_at(track, x, y, along, speed=3.0)
    across = harness.params_at(track, x, y, along + 60.0, speed=3.0)
    slow = harness.params_at(track, x, y, along, speed=0.5)
    steer = harness.params_at(track, x, y, along, speed=3.0, steering_angle=30.0)
    assert _reward("heading_alignment", on_centre) > _reward("heading_alignment", across)
    assert _reward("all_wheels_speed", on_centre) > _reward("all_wheels_speed", slow)
    assert _reward("steering_penalty", on_centre) > _reward("steering_penalty", steer)
    edge = dict(on_centre, distance_from_center=0.45 * float(on_centre["track_width"]))  # type: ignore[arg-type]
    assert _reward("centerline", on_centre) > _reward("centerline", edge)
    off = dict(on_centre, is_offtrack=True)
    assert _reward("combined", off) < _reward("combined", on_centre)
