"""`pitstop simulate`: replay a spot trace and compare recovery policies."""

from __future__ import annotations

import argparse
import math
from typing import Any

from pitstop.cli.output import add_json_flag, print_json, print_table
from pitstop.errors import UsageError

POLICY_CHOICES = ("all", "pitstop", "restart-from-scratch", "notify-only", "on-demand")
DEADLINE_CHOICES = (
    "all",
    "pitstop-deadline",
    "greedy-deadline",
    "uniform-progress-deadline",
    "spot-only",
    "on-demand",
)
READINGS = ("unavailable-is-1", "available-is-1")

DESCRIPTION = """\
Discrete-event simulation of one training job of H hours on a spot availability trace.
The pitstop policy runs the supervisor's own lifecycle (supervisor/lifecycle.py) on a
simulated clock; restart-from-scratch, notify-only and on-demand are the alternatives.
Prints wall-clock time to finish, paid instance hours, cost, training lost to
interruptions and stalls, and counts of interruptions, stalls and restarts. A job the
trace ends before is reported as unfinished. See docs/simulate.md for the assumptions.

With --deadline-hours D the job is due D hours after submission and the policies are the
deadline ones (pitstop-deadline, greedy-deadline, uniform-progress-deadline, spot-only,
on-demand): whether each met the deadline, what it cost, and how much was on-demand.
See docs/deadlines.md.
"""


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "simulate",
        help="replay a spot trace: what each recovery policy costs",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # numbers are read as text and checked by the handler: bad input is one line, exit 2
    p.add_argument("--trace", metavar="FILE", help="trace JSON ({metadata: {gap_seconds}, data})")
    p.add_argument("--hours", metavar="H", help="training hours the job needs")
    p.add_argument("--checkpoint-minutes", metavar="C", help="training minutes between checkpoints")
    p.add_argument("--boot-minutes", metavar="B", default="5", help="paid start-up per attempt (5)")
    p.add_argument(
        "--policy",
        default="all",
        metavar="P",
        help=f"one of {', '.join(POLICY_CHOICES)} (all); with --deadline-hours one of "
        f"{', '.join(DEADLINE_CHOICES)}",
    )
    p.add_argument(
        "--deadline-hours",
        metavar="D",
        default=None,
        help="the job is due D hours after submission: compare the deadline policies",
    )
    p.add_argument(
        "--stall-rate", metavar="PER_HOUR", default="0", help="stalls per training hour (0)"
    )
    p.add_argument("--spot-price", metavar="P", default=None, help="USD per spot hour (0.918)")
    p.add_argument("--on-demand-price", metavar="Q", default=None, help="USD per hour (3.06)")
    p.add_argument(
        "--trace-reading",
        default="unavailable-is-1",
        metavar="R",
        help=(
            "unavailable-is-1 (default) or available-is-1. The default is the reading of the "
            "simulator of the paper that published these traces (Can't Be Late, NSDI 2024: "
            "spot_available = not value); the traces' own README calls a value 'the number "
            "of available instances', which is available-is-1."
        ),
    )
    p.add_argument(
        "--start-offset", metavar="HOURS", default="0", help="submit this far into the trace (0)"
    )
    p.add_argument("--seed", metavar="N", default="0", help="seed of the stall process (0)")
    p.add_argument(
        "--ttl-hours",
        metavar="T",
        default=None,
        help="notify-only: an instance's time-to-live, how long a stall burns (H + 1)",
    )
    p.add_argument(
        "--stall-timeout-minutes",
        metavar="M",
        default=None,
        help="pitstop's stall_timeout_s in minutes (the settings default, 30)",
    )
    add_json_flag(p)
    p.add_argument(
        "--plot", metavar="OUT.png", default=None, help="write a PNG of the runs to this .png file"
    )
    p.set_defaults(func=handle)


def _num(value: str | None, flag: str, *, positive: bool = False) -> float:
    if value is None:
        raise UsageError(f"{flag} is required")
    try:
        x = float(value)
    except ValueError:
        raise UsageError(f"{flag} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise UsageError(f"{flag} must be {'> 0' if positive else '>= 0'}, got {value}")
    return x


def handle(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from pitstop.simulate import engine
    from pitstop.simulate.traces import load_trace

    if args.deadline_hours is not None:
        return _deadline(args)
    if args.policy not in POLICY_CHOICES:
        raise UsageError(
            f"unknown policy {args.policy!r}; choose one of {', '.join(POLICY_CHOICES)}"
        )
    if args.trace_reading not in READINGS:
        raise UsageError(
            f"unknown --trace-reading {args.trace_reading!r}; choose one of {', '.join(READINGS)}"
        )
    if args.trace is None:
        raise UsageError("--trace FILE is required")
    if args.plot is not None and not args.plot.lower().endswith(".png"):
        # matplotlib would write PLOT.png and this would print PLOT: say it up front
        raise UsageError(f"--plot {args.plot}: give a .png file name, e.g. {args.plot}.png")
    hours = _num(args.hours, "--hours", positive=True)
    ckpt = _num(args.checkpoint_minutes, "--checkpoint-minutes", positive=True)
    boot = _num(args.boot_minutes, "--boot-minutes")
    seed_f = _num(args.seed, "--seed")
    if seed_f != int(seed_f):
        raise UsageError(f"--seed must be a whole number, got {args.seed}")
    lifecycle = engine.default_policy()
    if args.stall_timeout_minutes is not None:
        minutes = _num(args.stall_timeout_minutes, "--stall-timeout-minutes", positive=True)
        lifecycle = replace(lifecycle, stall_timeout_s=minutes * 60)
    setup = engine.Setup(
        job=engine.TrainingJob(hours, ckpt, boot),
        spot_price=engine.DEFAULT_SPOT_PRICE
        if args.spot_price is None
        else _num(args.spot_price, "--spot-price"),
        on_demand_price=engine.DEFAULT_ON_DEMAND_PRICE
        if args.on_demand_price is None
        else _num(args.on_demand_price, "--on-demand-price"),
        stall_rate_per_hour=_num(args.stall_rate, "--stall-rate"),
        seed=int(seed_f),
        start_offset_h=_num(args.start_offset, "--start-offset"),
        ttl_hours=None
        if args.ttl_hours is None
        else _num(args.ttl_hours, "--ttl-hours", positive=True),
        lifecycle=lifecycle,
        record=args.plot is not None,
    )
    trace = load_trace(args.trace, args.trace_reading)
    policies = engine.POLICIES if args.policy == "all" else (args.policy,)
    results = [engine.simulate(p, trace, setup) for p in policies]
    if args.plot:
        from pitstop.simulate.plot import plot

        plot(args.plot, trace, results, offset_h=setup.start_offset_h, hours=hours)
    if args.json:
        print_json(
            {
                "trace": trace.name,
                "trace_reading": args.trace_reading,
                "trace_hours": round(trace.duration_s / 3600, 3),
                "available_fraction": round(trace.fraction_available(), 4),
                "job": {"hours": hours, "checkpoint_minutes": ckpt, "boot_minutes": boot},
                "start_offset_h": setup.start_offset_h,
                "stall_rate_per_hour": setup.stall_rate_per_hour,
                "seed": setup.seed,
                "spot_price": setup.spot_price,
                "on_demand_price": setup.on_demand_price,
                "results": [r.summary() for r in results],
                "plot": args.plot,
            }
        )
        return 0
    print(
        f"trace {trace.name} ({args.trace_reading}): {trace.duration_s / 3600:.1f} h, "
        f"{trace.fraction_available():.0%} available; job {hours:g} h, checkpoint every "
        f"{ckpt:g} min, boot {boot:g} min, from hour {setup.start_offset_h:g}"
    )
    headers = ["policy", "outcome", "wall h", "paid h", "cost $", "trained h", "lost h",
               "stalled h", "interrupts", "stalls", "restarts", "goodput"]  # fmt: skip
    rows = [
        [
            r.policy,
            r.outcome,
            f"{r.wall_h:.2f}",
            f"{r.paid_h:.2f}",
            f"{r.cost:.2f}",
            f"{r.trained_h:.2f}",
            f"{r.lost_h:.2f}",
            f"{r.stalled_h:.2f}",
            r.interruptions,
            r.stalls,
            r.restarts,
            f"{r.goodput:.2f}",
        ]
        for r in results
    ]
    print_table(headers, rows)
    if args.plot:
        print(f"plot: {args.plot}")
    return 0


def _deadline(args: argparse.Namespace) -> int:
    from pitstop.simulate import engine
    from pitstop.simulate.deadline import DEADLINE_POLICIES, DeadlineSetup, simulate_deadline
    from pitstop.simulate.traces import load_trace

    if args.policy not in DEADLINE_CHOICES:
        raise UsageError(
            f"unknown policy {args.policy!r} with --deadline-hours; choose one of "
            f"{', '.join(DEADLINE_CHOICES)}"
        )
    if args.trace_reading not in READINGS:
        raise UsageError(
            f"unknown --trace-reading {args.trace_reading!r}; choose one of {', '.join(READINGS)}"
        )
    if args.trace is None:
        raise UsageError("--trace FILE is required")
    if args.plot is not None:
        raise UsageError("--plot is not available with --deadline-hours")
    hours = _num(args.hours, "--hours", positive=True)
    ckpt = _num(args.checkpoint_minutes or "15", "--checkpoint-minutes", positive=True)
    boot = _num(args.boot_minutes, "--boot-minutes")
    setup = DeadlineSetup(
        job=engine.TrainingJob(hours, ckpt, boot),
        deadline_hours=_num(args.deadline_hours, "--deadline-hours", positive=True),
        start_offset_h=_num(args.start_offset, "--start-offset"),
        spot_price=engine.DEFAULT_SPOT_PRICE
        if args.spot_price is None
        else _num(args.spot_price, "--spot-price"),
        on_demand_price=engine.DEFAULT_ON_DEMAND_PRICE
        if args.on_demand_price is None
        else _num(args.on_demand_price, "--on-demand-price"),
    )
    trace = load_trace(args.trace, args.trace_reading)
    policies = DEADLINE_POLICIES if args.policy == "all" else (args.policy,)
    results = [simulate_deadline(p, trace, setup) for p in policies]
    base = simulate_deadline("on-demand", None, setup).cost
    if args.json:
        print_json(
            {
                "trace": trace.name,
                "trace_reading": args.trace_reading,
                "job": {"hours": hours, "checkpoint_minutes": ckpt, "boot_minutes": boot},
                "deadline_hours": setup.deadline_hours,
                "start_offset_h": setup.start_offset_h,
                "spot_price": setup.spot_price,
                "on_demand_price": setup.on_demand_price,
                "on_demand_cost": round(base, 4),
                "results": [
                    {**r.summary(), "cost_vs_on_demand": round(r.cost / base, 4)} for r in results
                ],
            }
        )
        return 0
    print(
        f"trace {trace.name} ({args.trace_reading}): job {hours:g} h due in "
        f"{setup.deadline_hours:g} h, checkpoint every {ckpt:g} min, boot {boot:g} min, "
        f"from hour {setup.start_offset_h:g}"
    )
    headers = ["policy", "deadline", "wall h", "cost $", "vs on-demand", "spot h",
               "on-demand h", "preemptions"]  # fmt: skip
    rows = [
        [
            r.policy,
            r.outcome,
            f"{r.wall_h:.2f}",
            f"{r.cost:.2f}",
            f"{r.cost / base:.2f}",
            f"{r.spot_h:.2f}",
            f"{r.on_demand_h:.2f}",
            r.preemptions,
        ]
        for r in results
    ]
    print_table(headers, rows)
    return 0
