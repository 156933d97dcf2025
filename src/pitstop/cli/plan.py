"""`pitstop plan`: before any money is spent, what a deadline job will cost on a trace."""

from __future__ import annotations

import argparse

from pitstop.cli.common import Sub, command, opt
from pitstop.cli.simulate import PRICE_OPTIONS, trace_options

PLAN_OPTIONS = [
    opt("--hours", metavar="H", help="training hours the job needs"),
    opt("--deadline-hours", metavar="D", help="due D hours after submission"),
    opt("--trace", metavar="FILE", action="append", help="spot trace JSON (see pitstop simulate; default: the bundled one); repeat it, or give a folder, for the fleet's zones (FILE@PRICE: that zone's spot price)"),
    opt("--checkpoint-minutes", metavar="C", default="15", help="(15)"),
    opt("--boot-minutes", metavar="B", default="5", help="one restart (5)"),
    opt("--starts", metavar="N", default="96", help="submission times replayed (96)"),
    *PRICE_OPTIONS,
    opt("--trace-reading", default="unavailable-is-1", metavar="R", help="as pitstop simulate"),
    opt("--on-demand-running", metavar="N", default="0", help="on-demand instances the fleet already runs, against max_on_demand_instances (0)"),
    opt("--config", metavar="FILE", help="settings file for max_on_demand_instances (default: $PITSTOP_CONFIG, else /etc/pitstop/pitstop.toml if present); PITSTOP_* environment variables override it"),
]  # fmt: skip


def register(sub: Sub) -> None:
    from pitstop.simulate.options import PLAN_DESCRIPTION

    command(
        sub, "plan", handle,
        "a deadline job's expected cost and chance of meeting it, from a spot trace",
        PLAN_DESCRIPTION, PLAN_OPTIONS, settings=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip


def handle(args: argparse.Namespace) -> int:
    from pitstop.cli.output import show
    from pitstop.simulate.options import on_demand_cap, plan_report

    rep = plan_report(
        trace_options(args),
        starts=args.starts,
        on_demand_running=args.on_demand_running,
        cap=lambda: on_demand_cap(args.config),
    )
    show(args, rep.doc, *rep.lines)
    return 0
