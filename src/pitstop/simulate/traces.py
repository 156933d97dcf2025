"""Spot availability traces: one JSON document per zone and instance type.

A file is ``{"metadata": {"gap_seconds": G}, "data": [v0, v1, ...]}``, one value per tick
of G seconds. Two readings exist (see the traces' README):

- ``unavailable-is-1`` (the default): the reading of the simulator of the paper that
  published the traces ("Can't Be Late", NSDI 2024): ``spot_available = not value``.
- ``available-is-1``: the traces' own README ("the number of available instances").

Tick i covers ``[i * G, (i + 1) * G)`` seconds from the start of the trace; the trace ends
at ``len(data) * G``. Nothing is known beyond that.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pitstop.errors import InvalidInput, UsageError

READINGS = ("unavailable-is-1", "available-is-1")
DEFAULT_READING = "unavailable-is-1"
# shipped with the package (data/README.md says where from): what --trace defaults to
DEFAULT_TRACE = "aws-10-26-2022/us-west-2b_v100_1.json"


def default_trace() -> Path:
    """The bundled trace's file (package data, found through importlib.resources)."""
    return Path(
        str(resources.files("pitstop.simulate").joinpath("data", *DEFAULT_TRACE.split("/")))
    )


@dataclass(frozen=True)
class Trace:
    """Spot capacity over time, as the start times of its available/unavailable runs."""

    name: str
    gap_s: float
    available: tuple[bool, ...]  # one per tick

    def __post_init__(self) -> None:
        changes: list[float] = []
        prev: bool | None = None
        for i, a in enumerate(self.available):
            if a != prev:
                changes.append(i * self.gap_s)
                prev = a
        object.__setattr__(self, "_changes", tuple(changes))

    @property
    def duration_s(self) -> float:
        return len(self.available) * self.gap_s

    def available_at(self, t: float) -> bool:
        """Capacity at trace time ``t`` (False outside the trace)."""
        if t < 0 or t >= self.duration_s:
            return False
        return self.available[int(t // self.gap_s)]

    def next_change(self, t: float) -> float:
        """The first tick boundary after ``t`` where availability changes (or the end)."""
        changes: tuple[float, ...] = self._changes  # type: ignore[attr-defined]
        i = bisect_right(changes, t)
        return changes[i] if i < len(changes) else self.duration_s

    def up_runs(self) -> tuple[tuple[float, float], ...]:
        """Every run of capacity as (start, end), trace time, in order."""
        runs: list[tuple[float, float]] = []
        start: float | None = None
        for i, a in enumerate(self.available):
            if a and start is None:
                start = i * self.gap_s
            elif not a and start is not None:
                runs.append((start, i * self.gap_s))
                start = None
        if start is not None:
            runs.append((start, self.duration_s))
        return tuple(runs)

    def fraction_available(self) -> float:
        return sum(self.available) / len(self.available) if self.available else 0.0


def parse_trace(doc: Any, name: str, reading: str = DEFAULT_READING) -> Trace:
    if reading not in READINGS:
        raise UsageError(f"unknown trace reading {reading!r}; choose one of {', '.join(READINGS)}")
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InvalidInput(f"{name}: expected a JSON object with a 'data' list")
    meta = doc.get("metadata")
    gap = meta.get("gap_seconds") if isinstance(meta, dict) else None
    if isinstance(gap, bool) or not isinstance(gap, (int, float)) or gap <= 0:
        raise InvalidInput(f"{name}: metadata.gap_seconds must be a positive number")
    data = doc["data"]
    if not data:
        raise InvalidInput(f"{name}: 'data' is empty")
    values: list[bool] = []
    for i, v in enumerate(data):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise InvalidInput(f"{name}: data[{i}] is {v!r}, expected a count >= 0")
        flag = v > 0
        values.append(not flag if reading == "unavailable-is-1" else flag)
    return Trace(name=name, gap_s=float(gap), available=tuple(values))


def load_trace(path: str | Path, reading: str = DEFAULT_READING) -> Trace:
    """Read one trace file; a missing or malformed file is ``InvalidInput`` (exit 2)."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise InvalidInput(f"trace file not found: {p}") from None
    except OSError as e:
        raise InvalidInput(f"cannot read trace file {p}: {e.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    return parse_trace(doc, _trace_name(p), reading)


def _trace_name(p: Path) -> str:
    return f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem


def find_traces(root: str | Path) -> list[Path]:
    """Every ``*.json`` trace under ``root``, sorted; none found is ``InvalidInput``."""
    r = Path(root)
    if not r.is_dir():
        raise InvalidInput(f"trace directory not found: {r}")
    paths = sorted(p for p in r.rglob("*.json") if p.is_file())
    if not paths:
        raise InvalidInput(f"no *.json traces under {r}")
    return paths
