"""`pitstop simulate`: replay a spot trace and compare recovery policies (the rules and the
run live in ``pitstop.simulate.options``)."""

from __future__ import annotations

import argparse
from typing import Any

from pitstop.cli.common import AS_LISTED, JSON, Sub, command, from_args, opt, out_file
from pitstop.cli.output import Table, show

# numbers are read as text and checked by pitstop.simulate.options: bad input is one line, exit 2
TRACE_OPTIONS = [
    opt(
        "--trace",
        metavar="FILE",
        action="append",
        help="trace JSON ({metadata: {gap_seconds}, data}); default: the bundled aws-10-26-2022/us-west-2b_v100_1 (1 V100, 27 days). With --deadline-hours: repeat it, or give a folder, for the fleet's zones (FILE@PRICE: that zone's spot price)",
    ),
    opt("--hours", metavar="H", help="training hours the job needs"),
    opt("--checkpoint-minutes", metavar="C", help="training minutes between checkpoints"),
    opt("--boot-minutes", metavar="B", default="5", help="paid start-up per attempt (5)"),
]
PRICE_OPTIONS = [
    opt("--spot-price", metavar="P", default=None, help="USD per spot hour (0.918)"),
    opt("--on-demand-price", metavar="Q", default=None, help="USD per hour (3.06)"),
    opt("--billing", metavar="B", default="aws", help="with a deadline: aws (default: a spot instance EC2 interrupts within its first hour is not billed, AWS's rule for Linux) or per-second (every second billed)"),
]  # fmt: skip
READING_HELP = (
    "unavailable-is-1 (default) or available-is-1. The default is the reading of the simulator "
    "of the paper that published these traces (Can't Be Late, NSDI 2024: spot_available = not "
    "value); the traces' own README calls a value 'the number of available instances', which "
    "is available-is-1."
)
SIMULATE_OPTIONS = [
    *TRACE_OPTIONS,
    opt("--policy", default="all", metavar="P", help="one of all, pitstop, restart-from-scratch, notify-only, on-demand (all); with --deadline-hours one of all, pitstop-deadline, greedy-deadline, uniform-progress-deadline, spot-only, on-demand"),
    opt("--deadline-hours", metavar="D", default=None, help="the job is due D hours after submission: compare the deadline policies"),
    opt("--stall-rate", metavar="PER_HOUR", default="0", help="stalls per training hour (0)"),
    *PRICE_OPTIONS,
    opt("--trace-reading", default="unavailable-is-1", metavar="R", help=READING_HELP),
    opt("--start-offset", metavar="HOURS", default="0", help="submit this far into the trace (0)"),
    opt("--seed", metavar="N", default="0", help="seed of the stall process (0)"),
    opt("--ttl-hours", metavar="T", default=None, help="notify-only: an instance's time-to-live, how long a stall burns (H + 1)"),
    opt("--stall-timeout-minutes", metavar="M", default=None, help="pitstop's stall_timeout_s in minutes (the settings default, 30)"),
    JSON,
    opt("--plot", metavar="OUT.png", default=None, help="write a PNG of the runs to this .png file"),
]  # fmt: skip


def register(sub: Sub) -> None:
    from pitstop.simulate.options import SIMULATE_DESCRIPTION

    command(
        sub, "simulate", handle, "replay a spot trace: what each recovery policy costs",
        SIMULATE_DESCRIPTION, SIMULATE_OPTIONS, **AS_LISTED,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip


def trace_options(args: argparse.Namespace) -> Any:
    """The :class:`TraceOptions` the command was given (the ones it has)."""
    from pitstop.simulate.options import TraceOptions

    return from_args(TraceOptions, args)


def handle(args: argparse.Namespace) -> int:
    from pitstop.simulate.options import simulate_report

    if args.plot is not None and args.plot.lower().endswith(".png"):
        out_file(args.plot, "--plot")  # before the replay: a plot that cannot be written
    rep = simulate_report(trace_options(args))
    plot = f"plot: {args.plot}" if args.plot else None
    show(args, rep.doc, rep.heading, Table(rep.headers, rep.rows), plot)
    return 0
