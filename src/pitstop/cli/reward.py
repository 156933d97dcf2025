"""`pitstop reward`: the reward-function library, the validator and the preview.

Commands: ``list``, ``show NAME``, ``new NAME --from BASE``, ``check FILE``,
``preview FILE``. Exit codes: 0 valid / done, 1 the file failed the check, 2 bad usage
(missing file, unknown track or library name). NumPy and matplotlib are imported inside
the handlers only.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pitstop.cli.output import add_json_flag, print_json, table_or_json
from pitstop.errors import InvalidInput, UsageError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``pitstop reward`` and its commands to the top-level parser."""
    p = sub.add_parser(
        "reward",
        help="reward functions: library, validator, preview",
        description=(
            "Reward functions for the DeepRacer simulator: a library of tested functions, "
            "a validator that runs a file the way the simulator does, and a heat-map preview."
        ),
    )
    p.set_defaults(group_parser=p)
    cmds = p.add_subparsers(dest="reward_command", metavar="COMMAND")

    ls = cmds.add_parser(
        "list",
        help="list the library's reward functions",
        description="The bundled reward functions (tested, Python 3.8 like the simulator), "
        "each with a one-line summary; start your own from one with 'reward new'.",
    )
    add_json_flag(ls)
    ls.set_defaults(func=cmd_list)

    show = cmds.add_parser(
        "show",
        help="print a library function's source",
        description="Print the source of a library reward function (see 'reward list').",
    )
    show.add_argument("name", help="library name, e.g. centerline")
    add_json_flag(show)
    show.set_defaults(func=cmd_show)

    new = cmds.add_parser(
        "new",
        help="start a reward file from a library function",
        description="Write NAME.py (or the path given) as a copy of a library function, to "
        "edit and then check with 'reward check'. An existing file is kept unless --force.",
    )
    new.add_argument("name", help="new file name (NAME or path/NAME.py)")
    new.add_argument(
        "--from",
        dest="base",
        default="centerline",
        help="library function to copy (default: centerline)",
    )
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    add_json_flag(new)
    new.set_defaults(func=cmd_new)

    check = cmds.add_parser(
        "check",
        help="validate a reward file (exit 0 valid, 1 invalid, 2 bad usage)",
        description=(
            "Static checks (Python 3.8 grammar, allowed imports, no file/network/process "
            "access, reward_function(params) defined), then calls it in a sandboxed child "
            "over synthetic simulator params for every waypoint of the track."
        ),
    )
    check.add_argument("file", help="reward function .py file")
    _add_track_args(check)
    check.add_argument("--static-only", action="store_true", help="skip the dynamic check")
    add_json_flag(check)
    check.set_defaults(func=cmd_check)

    prev = cmds.add_parser(
        "preview",
        help="draw a heat map of the reward over a track (PNG, or HTML with several speeds)",
        description="Draw the reward at every point of the track's surface, for a car "
        "heading along the track (plus --heading-offset) at --speed, steering straight: a PNG "
        "with the borders, centre line and direction of travel. An .html --out draws one "
        "picture per speed of --speeds on one colour scale, side by side. The file runs in "
        "the same sandbox as 'reward check'. Needs the plot extra (matplotlib).",
    )
    prev.add_argument("file", help="reward function .py file")
    _add_track_args(prev)
    prev.add_argument(
        "--out", default="reward.png", help="output .png (or .html) path (default: reward.png)"
    )
    prev.add_argument("--speed", type=float, default=2.0, help="car speed in m/s (default: 2.0)")
    prev.add_argument(
        "--speeds",
        default="1,2,3",
        help="comma-separated speeds for an .html --out (default: 1,2,3)",
    )
    prev.add_argument(
        "--heading-offset",
        type=float,
        default=0.0,
        help="degrees added to the track direction (default: 0, along the track)",
    )
    add_json_flag(prev)
    prev.set_defaults(func=cmd_preview)


def _add_track_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--track", help="bundled track name (default: reInvent2019_track)")
    g.add_argument("--track-file", help="any waypoint .npy of shape (N, 6)")


def _track(args: argparse.Namespace) -> Any:
    from pitstop import tracks
    from pitstop.reward_funcs import DEFAULT_TRACK

    if args.track_file:
        return tracks.load_file(args.track_file)
    return tracks.load(args.track or DEFAULT_TRACK)


def _read(path: str) -> str:
    from pitstop.files import read_user_file

    p = Path(path)
    data = read_user_file(p)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{p}: not UTF-8 text") from None


def cmd_list(args: argparse.Namespace) -> int:
    from pitstop.reward_funcs import catalog

    rows = [{"name": e.name, "summary": e.summary} for e in catalog.entries()]
    table_or_json(args.json, rows, ["NAME", "SUMMARY"], [(r["name"], r["summary"]) for r in rows])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from pitstop.reward_funcs import catalog

    entry = catalog.get(args.name)
    if args.json:
        print_json({"name": entry.name, "summary": entry.summary, "source": entry.source()})
    else:
        print(entry.source(), end="")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from pitstop.reward_funcs import catalog

    target = catalog.new(args.name, args.base, force=args.force)
    if args.json:
        print_json({"out": str(target), "from": args.base})
    else:
        print(f"wrote {target} (from {args.base}); check it with: pitstop reward check {target}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from pitstop.reward_funcs import sandbox, validate_file

    track = _track(args)
    # one's own file on one's own machine: a kernel without a file wall (an old kernel,
    # not Linux) still gets the check, and the report says which walls held
    limits = sandbox.Limits(require_file_wall=False)
    report = validate_file(args.file, track=track, dynamic=not args.static_only, limits=limits)
    if args.json:
        print_json(report.to_dict())
        return 0 if report.ok else 1
    for w in report.warnings:
        print(f"warning: {w}")
    if not report.ok:
        from pitstop.errors import InvalidRewardFunction

        raise InvalidRewardFunction(report.reason or f"{report.filename}: invalid")
    if report.dynamic_checked:
        speed = (
            f", {report.calls_per_second:,.0f} calls/s ({report.mean_call_ms:.3f} ms per call)"
            if report.calls_per_second
            else ""
        )
        print(
            f"{report.filename}: ok on {report.track}: {report.calls} calls over "
            f"{report.cases_total} states{speed}"
        )
    else:
        print(f"{report.filename}: ok (static checks only)")
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from pitstop.reward_funcs import preview

    track = _track(args)
    source = _read(args.file)
    name = Path(args.file).name
    out = Path(args.out)
    if out.suffix.lower() == ".html":
        try:
            speeds = [float(s) for s in args.speeds.split(",") if s.strip()]
        except ValueError:
            raise UsageError(
                f"--speeds: expected numbers separated by commas, got {args.speeds!r}"
            ) from None
        if not speeds:
            raise UsageError("--speeds: give at least one speed")
        from pitstop.cli.output import progress

        _, (low, high) = preview.preview_html(
            source,
            name,
            track,
            out,
            speeds=speeds,
            heading_offset=args.heading_offset,
            progress=progress(),
        )
        doc: dict[str, Any] = {
            "out": str(out),
            "track": track.name,
            "speeds": speeds,
            "pngs": [str(out.with_name(f"{out.stem}-{s:g}mps.png")) for s in speeds],
            "min": low,
            "max": high,
        }
    else:
        if out.suffix.lower() != ".png":
            raise UsageError(f"--out: expected a .png or .html path, got {out}")
        _, grid = preview.preview(
            source, name, track, out, speed=args.speed, heading_offset=args.heading_offset
        )
        import numpy as np

        vals = grid.values[np.isfinite(grid.values)]
        doc = {
            "out": str(out),
            "track": track.name,
            "speed": args.speed,
            "heading_offset": args.heading_offset,
            "cells": int(vals.size),
            "min": float(vals.min()) if vals.size else None,
            "max": float(vals.max()) if vals.size else None,
        }
    if args.json:
        print_json(doc)
    else:
        print(f"wrote {out}")
    return 0
