"""World names: the simulator's full list, the bundled tracks among them, one-line errors."""

from __future__ import annotations

import pytest

from pitstop import tracks
from pitstop.errors import InvalidInput
from pitstop.tracks.worlds import known_worlds, resolve_world


def test_every_bundled_track_is_a_world_and_the_list_is_the_simulators() -> None:
    worlds = set(known_worlds())
    assert set(tracks.available()) <= worlds
    assert len(worlds) > len(tracks.available())  # worlds without bundled waypoints too
    assert {"reInvent2019_track", "2024_reinvent_champ_cw", "Monaco"} <= worlds


def test_an_exact_name_is_taken_as_is() -> None:
    assert resolve_world("reInvent2019_track") == "reInvent2019_track"


def test_a_unique_case_insensitive_match_gives_the_simulators_spelling() -> None:
    assert resolve_world("REINVENT2019_TRACK") == "reInvent2019_track"
    assert resolve_world("oval_track") == "Oval_track"


@pytest.mark.parametrize(
    ("typo", "suggested"),
    [
        ("reInvent2019_trak", "reInvent2019_track"),
        ("nosuch_track", "Oval_track"),
        ("oval", "Oval_track"),
        ("monaco_buildings", "Monaco_building"),
    ],
)
def test_an_unknown_world_is_one_line_naming_the_nearest(typo: str, suggested: str) -> None:
    with pytest.raises(InvalidInput) as e:
        resolve_world(typo, "job.json: world")
    msg = str(e.value)
    assert msg.startswith(f"job.json: world: unknown world {typo!r}; did you mean ")
    assert suggested in msg and "pitstop worlds" in msg and "\n" not in msg


def test_nothing_near_still_says_where_the_list_is() -> None:
    with pytest.raises(InvalidInput, match="unknown world 'zzzz'; 'pitstop worlds' lists"):
        resolve_world("zzzz")


def test_a_track_name_in_another_case_loads_the_bundled_track() -> None:
    assert tracks.load("oval_track").name == "Oval_track"


def test_a_world_without_bundled_waypoints_says_so_and_what_to_do() -> None:
    with pytest.raises(InvalidInput, match="'Monaco': a simulator world whose waypoints"):
        tracks.load("Monaco")


def test_a_misspelt_track_suggests_the_nearest_bundled_one() -> None:
    with pytest.raises(InvalidInput, match=r"unknown track 'Ovl_track'; did you mean Oval_track"):
        tracks.load("Ovl_track")
