"""`pitstop plan`: before any money is spent, what a deadline job will cost on a trace."""

from __future__ import annotations

import argparse
from typing import Any

from pitstop.cli.common import Sub, command, opt
from pitstop.cli.simulate import PRICE_OPTIONS, trace_options

PLAN_OPTIONS = [
    opt("--hours", metavar="H", help="training hours the job needs"),
    opt("--deadline-hours", metavar="D", help="due D hours after submission"),
    opt("--trace", metavar="FILE", help="spot trace JSON (see pitstop simulate)"),
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
    from pitstop.simulate.options import plan_report

    rep = plan_report(trace_options(args), starts=args.starts,
                      on_demand_running=args.on_demand_running, cap=lambda: on_demand_cap(args))  # fmt: skip
    result, capped, setup, od = rep.result, rep.capped, rep.setup, rep.result.on_demand_cost
    show(
        args,
        rep.doc,
        f"{setup.job.hours:g} h of training due in {setup.deadline_hours:g} h on "
        f"{result.trace} ({result.runs} submission times, policy {result.policy}):",
        f"  chance of meeting the deadline  {result.met_share:.0%}",
        f"  expected cost                   ${result.cost_mean:.2f} "
        f"({result.cost_mean / od:.2f} x on-demand's ${od:.2f}); "
        f"median ${result.cost_p50:.2f}, p90 ${result.cost_p90:.2f}",
        f"  on-demand share of paid hours   {result.on_demand_share:.0%}",
        f"  on-demand cap                   {rep.cap} fleet-wide (max_on_demand_instances), "
        f"{rep.running} running: {rep.allowed} allowed; the group's MaxSize also counts",
        f"  if the cap is full (spot only)  chance {capped.met_share:.0%}, "
        f"expected cost ${capped.cost_mean:.2f}",
        "  the cap is full: this job would wait for spot (the line above) until one frees"
        if rep.allowed == 0
        else None,
    )
    return 0


def on_demand_cap(args: Any) -> int:
    """``max_on_demand_instances`` from the settings (file, ``PITSTOP_*``): read and checked
    like every other setting; plan touches no bucket, so none need be configured."""
    from pitstop.config import load_settings

    # the bucket is the only required setting and plan never uses it: a placeholder stands in
    return load_settings(args.config, bucket="pitstop-plan").max_on_demand_instances
