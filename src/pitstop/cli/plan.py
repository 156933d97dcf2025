"""`pitstop plan`: before any money is spent, what a deadline job will cost on a trace."""

from __future__ import annotations

import argparse
from typing import Any

from pitstop.cli.output import add_json_flag, print_json
from pitstop.cli.simulate import READINGS, _num
from pitstop.errors import UsageError

DESCRIPTION = """\
Replay the shipped deadline policy (docs/deadlines.md) for a job of H training hours due
D hours after submission, from many submission times spread over a spot trace: the
expected cost (and its median and p90), the chance of meeting the deadline, and the share
of paid hours on on-demand, next to the cost of on-demand from the start.

On-demand is capped (docs/security.md, "Money: on-demand cap"): the fleet runs at most
max_on_demand_instances on-demand instances (from the settings), and spot + on-demand
never above the group's MaxSize. The plan shows the cap, how many more it allows with
--on-demand-running N already running, and what the job gets if the cap is full: spot
only, replayed on the same trace.
"""


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "plan",
        help="a deadline job's expected cost and chance of meeting it, from a spot trace",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--hours", metavar="H", help="training hours the job needs")
    p.add_argument("--deadline-hours", metavar="D", help="due D hours after submission")
    p.add_argument("--trace", metavar="FILE", help="spot trace JSON (see pitstop simulate)")
    p.add_argument("--checkpoint-minutes", metavar="C", default="15", help="(15)")
    p.add_argument("--boot-minutes", metavar="B", default="5", help="one restart (5)")
    p.add_argument("--starts", metavar="N", default="96", help="submission times replayed (96)")
    p.add_argument("--spot-price", metavar="P", default=None, help="USD per spot hour (0.918)")
    p.add_argument("--on-demand-price", metavar="Q", default=None, help="USD per hour (3.06)")
    p.add_argument(
        "--trace-reading", default="unavailable-is-1", metavar="R", help="as pitstop simulate"
    )
    p.add_argument(
        "--on-demand-running",
        metavar="N",
        default="0",
        help="on-demand instances the fleet already runs, against max_on_demand_instances (0)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="settings file for max_on_demand_instances (default: $PITSTOP_CONFIG, else "
        "/etc/pitstop/pitstop.toml if present); PITSTOP_* environment variables override it",
    )
    add_json_flag(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pitstop.simulate import engine
    from pitstop.simulate.deadline import DeadlineSetup, plan
    from pitstop.simulate.traces import load_trace

    if args.trace is None:
        raise UsageError("--trace FILE is required")
    if args.trace_reading not in READINGS:
        raise UsageError(
            f"unknown --trace-reading {args.trace_reading!r}; choose one of {', '.join(READINGS)}"
        )
    starts = _num(args.starts, "--starts", positive=True)
    if starts != int(starts):
        raise UsageError(f"--starts must be a whole number, got {args.starts}")
    setup = DeadlineSetup(
        job=engine.TrainingJob(
            _num(args.hours, "--hours", positive=True),
            _num(args.checkpoint_minutes, "--checkpoint-minutes", positive=True),
            _num(args.boot_minutes, "--boot-minutes"),
        ),
        deadline_hours=_num(args.deadline_hours, "--deadline-hours", positive=True),
        spot_price=engine.DEFAULT_SPOT_PRICE
        if args.spot_price is None
        else _num(args.spot_price, "--spot-price"),
        on_demand_price=engine.DEFAULT_ON_DEMAND_PRICE
        if args.on_demand_price is None
        else _num(args.on_demand_price, "--on-demand-price"),
    )
    running = _num(args.on_demand_running, "--on-demand-running")
    if running != int(running):
        raise UsageError(
            f"--on-demand-running must be a whole number, got {args.on_demand_running}"
        )
    cap = on_demand_cap(args)
    allowed = max(0, cap - int(running))
    trace = load_trace(args.trace, args.trace_reading)
    result = plan(trace, setup, int(starts))
    capped = plan(trace, setup, int(starts), policy="spot-only")  # what a refused job gets
    cap_doc = {
        "on_demand_cap": cap,
        "on_demand_running": int(running),
        "on_demand_allowed": allowed,
        "if_cap_full": {
            "policy": capped.policy,
            "met_share": round(capped.met_share, 4),
            "cost_mean": round(capped.cost_mean, 4),
        },
    }
    if args.json:
        print_json({**result.as_dict(), **cap_doc})
        return 0
    od = result.on_demand_cost
    print(
        f"{setup.job.hours:g} h of training due in {setup.deadline_hours:g} h on "
        f"{result.trace} ({result.runs} submission times, policy {result.policy}):"
    )
    print(f"  chance of meeting the deadline  {result.met_share:.0%}")
    print(
        f"  expected cost                   ${result.cost_mean:.2f} "
        f"({result.cost_mean / od:.2f} x on-demand's ${od:.2f}); "
        f"median ${result.cost_p50:.2f}, p90 ${result.cost_p90:.2f}"
    )
    print(f"  on-demand share of paid hours   {result.on_demand_share:.0%}")
    print(
        f"  on-demand cap                   {cap} fleet-wide (max_on_demand_instances), "
        f"{int(running)} running: {allowed} allowed; the group's MaxSize also counts"
    )
    print(
        f"  if the cap is full (spot only)  chance {capped.met_share:.0%}, "
        f"expected cost ${capped.cost_mean:.2f}"
    )
    if allowed == 0:
        print("  the cap is full: this job would wait for spot (the line above) until one frees")
    return 0


def on_demand_cap(args: argparse.Namespace) -> int:
    """``max_on_demand_instances`` from the settings (file, ``PITSTOP_*``): read and checked
    like every other setting; plan touches no bucket, so none need be configured."""
    from pitstop.config import load_settings

    # the bucket is the only required setting and plan never uses it: a placeholder stands in
    return load_settings(args.config, bucket="pitstop-plan").max_on_demand_instances
