"""`pitstop reward`: the reward-function library, the validator and the preview.

Commands: ``list``, ``show NAME``, ``new NAME --from BASE``, ``check FILE``,
``preview FILE``. Exit codes: 0 valid / done, 1 the file failed the check, 2 bad usage
(missing file, unknown track or library name). NumPy and matplotlib are imported inside
the handlers only.
"""

from __future__ import annotations

import argparse
from typing import Any

from pitstop.cli.common import AS_LISTED, FLAG, JSON, Sub, command, group, one_of, opt, out_file
from pitstop.cli.output import Table, show

FILE = opt("file", help="reward function .py file")
TRACK = one_of(
    opt("--track", help="bundled track name (default: reInvent2019_track)"),
    opt("--track-file", help="any waypoint .npy of shape (N, 6)"),
)
PREVIEW_OPTIONS = [
    opt("--out", default="reward.png", help="output .png (or .html) path (default: reward.png)"),
    opt("--speed", type=float, default=2.0, help="car speed in m/s (default: 2.0)"),
    opt("--speeds", default="1,2,3", help="comma-separated speeds for an .html --out (default: 1,2,3)"),
    opt("--heading-offset", type=float, default=0.0, help="degrees added to the track direction (default: 0, along the track)"),
]  # fmt: skip


def register(sub: Sub) -> None:
    """Add ``pitstop reward`` and its commands to the top-level parser."""
    cmds = group(
        sub, "reward", "reward functions: library, validator, preview",
        "Reward functions for the DeepRacer simulator: a library of tested functions, a "
        "validator that runs a file the way the simulator does, and a heat-map preview.",
        dest="reward_command",
    )  # fmt: skip
    plain: dict[str, Any] = {"settings": False}
    command(
        cmds, "list", cmd_list, "list the library's reward functions",
        "The bundled reward functions (tested, Python 3.8 like the simulator), each with a "
        "one-line summary; start your own from one with 'reward new'.", **plain,
    )  # fmt: skip
    command(
        cmds, "show", cmd_show, "print a library function's source",
        "Print the source of a library reward function (see 'reward list').",
        [opt("name", help="library name, e.g. centerline")], **plain,
    )  # fmt: skip
    command(
        cmds, "new", cmd_new, "start a reward file from a library function",
        "Write NAME.py (or the path given) as a copy of a library function, to edit and then "
        "check with 'reward check'. An existing file is kept unless --force.",
        [opt("name", help="new file name (NAME or path/NAME.py)"),
         opt("--from", dest="base", default="centerline", help="library function to copy (default: centerline)"),
         opt("--force", **FLAG, help="overwrite an existing file")], **plain,
    )  # fmt: skip
    command(
        cmds, "check", cmd_check, "validate a reward file (exit 0 valid, 1 invalid, 2 bad usage)",
        "Static checks (Python 3.8 grammar, allowed imports, no file/network/process access, "
        "reward_function(params) defined), then calls it in a sandboxed child over synthetic "
        "simulator params for every waypoint of the track.",
        [FILE, TRACK, opt("--static-only", **FLAG, help="skip the dynamic check"), JSON], **AS_LISTED,
    )  # fmt: skip
    command(
        cmds, "preview", cmd_preview,
        "draw a heat map of the reward over a track (PNG, or HTML with several speeds)",
        "Draw the reward at every point of the track's surface, for a car heading along the "
        "track (plus --heading-offset) at --speed, steering straight: a PNG with the borders, "
        "centre line and direction of travel. An .html --out draws one picture per speed of "
        "--speeds on one colour scale, side by side. The file runs in the same sandbox as "
        "'reward check'. Needs the plot extra (matplotlib).",
        [FILE, TRACK, *PREVIEW_OPTIONS, JSON], **AS_LISTED,
    )  # fmt: skip


def _track(args: argparse.Namespace) -> Any:
    from pitstop import tracks
    from pitstop.reward_funcs import DEFAULT_TRACK

    if args.track_file:
        return tracks.load_file(args.track_file)
    return tracks.load(args.track or DEFAULT_TRACK)


def cmd_list(args: argparse.Namespace) -> int:
    from pitstop.reward_funcs import catalog

    rows = [{"name": e.name, "summary": e.summary} for e in catalog.entries()]
    show(args, rows, Table(["NAME", "SUMMARY"], [(r["name"], r["summary"]) for r in rows]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from pitstop.reward_funcs import catalog

    entry = catalog.get(args.name)
    doc = {"name": entry.name, "summary": entry.summary, "source": entry.source()}
    show(args, doc, lambda: print(entry.source(), end=""))
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from pitstop.reward_funcs import catalog

    target = catalog.new(args.name, args.base, force=args.force)
    text = f"wrote {target} (from {args.base}); check it with: pitstop reward check {target}"
    show(args, {"out": str(target), "from": args.base}, text)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from pitstop.errors import InvalidRewardFunction
    from pitstop.reward_funcs import sandbox, validate_file
    from pitstop.reward_funcs.preview_files import check_line

    track = _track(args)
    # one's own file on one's own machine: a kernel without a file wall (an old kernel,
    # not Linux) still gets the check, and the report says which walls held
    limits = sandbox.Limits(require_file_wall=False)
    report = validate_file(args.file, track=track, dynamic=not args.static_only, limits=limits)

    def fail() -> None:  # after the warnings, instead of the line saying it passed
        if not report.ok:
            raise InvalidRewardFunction(report.reason or f"{report.filename}: invalid")

    warnings = (f"warning: {w}" for w in report.warnings)
    show(args, report.to_dict(), *warnings, fail, lambda: print(check_line(report)))
    return 0 if report.ok else 1


def cmd_preview(args: argparse.Namespace) -> int:
    from pitstop.cli.output import progress
    from pitstop.reward_funcs.preview_files import write_preview

    out = out_file(args.out)
    doc = write_preview(
        args.file,
        _track(args),
        out,
        speed=args.speed,
        speeds=args.speeds,
        heading_offset=args.heading_offset,
        progress=progress(),
    )
    show(args, doc, f"wrote {out}")
    return 0
