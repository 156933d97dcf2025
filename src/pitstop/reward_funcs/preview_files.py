"""What ``pitstop reward preview`` writes and reports (a PNG at one speed, or an HTML page
with one PNG per speed; the output's kind follows from its name), and the line a passed
``reward check`` prints. The CLI parses and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pitstop.errors import InvalidInput, UsageError
from pitstop.tracks import Track


def read_source(path: str) -> str:
    """A reward file's text (UTF-8, a BOM allowed); unreadable or not text is bad input."""
    from pitstop.files import read_user_file

    p = Path(path)
    data = read_user_file(p)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{p}: not UTF-8 text") from None


def parse_speeds(text: str) -> list[float]:
    try:
        speeds = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--speeds: expected numbers separated by commas, got {text!r}") from None
    if not speeds:
        raise UsageError("--speeds: give at least one speed")
    return speeds


def write_preview(
    path: str,
    track: Track,
    out: Path,
    *,
    speed: float,
    speeds: str,
    heading_offset: float,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Draw the reward of the file at ``path`` over ``track`` into ``out`` (.png: at
    ``speed``; .html: one picture per speed of ``speeds``); what was drawn, as a document."""
    from pitstop.reward_funcs import preview

    source = read_source(path)
    name = Path(path).name
    if out.suffix.lower() == ".html":
        values = parse_speeds(speeds)
        _, (low, high) = preview.preview_html(
            source,
            name,
            track,
            out,
            speeds=values,
            heading_offset=heading_offset,
            progress=progress,
        )
        return {
            "out": str(out),
            "track": track.name,
            "speeds": values,
            "pngs": [str(out.with_name(f"{out.stem}-{s:g}mps.png")) for s in values],
            "min": low,
            "max": high,
        }
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out: expected a .png or .html path, got {out}")
    _, grid = preview.preview(source, name, track, out, speed=speed, heading_offset=heading_offset)
    import numpy as np

    vals = grid.values[np.isfinite(grid.values)]
    return {
        "out": str(out),
        "track": track.name,
        "speed": speed,
        "heading_offset": heading_offset,
        "cells": int(vals.size),
        "min": float(vals.min()) if vals.size else None,
        "max": float(vals.max()) if vals.size else None,
    }


def check_line(report: Any) -> str:
    """``reward.py: ok on TRACK: N calls over M states, X calls/s`` for a passed check."""
    if not report.dynamic_checked:
        return f"{report.filename}: ok (static checks only)"
    speed = ""
    if report.calls_per_second:
        speed = f", {report.calls_per_second:,.0f} calls/s ({report.mean_call_ms:.3f} ms per call)"
    return (
        f"{report.filename}: ok on {report.track}: {report.calls} calls over "
        f"{report.cases_total} states{speed}"
    )
