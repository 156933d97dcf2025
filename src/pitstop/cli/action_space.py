"""`pitstop action-space ...`: model_metadata.json from the command line.

A thin layer over ``pitstop.action_space``: parse options, call the library, print. Every
file this writes has passed ``check`` first; an invalid result is refused with its first
problem (exit 1), bad options are exit 2. numpy and matplotlib load inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from pitstop.action_space import limits as L
from pitstop.cli.common import read_input
from pitstop.cli.output import add_json_flag, print_json, print_table
from pitstop.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from pitstop.action_space.models import ModelMetadata

FILE_HELP = "model_metadata.json to read ('-' for standard input)"


# --- shared helpers -----------------------------------------------------------------------


def _pair(text: str) -> tuple[float, float]:
    """``STEERING:SPEED`` (e.g. ``-30:1.5``) as floats."""
    try:
        steer, speed = text.split(":")
        return float(steer), float(speed)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected STEERING:SPEED such as 15:2.5, got {text!r}"
        ) from None


def _band(text: str) -> tuple[float, float]:
    try:
        deg, speed = text.split(":")
        return float(deg), float(speed)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected MAX_ABS_STEERING:MAX_SPEED such as 10:3.5, got {text!r}"
        ) from None


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as -30,0,30, got {text!r}"
        ) from None


def _load(path: str, strict: bool = True) -> ModelMetadata:
    from pitstop.action_space.io import parse_metadata

    text, source = read_input(path)
    return parse_metadata(text, source, strict=strict)


def _summary(meta: ModelMetadata) -> str:
    version = meta.to_dict()["version"]
    shape = "continuous" if meta.is_continuous else f"discrete, {len(meta.actions)} actions"
    return f"{shape}, {meta.algorithm}, {', '.join(meta.sensors)}, version {version}"


def _emit(meta: ModelMetadata, args: argparse.Namespace, what: str, usage: bool = False) -> int:
    """Check ``meta``; print it (no --out) or write it (--out). Refuses invalid results:
    exit 2 when ``usage`` (generated from options), else exit 1 (an edited file)."""
    from pitstop.action_space.check import metadata_problems
    from pitstop.action_space.io import raise_problems, write_metadata

    problems = metadata_problems(meta.to_dict())
    if problems and usage:
        # the result comes from the options alone: bad options are bad usage (exit 2)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"{what}: {problems[0]}{more}")
    raise_problems(what, problems)
    if args.out is None:
        sys.stdout.write(meta.to_json())
        return 0
    write_metadata(args.out, meta)
    if getattr(args, "json", False):
        print_json({"out": args.out, "summary": _summary(meta), "metadata": meta.to_dict()})
    else:
        print(f"wrote {args.out}: {_summary(meta)}")
    return 0


def _add_model_options(p: argparse.ArgumentParser, continuous: bool = True) -> None:
    p.add_argument(
        "--algorithm",
        choices=L.ALGORITHMS if continuous else ("clipped_ppo",),
        default=L.DEFAULT_ALGORITHM,
        help="training algorithm (default %(default)s; sac needs --continuous)"
        if continuous
        else "training algorithm: clipped_ppo (sac needs a continuous space, and these "
        "actions are discrete)",
    )
    p.add_argument(
        "--sensor",
        action="append",
        choices=L.SENSORS,
        metavar="SENSOR",
        help=f"repeat for several: one camera ({', '.join(L.CAMERAS)}) and at most one lidar "
        f"({', '.join(L.LIDARS)}); default {L.DEFAULT_SENSOR}",
    )
    p.add_argument(
        "--network",
        choices=L.NETWORKS,
        default=L.DEFAULT_NETWORK,
        metavar="NETWORK",
        help=f"neural network: {', '.join(L.NETWORKS)} (default %(default)s)",
    )
    p.add_argument("--out", metavar="FILE", help="write here instead of printing JSON")
    add_json_flag(p)


def _build(actions: Any, args: argparse.Namespace) -> ModelMetadata:
    from pitstop.action_space.generate import build_metadata

    return build_metadata(
        actions,
        algorithm=args.algorithm,
        sensors=args.sensor or [L.DEFAULT_SENSOR],
        network=args.network,
    )


# --- action-space generate ----------------------------------------------------------------


def _generate(args: argparse.Namespace) -> int:
    from pitstop.action_space.edit import reindex
    from pitstop.action_space.generate import SpaceOptions, space_from_options

    space = space_from_options(
        SpaceOptions(
            continuous=args.continuous,
            max_steering=args.max_steering,
            min_steering=args.min_steering,
            steering_steps=args.steering_steps,
            max_speed=args.max_speed,
            min_speed=args.min_speed,
            speed_steps=args.speed_steps,
            corner_speed=args.corner_speed,
            speed_bands=tuple(args.speed_band or ()),
            actions=tuple(args.action or ()),
            steering_angles=None if args.steering_angles is None else tuple(args.steering_angles),
            speeds=None if args.speeds is None else tuple(args.speeds),
        )
    )
    meta = _build(space, args)
    if args.index and not meta.is_continuous:
        meta = reindex(meta)
    return _emit(meta, args, "generated action space", usage=True)


def _register_generate(sub: Any) -> None:
    p = sub.add_parser(
        "generate",
        help="generate model_metadata.json (console grid, lists, falloff, continuous)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent(
            """\
            Generate model_metadata.json and print it (or --out FILE).

            Console grid (default): steering evenly spaced over [-MAX, +MAX] (or
            [--min-steering, MAX] for asymmetric steering) with --steering-steps values;
            speeds MAX_SPEED*i/n for i = 1..n (n = --speed-steps), or evenly spaced from
            --min-speed. Actions are listed steering first (right to left), then speed.
            Values are rounded to 4 decimals.

            Speed falling with steering: --corner-speed MPS lowers the top speed linearly
            from --max-speed (straight) to MPS (full steering); --speed-band DEG:MPS
            (repeat) caps the top speed for |steering| <= DEG.

            Explicit: --action S:V (repeat; write --action=-30:1 for negative angles) or
            --steering-angles=-30,0,30 --speeds 1,2 (every angle with every speed).

            Continuous: --continuous with --max-steering/--min-steering and
            --max-speed/--min-speed (min speed default 0.5, the console's minimum).

            The result is checked (2-30 actions, steering -30..30, speed 0.1..4, one
            camera, sac needs continuous, ...); an invalid result is not written (exit 1).
            """
        ),
        epilog="example: pitstop action-space generate --max-steering 30 --steering-steps 5 "
        "--max-speed 3 --speed-steps 3 --out model_metadata.json",
    )
    p.add_argument("--max-steering", type=float, metavar="DEG", help="largest angle (default 30)")
    p.add_argument(
        "--min-steering", type=float, metavar="DEG", help="most negative angle (default -MAX)"
    )
    p.add_argument("--steering-steps", type=int, metavar="N", help="number of angles (default 5)")
    p.add_argument("--max-speed", type=float, metavar="MPS", help="top speed, m/s")
    p.add_argument("--speed-steps", type=int, metavar="N", help="speeds per angle (default 2)")
    p.add_argument("--min-speed", type=float, metavar="MPS", help="lowest speed: evenly spaced")
    p.add_argument("--corner-speed", type=float, metavar="MPS", help="top speed at full steering")
    p.add_argument(
        "--speed-band", type=_band, action="append", metavar="DEG:MPS", help="speed cap by |angle|"
    )
    p.add_argument("--action", type=_pair, action="append", metavar="S:V", help="one action")
    p.add_argument("--steering-angles", type=_floats, metavar="LIST", help="e.g. =-30,-10,0,10,30")
    p.add_argument("--speeds", type=_floats, metavar="LIST", help="e.g. 1.5,3")
    p.add_argument("--continuous", action="store_true", help="continuous ranges")
    p.add_argument("--index", action="store_true", help='add "index" keys, as console exports do')
    _add_model_options(p)
    p.set_defaults(func=_generate)


# --- action-space check -------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from pitstop.action_space.check import metadata_problems
    from pitstop.action_space.io import loads_json

    text, source = read_input(args.file)
    doc = loads_json(text, source)
    problems = [str(p) for p in metadata_problems(doc)]
    if args.json:
        print_json({"file": source, "valid": not problems, "problems": problems})
    elif problems:
        for line in problems:
            print(f"{source}: {line}")
    else:
        from pitstop.action_space.models import ModelMetadata

        print(f"{source}: valid ({_summary(ModelMetadata.model_validate(doc))})")
    return 1 if problems else 0


# --- action-space edit --------------------------------------------------------------------


def _edit(args: argparse.Namespace) -> int:
    from pitstop.action_space.edit import Edits, apply_edits

    meta = _load(args.file, strict=False)  # rule problems may be what this edit repairs
    if not meta.has_version and args.set_version is None:
        raise CheckFailed(
            f"{args.file}: version: missing (the simulator would use version 1 physics); "
            f'give --set-version (DRfC writes "{L.DEFAULT_VERSION}")'
        )
    meta, notes = apply_edits(
        meta,
        Edits(
            drop=tuple(args.drop or ()),
            add=tuple(args.add or ()),
            speed_shift=args.speed_shift,
            speed_scale=args.speed_scale,
            sort=args.sort,
            reindex=args.reindex,
            no_index=args.no_index,
            set_version=args.set_version,
        ),
    )
    for note in notes:
        print(f"pitstop: note: {note}", file=sys.stderr)
    return _emit(meta, args, f"{args.file} after editing")


def _register_edit(sub: Any) -> None:
    p = sub.add_parser(
        "edit",
        help="shift or scale speeds, add, drop, sort, re-index actions",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent(
            """\
            Edit model_metadata.json; everything not edited (unknown keys included) is kept.
            Edits apply in this order: --drop (positions of the input file), --add,
            --speed-shift/--speed-scale, --sort, --reindex/--no-index, --set-version.
            Speeds are clamped to 0.1..4 m/s (continuous: 0.5..4); actions that become
            identical at a limit are merged. Actions that carry "index" are renumbered in
            list order. The result is checked and only written when valid.
            """
        ),
        epilog="example: pitstop action-space edit model_metadata.json --speed-shift 0.2 "
        "--out model_metadata.json",
    )
    p.add_argument("file", metavar="FILE", help=FILE_HELP)
    p.add_argument("--speed-shift", type=float, metavar="MPS", help="add MPS to every speed")
    p.add_argument("--speed-scale", type=float, metavar="X", help="multiply every speed by X")
    p.add_argument("--add", type=_pair, action="append", metavar="S:V", help="append an action")
    p.add_argument("--drop", type=int, action="append", metavar="POS", help="remove an action")
    p.add_argument("--sort", action="store_true", help="order by steering, then speed")
    idx = p.add_mutually_exclusive_group()
    idx.add_argument("--reindex", action="store_true", help='write "index" = list position')
    idx.add_argument("--no-index", action="store_true", help='remove "index" keys')
    p.add_argument("--set-version", metavar="V", help='model version to write, e.g. "5"')
    p.add_argument("--out", metavar="FILE", help="write here (may be FILE itself)")
    add_json_flag(p)
    p.set_defaults(func=_edit)


# --- action-space from-track --------------------------------------------------------------


def _from_track(args: argparse.Namespace) -> int:
    from pitstop import tracks
    from pitstop.action_space import from_track as ft

    if args.track is None and args.track_file is None and args.racing_line is None:
        raise UsageError("give a TRACK name, --track-file PATH or --racing-line PATH")
    if args.track is not None and args.track_file is not None:
        raise UsageError("give a TRACK name or --track-file, not both")
    if args.racing_line is not None:
        line = ft.read_line(args.racing_line)
        name = args.racing_line
    else:
        track = tracks.load_file(args.track_file) if args.track_file else tracks.load(args.track)
        line, name = track.centre, track.name
    settings = ft.Settings(
        a_lat=args.a_lat,
        max_speed=args.max_speed,
        min_speed=args.min_speed,
        wheelbase=args.wheelbase,
        spacing=args.spacing,
        span=args.span,
        smooth=args.smooth,
        straight_deg=args.straight_deg,
        mirror=not args.no_mirror,
        method=args.method,
    )
    actions, prof = ft.actions_from_line(line, args.actions, settings)
    sharpest = float(abs(prof.curvature).max())
    radius = f"{1 / sharpest:.2f} m" if sharpest > 0 else "none"
    widest = max(abs(a.steering_angle) for a in actions)
    print(
        f"{name}: {prof.length:.1f} m {'loop' if prof.is_loop else 'open line'}, tightest "
        f"radius {radius} -> {float(abs(prof.steering).max()):.2f} deg; widest action "
        f"{widest:g} deg; {len(actions)} actions"
        + (
            ""
            if len(actions) == args.actions
            else f" (asked {args.actions}; the line has less variety)"
        ),
        file=sys.stderr,
    )
    meta = _build(actions, args)
    return _emit(meta, args, f"action space for {name}", usage=True)


def _register_from_track(sub: Any) -> None:
    from pitstop.action_space.track_settings import Settings

    d = Settings()
    p = sub.add_parser(
        "from-track",
        help="derive N actions from a track's centre line or a racing line",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent(
            f"""\
            Derive an action space from a line the car should follow: a bundled track's
            centre line (TRACK), a waypoint .npy (--track-file), or a racing line
            (--racing-line: .npy of (N, 2) or .csv of x, y).

            Assumptions:
              line       resampled every --spacing m ({d.spacing:g}); a loop when its ends meet
              curvature  circle through the points --span/2 m behind and ahead (span
                         {d.span:g} m), then a moving average over --smooth m ({d.smooth:g});
                         + = left turn
              steering   kinematic bicycle model: atan(wheelbase * curvature), wheelbase
                         {d.wheelbase:g} m (simulated car, simapp URDF); + = left; clamped to 30
              speed      steady cornering: v = sqrt(a_lat * r), a_lat = --a-lat ({d.a_lat:g}
                         m/s^2), clamped to [--min-speed, --max-speed] ({d.min_speed:g}..{d.max_speed:g})
              reduction  k-means on (steering, speed) with a deterministic start (or
                         --method quantiles of |steering|); by default samples are folded to
                         |steering| and each turning action mirrored left/right; straights
                         (|steering| < --straight-deg, {d.straight_deg:g}) become zero steering at
                         top speed (plus one slower straight action when N is even). The
                         sharpest action on each side takes the largest angle of its cluster,
                         rounded up to 0.1 deg, so the tightest corner is covered; each
                         action's speed is the speed model at its steering angle.
            The model ignores tyre slip, acceleration limits and the car's reaction time.
            """
        ),
        epilog="example: pitstop action-space from-track reInvent2019_track --actions 9 "
        "--out model_metadata.json",
    )
    p.add_argument("track", nargs="?", metavar="TRACK", help="bundled track name, e.g. Oval_track")
    p.add_argument("--track-file", metavar="PATH", help="waypoint .npy of shape (N, 6)")
    p.add_argument("--racing-line", metavar="PATH", help="racing line .npy or .csv of x, y")
    p.add_argument("--actions", type=int, required=True, metavar="N", help="number of actions")
    p.add_argument("--a-lat", type=float, default=d.a_lat, metavar="MPS2")
    p.add_argument("--max-speed", type=float, default=d.max_speed, metavar="MPS")
    p.add_argument("--min-speed", type=float, default=d.min_speed, metavar="MPS")
    p.add_argument("--wheelbase", type=float, default=d.wheelbase, metavar="M")
    p.add_argument("--spacing", type=float, default=d.spacing, metavar="M")
    p.add_argument("--span", type=float, default=d.span, metavar="M")
    p.add_argument("--smooth", type=float, default=d.smooth, metavar="M")
    p.add_argument("--straight-deg", type=float, default=d.straight_deg, metavar="DEG")
    p.add_argument("--method", choices=("kmeans", "quantiles"), default=d.method)
    p.add_argument("--no-mirror", action="store_true", help="keep the line's own turn directions")
    _add_model_options(p, continuous=False)
    p.set_defaults(func=_from_track)


# --- action-space show --------------------------------------------------------------------


def _show(args: argparse.Namespace) -> int:
    from pitstop.action_space.check import fmt

    meta = _load(args.file)
    if args.plot:
        from pitstop.action_space.plot import plot_metadata

        plot_metadata(meta, args.plot, title=args.file)
    if args.json:
        doc: dict[str, Any] = {
            "file": args.file,
            "summary": _summary(meta),
            "metadata": meta.to_dict(),
        }
        if args.plot:
            doc["plot"] = args.plot
        print_json(doc)
        return 0
    print(f"{args.file}: {_summary(meta)}, {meta.network}")
    space = meta.action_space
    if meta.is_continuous:
        assert not isinstance(space, list)
        rows: list[list[object]] = [
            ["steering_angle (deg)", fmt(space.steering_angle.low), fmt(space.steering_angle.high)],
            ["speed (m/s)", fmt(space.speed.low), fmt(space.speed.high)],
        ]
        print_table(["", "low", "high"], rows)
    else:
        rows = [
            [i, a.index, fmt(a.steering_angle), fmt(a.speed)] for i, a in enumerate(meta.actions)
        ]
        print_table(["#", "index", "steering (deg)", "speed (m/s)"], rows)
    if args.plot:
        print(f"plot: {args.plot}")
    return 0


# --- registration -------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``action-space`` group to the top-level parser."""
    p = sub.add_parser(
        "action-space",
        help="generate, check, edit, derive and show model_metadata.json",
        description="model_metadata.json for every DeepRacer model type: discrete grids, "
        "continuous ranges, SAC, sensors. Limits: 2-30 actions, steering -30..30 deg, "
        "speed 0.1..4 m/s (continuous 0.5..4).",
    )
    p.set_defaults(group_parser=p)
    s = p.add_subparsers(dest="as_command", metavar="COMMAND", parser_class=type(p))
    _register_generate(s)

    c = s.add_parser(
        "check",
        help="check model_metadata.json (exit 0 valid, 1 invalid, 2 unreadable)",
        description="Print one line per problem, naming its JSON path; exit 1 when there "
        "are problems, 2 when the file cannot be read or is not JSON.",
        epilog="example: pitstop action-space check model_metadata.json",
    )
    c.add_argument("file", metavar="FILE", help=FILE_HELP)
    add_json_flag(c)
    c.set_defaults(func=_check)

    _register_edit(s)
    _register_from_track(s)

    sh = s.add_parser(
        "show",
        help="print the actions as a table, and optionally plot them to PNG",
        description="A table of the actions; --plot writes a PNG of the actions in "
        "steering x speed space (left turns on the left).",
        epilog="example: pitstop action-space show model_metadata.json --plot actions.png",
    )
    sh.add_argument("file", metavar="FILE", help=FILE_HELP)
    sh.add_argument("--plot", metavar="PNG", help="write a plot of the actions here")
    add_json_flag(sh)
    sh.set_defaults(func=_show)
