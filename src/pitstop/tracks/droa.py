"""DeepRacer on AWS's tracks, and which of them (and which direction) a simulator world is.

``data/droa-tracks.json`` is DRoA's own track list (aws-solutions/deepracer-on-aws
``source/libs/config/src/data/tracks.json``, Apache-2.0; see ``data/README.md``). DRoA's model
import (``source/libs/lambda/src/api/utils/validation.ts`` ``validateTrackConfig``) accepts
only those ids as ``WORLD_NAME``, without the simulator's ``_cw``/``_ccw`` suffix, and takes
the direction from ``TRACK_DIRECTION_CLOCKWISE`` (a YAML boolean), except on a track with one
enabled direction, where it uses the track's ``defaultDirection`` and ignores the key.

This module owns the list and the mapping rule only; the export writes the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from pitstop.errors import InvalidInput

CLOCKWISE = "CLOCKWISE"
COUNTER_CLOCKWISE = "COUNTER_CLOCKWISE"
_SUFFIX = re.compile(r"_(cw|ccw)\Z")


@dataclass(frozen=True)
class DroaTrack:
    """One DRoA track: its id, shown name, enabled directions and default direction."""

    track_id: str
    name: str
    enabled_directions: tuple[str, ...]
    default_direction: str

    @property
    def one_direction(self) -> bool:
        return len(self.enabled_directions) == 1


@dataclass(frozen=True)
class DroaTrackChoice:
    """A world as DRoA's import names it: ``WORLD_NAME``, ``TRACK_DIRECTION_CLOCKWISE``, and
    a line saying how the direction was chosen (and what DRoA will do with it)."""

    world: str
    track: DroaTrack
    clockwise: bool
    how: str

    @property
    def droa_direction(self) -> str:
        """The direction DRoA records for the model."""
        if self.track.one_direction:
            return self.track.default_direction
        return CLOCKWISE if self.clockwise else COUNTER_CLOCKWISE


@cache
def droa_tracks() -> dict[str, DroaTrack]:
    """DRoA's tracks by id (62), as its track list names them."""
    text = (
        resources.files("pitstop.tracks")
        .joinpath("data")
        .joinpath("droa-tracks.json")
        .read_text("utf-8")
    )
    out: dict[str, DroaTrack] = {}
    for t in json.loads(text)["tracks"]:
        if t.get("disabled"):
            continue
        out[t["trackId"]] = DroaTrack(
            track_id=t["trackId"],
            name=t["name"],
            enabled_directions=tuple(t["enabledDirections"]),
            default_direction=t["defaultDirection"],
        )
    return out


def split_direction(world: str) -> tuple[str, bool | None]:
    """``reInvent2019_track_cw`` -> (``reInvent2019_track``, True); ``_ccw`` -> False; a world
    without the suffix -> (world, None)."""
    m = _SUFFIX.search(world)
    if m is None:
        return world, None
    return world[: m.start()], m.group(1) == "cw"


def droa_track_for(world: str, waypoints_clockwise: bool | None = None) -> DroaTrackChoice:
    """The DRoA track and direction of simulator world ``world``.

    The direction is the suffix's; a world without one drives the way its waypoints run
    (``waypoints_clockwise``, from the bundled track), else DRoA's default is taken. Either
    way ``how`` says so. ``InvalidInput`` (one line) when DRoA has no such track."""
    track_id, suffix = split_direction(world)
    track = droa_tracks().get(track_id)
    if track is None:
        raise InvalidInput(
            f"world {world!r}: DeepRacer on AWS has no track {track_id!r} (its import accepts "
            f"only its {len(droa_tracks())} track ids), so the model cannot be imported there"
        )
    if suffix is not None:
        clockwise = suffix
        how = f"from the world's _{'cw' if clockwise else 'ccw'} suffix"
    elif waypoints_clockwise is not None:
        clockwise = waypoints_clockwise
        how = f"{world} has no direction suffix, and its waypoints run {_word(clockwise)}"
    else:
        clockwise = track.default_direction == CLOCKWISE
        how = (
            f"{world} has no direction suffix and pitstop does not bundle its waypoints, so "
            "DRoA's default direction"
        )
    if track.one_direction:
        how += (
            f"; DRoA's {track_id} has one direction ({_word(track.default_direction == CLOCKWISE)})"
            ", which its import uses whatever TRACK_DIRECTION_CLOCKWISE says"
        )
    return DroaTrackChoice(world=world, track=track, clockwise=clockwise, how=how)


def _word(clockwise: bool) -> str:
    return "clockwise" if clockwise else "counter-clockwise"


__all__ = [
    "CLOCKWISE",
    "COUNTER_CLOCKWISE",
    "DroaTrack",
    "DroaTrackChoice",
    "droa_track_for",
    "droa_tracks",
    "split_direction",
]
