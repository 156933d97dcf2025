"""DeepRacer track waypoints bundled with pitstop, and a loader for any other ``.npy``.

The bundled arrays come from the DeepRacer simulation application (Apache-2.0; see
``data/README.md`` and ``data/LICENSE-Apache-2.0.txt``). Each is float64 of shape (N, 6):
centre x, y | inner border x, y | outer border x, y, in metres. Loops are closed (first row
equals last row); ``Straight_track`` is not a loop.

This module owns loading and basic geometry only; simulator params (closest waypoints,
progress, ...) belong to ``pitstop.reward_funcs``, action derivation to
``pitstop.action_space``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pitstop.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Track:
    """One track: ``waypoints`` is the raw (N, 6) array as the simulator ships it."""

    name: str
    waypoints: FloatArray

    @property
    def centre(self) -> FloatArray:
        return self.waypoints[:, 0:2]

    @property
    def inner(self) -> FloatArray:
        return self.waypoints[:, 2:4]

    @property
    def outer(self) -> FloatArray:
        return self.waypoints[:, 4:6]

    @cached_property
    def is_loop(self) -> bool:
        return bool(np.allclose(self.waypoints[0], self.waypoints[-1]))

    @cached_property
    def widths(self) -> FloatArray:
        """Track width at each waypoint: distance between its inner and outer border points."""
        return np.asarray(np.linalg.norm(self.outer - self.inner, axis=1), dtype=np.float64)

    @cached_property
    def signed_area(self) -> float:
        """The centre line's signed area (shoelace), m²: positive when the waypoints run
        counter-clockwise, negative when clockwise, about 0 for a track that is no loop."""
        x, y = self.centre[:, 0], self.centre[:, 1]
        return float(0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))

    @property
    def clockwise(self) -> bool:
        """Do the waypoints (the direction the simulator drives) run clockwise?"""
        return self.signed_area < 0

    @cached_property
    def length(self) -> float:
        """Length of the centre line, in metres."""
        return float(np.linalg.norm(np.diff(self.centre, axis=0), axis=1).sum())


def _data_dir() -> Path:
    return Path(str(resources.files("pitstop.tracks").joinpath("data")))


def available() -> list[str]:
    """Names of the bundled tracks, sorted."""
    return sorted(p.stem for p in _data_dir().glob("*.npy"))


def load(name: str) -> Track:
    """Load a bundled track by name (``Oval_track``, ``reInvent2019_track``, ...); a unique
    case-insensitive match is taken. ``InvalidInput`` names the nearest bundled tracks, or
    says when the name is a simulator world whose waypoints are not bundled."""
    names = available()
    if name not in names:
        same = [n for n in names if n.lower() == name.lower()]
        if len(same) == 1:
            name = same[0]
    path = _data_dir() / f"{name}.npy"
    if name not in names or not path.is_file():
        from pitstop.tracks.worlds import known_worlds

        if name in known_worlds():
            raise InvalidInput(
                f"track {name!r}: a simulator world whose waypoints pitstop does not bundle; "
                "give its waypoint .npy with --track-file"
            )
        by_lower = {n.lower(): n for n in names}
        near = [by_lower[n] for n in difflib.get_close_matches(name.lower(), list(by_lower), n=3)]
        hint = f"did you mean {', '.join(near)}? " if near else ""
        raise InvalidInput(f"unknown track {name!r}; {hint}bundled tracks: {', '.join(names)}")
    return load_file(path, name=name)


def load_file(path: str | Path, name: str | None = None) -> Track:
    """Load any waypoint ``.npy`` of shape (N, 6) (or (N, 2): a centre line only is refused)."""
    p = Path(path)
    try:
        arr = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise InvalidInput(f"{p}: no such file") from None
    except (ValueError, OSError) as e:
        raise InvalidInput(f"{p}: not a NumPy .npy array ({e})") from None
    if arr.ndim != 2 or arr.shape[1] != 6 or arr.shape[0] < 3:
        raise InvalidInput(
            f"{p}: expected a waypoint array of shape (N, 6) with N >= 3, got {arr.shape}"
        )
    arr = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InvalidInput(f"{p}: waypoints contain NaN or infinite values")
    return Track(name=name or p.stem, waypoints=arr)


__all__ = ["Track", "available", "load", "load_file"]
