"""`pitstop action-space ...`: model_metadata.json from the command line.

A thin layer over ``pitstop.action_space``: parse options, call the library, print. Every
file this writes has passed ``check`` first; an invalid result is refused with its first
problem (exit 1), bad options are exit 2. numpy and matplotlib load inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from pitstop.action_space import explain
from pitstop.action_space import limits as L
from pitstop.cli.common import (
    FLAG,
    Sub,
    command,
    from_args,
    group,
    numbers,
    one_of,
    opt,
    out_file,
    read_input,
)
from pitstop.cli.output import Table, show

if TYPE_CHECKING:
    from pitstop.action_space.models import ModelMetadata

FILE = opt("file", metavar="FILE", help="model_metadata.json to read ('-' for standard input)")
PAIR = numbers("STEERING:SPEED such as 15:2.5", ":", 2)
RAW: dict[str, Any] = {"formatter_class": argparse.RawDescriptionHelpFormatter, "settings": False}


def _model_options(continuous: bool = True) -> list[Any]:
    algorithm = (
        "training algorithm (default %(default)s; sac needs --continuous)"
        if continuous
        else "training algorithm: clipped_ppo (sac needs a continuous space, and these actions "
        "are discrete)"
    )
    return [
        opt("--algorithm", choices=L.ALGORITHMS if continuous else ("clipped_ppo",), default=L.DEFAULT_ALGORITHM, help=algorithm),
        opt("--sensor", action="append", choices=L.SENSORS, metavar="SENSOR", help=f"repeat for several: one camera ({', '.join(L.CAMERAS)}) and at most one lidar ({', '.join(L.LIDARS)}); default {L.DEFAULT_SENSOR}"),
        opt("--network", choices=L.NETWORKS, default=L.DEFAULT_NETWORK, metavar="NETWORK", help=f"neural network: {', '.join(L.NETWORKS)} (default %(default)s)"),
        opt("--out", metavar="FILE", help="write here instead of printing JSON"),
    ]  # fmt: skip


GENERATE_OPTIONS = [
    opt("--max-steering", type=float, metavar="DEG", help="largest angle (default 30)"),
    opt("--min-steering", type=float, metavar="DEG", help="most negative angle (default -MAX)"),
    opt("--steering-steps", type=int, metavar="N", help="number of angles (default 5)"),
    opt("--max-speed", type=float, metavar="MPS", help="top speed, m/s"),
    opt("--speed-steps", type=int, metavar="N", help="speeds per angle (default 2)"),
    opt("--min-speed", type=float, metavar="MPS", help="lowest speed: evenly spaced"),
    opt("--corner-speed", type=float, metavar="MPS", help="top speed at full steering"),
    opt("--speed-band", dest="speed_bands", type=numbers("MAX_ABS_STEERING:MAX_SPEED such as 10:3.5", ":", 2), action="append", metavar="DEG:MPS", help="speed cap by |angle|"),
    opt("--action", dest="actions", type=PAIR, action="append", metavar="S:V", help="one action"),
    opt("--steering-angles", type=numbers("comma-separated numbers such as -30,0,30", ","), metavar="LIST", help="e.g. =-30,-10,0,10,30"),
    opt("--speeds", type=numbers("comma-separated numbers such as -30,0,30", ","), metavar="LIST", help="e.g. 1.5,3"),
    opt("--continuous", **FLAG, help="continuous ranges"),
    opt("--index", **FLAG, help='add "index" keys, as console exports do'),
    *_model_options(),
]  # fmt: skip
EDIT_OPTIONS = [
    FILE,
    opt("--speed-shift", type=float, metavar="MPS", help="add MPS to every speed"),
    opt("--speed-scale", type=float, metavar="X", help="multiply every speed by X"),
    opt("--add", type=PAIR, action="append", metavar="S:V", help="append an action"),
    opt("--drop", type=int, action="append", metavar="POS", help="remove an action"),
    opt("--sort", **FLAG, help="order by steering, then speed"),
    one_of(
        opt("--reindex", **FLAG, help='write "index" = list position'),
        opt("--no-index", **FLAG, help='remove "index" keys'),
    ),
    opt("--set-version", metavar="V", help='model version to write, e.g. "5"'),
    opt("--out", metavar="FILE", help="write here (may be FILE itself)"),
]


def _track_options() -> tuple[list[Any], Any]:
    from pitstop.action_space.track_settings import Settings

    d = Settings()
    return [
        opt("track", nargs="?", metavar="TRACK", help="bundled track name, e.g. Oval_track"),
        opt("--track-file", metavar="PATH", help="waypoint .npy of shape (N, 6)"),
        opt("--racing-line", metavar="PATH", help="racing line .npy or .csv of x, y"),
        opt("--actions", type=int, required=True, metavar="N", help="number of actions"),
        *(opt(f"--{f.replace('_', '-')}", type=float, default=getattr(d, f), metavar=m)
          for f, m in [("a_lat", "MPS2"), ("max_speed", "MPS"), ("min_speed", "MPS"), ("wheelbase", "M"),
                       ("spacing", "M"), ("span", "M"), ("smooth", "M"), ("straight_deg", "DEG")]),
        opt("--method", choices=("kmeans", "quantiles"), default=d.method),
        opt("--no-mirror", **FLAG, help="keep the line's own turn directions"),
        *_model_options(continuous=False),
    ], d  # fmt: skip


def _load(path: str, strict: bool = True) -> ModelMetadata:
    from pitstop.action_space.io import parse_metadata

    text, source = read_input(path)
    return parse_metadata(text, source, strict=strict)


def _emit(meta: ModelMetadata, args: argparse.Namespace, what: str, usage: bool = False) -> int:
    """Check ``meta``; print it (no --out) or write it (--out). Refuses invalid results:
    exit 2 when ``usage`` (generated from options), else exit 1 (an edited file)."""
    from pitstop.action_space.io import write_metadata

    explain.refuse_invalid(meta, what, usage)
    if args.out is None:
        sys.stdout.write(meta.to_json())
        return 0
    write_metadata(str(out_file(args.out)), meta)
    summary = explain.summary(meta)
    show(
        args,
        {"out": args.out, "summary": summary, "metadata": meta.to_dict()},
        f"wrote {args.out}: {summary}",
    )
    return 0


def _build(actions: Any, args: argparse.Namespace) -> ModelMetadata:
    from pitstop.action_space.generate import build_metadata

    sensors = args.sensor or [L.DEFAULT_SENSOR]
    return build_metadata(actions, algorithm=args.algorithm, sensors=sensors, network=args.network)


def _generate(args: argparse.Namespace) -> int:
    from pitstop.action_space.edit import reindex
    from pitstop.action_space.generate import SpaceOptions, space_from_options

    meta = _build(space_from_options(from_args(SpaceOptions, args)), args)
    if args.index and not meta.is_continuous:
        meta = reindex(meta)
    return _emit(meta, args, "generated action space", usage=True)


def _check(args: argparse.Namespace) -> int:
    from pitstop.action_space.check import metadata_problems
    from pitstop.action_space.io import loads_json
    from pitstop.action_space.models import ModelMetadata

    text, source = read_input(args.file)
    doc = loads_json(text, source)
    problems = [str(p) for p in metadata_problems(doc)]
    valid = (
        None
        if problems
        else f"{source}: valid ({explain.summary(ModelMetadata.model_validate(doc))})"
    )
    lines = [f"{source}: {line}" for line in problems]
    show(args, {"file": source, "valid": not problems, "problems": problems}, *lines, valid)
    return 1 if problems else 0


def _edit(args: argparse.Namespace) -> int:
    from pitstop.action_space.edit import Edits, apply_edits

    meta = _load(args.file, strict=False)  # rule problems may be what this edit repairs
    explain.check_version(meta, args.set_version, args.file)
    meta, notes = apply_edits(meta, from_args(Edits, args))
    for note in notes:
        print(f"pitstop: note: {note}", file=sys.stderr)
    return _emit(meta, args, f"{args.file} after editing")


def _from_track(args: argparse.Namespace) -> int:
    from pitstop import tracks
    from pitstop.action_space import from_track as ft

    explain.check_line_source(args.track, args.track_file, args.racing_line)
    if args.racing_line is not None:
        line, name = ft.read_line(args.racing_line), args.racing_line
    else:
        track = tracks.load_file(args.track_file) if args.track_file else tracks.load(args.track)
        line, name = track.centre, track.name
    settings = from_args(ft.Settings, args, mirror=not args.no_mirror)
    actions, prof = ft.actions_from_line(line, args.actions, settings)
    print(explain.line_summary(name, prof, actions, args.actions), file=sys.stderr)
    return _emit(_build(actions, args), args, f"action space for {name}", usage=True)


def _show(args: argparse.Namespace) -> int:
    meta = _load(args.file)
    if args.plot:
        from pitstop.action_space.plot import plot_metadata

        out_file(args.plot, "--plot")
        plot_metadata(meta, args.plot, title=args.file)
    summary = explain.summary(meta)
    doc: dict[str, Any] = {"file": args.file, "summary": summary, "metadata": meta.to_dict()}
    if args.plot:
        doc["plot"] = args.plot
    plot = f"plot: {args.plot}" if args.plot else None
    table = Table(*explain.action_table(meta))
    show(args, doc, f"{args.file}: {summary}, {meta.network}", table, plot)
    return 0


def register(sub: Sub) -> None:
    """Add the ``action-space`` group to the top-level parser."""
    s = group(
        sub, "action-space", "generate, check, edit, derive and show model_metadata.json",
        "model_metadata.json for every DeepRacer model type: discrete grids, continuous "
        "ranges, SAC, sensors. Limits: 2-30 actions, steering -30..30 deg, speed 0.1..4 m/s "
        "(continuous 0.5..4).",
        dest="as_command",
    )  # fmt: skip
    command(
        s, "generate", _generate,
        "generate model_metadata.json (console grid, lists, falloff, continuous)",
        explain.GENERATE_RULES, GENERATE_OPTIONS, **RAW,
        epilog="example: pitstop action-space generate --max-steering 30 --steering-steps 5 "
        "--max-speed 3 --speed-steps 3 --out model_metadata.json",
    )  # fmt: skip
    command(
        s, "check", _check, "check model_metadata.json (exit 0 valid, 1 invalid, 2 unreadable)",
        "Print one line per problem, naming its JSON path; exit 1 when there are problems, 2 "
        "when the file cannot be read or is not JSON.", [FILE], settings=False,
        epilog="example: pitstop action-space check model_metadata.json",
    )  # fmt: skip
    command(
        s, "edit", _edit, "shift or scale speeds, add, drop, sort, re-index actions",
        explain.EDIT_RULES, EDIT_OPTIONS, **RAW,
        epilog="example: pitstop action-space edit model_metadata.json --speed-shift 0.2 "
        "--out model_metadata.json",
    )  # fmt: skip
    track_options, defaults = _track_options()
    command(
        s, "from-track", _from_track, "derive N actions from a track's centre line or a racing line",
        explain.from_track_rules(defaults), track_options, **RAW,
        epilog="example: pitstop action-space from-track reInvent2019_track --actions 9 "
        "--out model_metadata.json",
    )  # fmt: skip
    command(
        s, "show", _show, "print the actions as a table, and optionally plot them to PNG",
        "A table of the actions; --plot writes a PNG of the actions in steering x speed space "
        "(left turns on the left).",
        [FILE, opt("--plot", metavar="PNG", help="write a plot of the actions here")], settings=False,
        epilog="example: pitstop action-space show model_metadata.json --plot actions.png",
    )  # fmt: skip
