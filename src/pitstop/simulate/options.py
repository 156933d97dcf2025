"""What ``pitstop simulate`` and ``pitstop plan`` are asked, checked and run.

Numbers arrive as the text typed (so bad input is one line and exit 2, never argparse's
usage dump): :func:`number` checks each. The rules, defaults and what a run reports live
here; the CLI parses and prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pitstop.errors import UsageError
from pitstop.simulate import engine
from pitstop.simulate.deadline import (
    DEADLINE_POLICIES,
    DeadlineResult,
    DeadlineSetup,
    Zone,
    plan,
    simulate_deadline,
    spot_name,
)
from pitstop.simulate.traces import Trace, default_trace, find_traces, load_trace

POLICY_CHOICES = ("all", *engine.POLICIES)
DEADLINE_CHOICES = ("all", *DEADLINE_POLICIES)
READINGS = ("unavailable-is-1", "available-is-1")

SIMULATE_DESCRIPTION = """\
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

PLAN_DESCRIPTION = """\
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


def number(value: str | None, flag: str, *, positive: bool = False) -> float:
    """``value`` as a finite number >= 0 (> 0 when ``positive``); bad usage otherwise."""
    if value is None:
        raise UsageError(f"{flag} is required")
    try:
        x = float(value)
    except ValueError:
        raise UsageError(f"{flag} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise UsageError(f"{flag} must be {'> 0' if positive else '>= 0'}, got {value}")
    return x


def whole(value: str | None, flag: str, *, positive: bool = False) -> int:
    x = number(value, flag, positive=positive)
    if x != int(x):
        raise UsageError(f"{flag} must be a whole number, got {value}")
    return int(x)


def _optional(value: str | None, flag: str, default: float) -> float:
    return default if value is None else number(value, flag)


@dataclass(frozen=True)
class TraceOptions:
    """The options of ``pitstop simulate`` (and the trace options ``plan`` shares), as typed."""

    trace: str | tuple[str, ...] | None = None  # one file, or the fleet's zones (--trace again)
    hours: str | None = None
    checkpoint_minutes: str | None = None
    boot_minutes: str = "5"
    policy: str = "all"
    deadline_hours: str | None = None
    stall_rate: str = "0"
    spot_price: str | None = None
    on_demand_price: str | None = None
    billing: str = "aws"  # deadline runs: "aws" (the first-hour refund) or "per-second"
    trace_reading: str = "unavailable-is-1"
    start_offset: str = "0"
    seed: str = "0"
    ttl_hours: str | None = None
    stall_timeout_minutes: str | None = None
    plot: str | None = None


def _check_trace(o: TraceOptions) -> str:
    """The trace file asked for, else the bundled one (``traces.DEFAULT_TRACE``)."""
    if o.trace_reading not in READINGS:
        raise UsageError(
            f"unknown --trace-reading {o.trace_reading!r}; choose one of {', '.join(READINGS)}"
        )
    if o.trace is None:
        return str(default_trace())
    files = (o.trace,) if isinstance(o.trace, str) else o.trace
    if len(files) != 1 or "@" in files[0] or Path(files[0]).is_dir():
        raise UsageError(
            "several traces (a repeated --trace, a folder, FILE@PRICE) work with "
            "--deadline-hours and with plan; give one --trace FILE here"
        )
    return files[0]


def _zones(o: TraceOptions, spot_price: float) -> Trace | list[Zone]:
    """The trace, or the fleet's zones: every ``--trace`` (a folder: each ``*.json`` under
    it), each at its ``@PRICE`` or ``--spot-price``. A bad file or price is one line."""
    if o.trace_reading not in READINGS:
        raise UsageError(
            f"unknown --trace-reading {o.trace_reading!r}; choose one of {', '.join(READINGS)}"
        )
    given = (o.trace,) if isinstance(o.trace, str) else o.trace or (str(default_trace()),)
    zones: list[Zone] = []
    for item in given:
        path, price = item, spot_price
        head, at, tail = item.rpartition("@")
        if at and head:
            path, price = head, number(tail, f"--trace {item}: the price after @")
        files = find_traces(path) if Path(path).is_dir() else [Path(path)]
        zones.extend(Zone(load_trace(f, o.trace_reading), price) for f in files)
    if len(zones) == 1 and zones[0].spot_price == spot_price:
        return zones[0].trace
    return zones


def _spot_doc(spot: Trace | list[Zone]) -> dict[str, Any]:
    if isinstance(spot, Trace):
        return {"trace": spot.name}
    return {
        "trace": spot_name(tuple(spot)),
        "zones": [{"trace": z.name, "spot_price": z.spot_price} for z in spot],
    }


BILLINGS = ("aws", "per-second")
BILLING_NOTE = {
    "aws": "AWS billing: a spot instance EC2 interrupts in its first hour is free",
    "per-second": "every second billed",
}


def _prices(o: TraceOptions) -> dict[str, Any]:
    """The prices, and with a deadline the billing (``DeadlineSetup.refunds``)."""
    if o.billing not in BILLINGS:
        raise UsageError(f"unknown --billing {o.billing!r}; choose one of {', '.join(BILLINGS)}")
    return {
        "spot_price": _optional(o.spot_price, "--spot-price", engine.DEFAULT_SPOT_PRICE),
        "on_demand_price": _optional(
            o.on_demand_price, "--on-demand-price", engine.DEFAULT_ON_DEMAND_PRICE
        ),
    }


HEADERS = ["policy", "outcome", "wall h", "paid h", "cost $", "trained h", "lost h",
           "stalled h", "interrupts", "stalls", "restarts", "goodput"]  # fmt: skip
DEADLINE_HEADERS = ["policy", "deadline", "wall h", "cost $", "vs on-demand", "spot h",
                    "on-demand h", "preemptions", "moves"]  # fmt: skip


@dataclass
class Report:
    """One ``pitstop simulate`` run: the document, and the same as a heading and a table."""

    doc: dict[str, Any]
    heading: str
    headers: list[str]
    rows: list[list[object]]


def _f(x: float) -> str:
    return f"{x:.2f}"


def simulate_report(o: TraceOptions) -> Report:
    """Check ``o`` and replay each policy asked for (the deadline ones with a deadline)."""
    if o.deadline_hours is not None:
        return deadline_report(o)
    if o.policy not in POLICY_CHOICES:
        raise UsageError(f"unknown policy {o.policy!r}; choose one of {', '.join(POLICY_CHOICES)}")
    if o.billing != "aws":
        raise UsageError(
            "--billing applies with --deadline-hours (the goodput replay bills every second)"
        )
    trace_file = _check_trace(o)
    if o.plot is not None and not o.plot.lower().endswith(".png"):
        # the plot is a PNG whatever the name says: refuse another suffix up front
        raise UsageError(f"--plot {o.plot}: use a .png path (the plot is written as PNG)")
    hours = number(o.hours, "--hours", positive=True)
    ckpt = number(o.checkpoint_minutes, "--checkpoint-minutes", positive=True)
    boot = number(o.boot_minutes, "--boot-minutes")
    seed = whole(o.seed, "--seed")
    lifecycle = engine.default_policy()
    if o.stall_timeout_minutes is not None:
        minutes = number(o.stall_timeout_minutes, "--stall-timeout-minutes", positive=True)
        lifecycle = replace(lifecycle, stall_timeout_s=minutes * 60)
    setup = engine.Setup(
        job=engine.TrainingJob(hours, ckpt, boot),
        **_prices(o),
        stall_rate_per_hour=number(o.stall_rate, "--stall-rate"),
        seed=seed,
        start_offset_h=number(o.start_offset, "--start-offset"),
        ttl_hours=None
        if o.ttl_hours is None
        else number(o.ttl_hours, "--ttl-hours", positive=True),
        lifecycle=lifecycle,
        record=o.plot is not None,
    )
    trace = load_trace(trace_file, o.trace_reading)
    policies = engine.POLICIES if o.policy == "all" else (o.policy,)
    results = [engine.simulate(p, trace, setup) for p in policies]
    if o.plot:
        from pitstop.simulate.plot import plot

        plot(o.plot, trace, results, offset_h=setup.start_offset_h, hours=hours)
    doc = {
        "trace": trace.name,
        "trace_reading": o.trace_reading,
        "trace_hours": round(trace.duration_s / 3600, 3),
        "available_fraction": round(trace.fraction_available(), 4),
        "job": {"hours": hours, "checkpoint_minutes": ckpt, "boot_minutes": boot},
        "start_offset_h": setup.start_offset_h,
        "stall_rate_per_hour": setup.stall_rate_per_hour,
        "seed": setup.seed,
        "spot_price": setup.spot_price,
        "on_demand_price": setup.on_demand_price,
        "results": [r.summary() for r in results],
        "plot": o.plot,
    }
    heading = (
        f"trace {trace.name} ({o.trace_reading}): {trace.duration_s / 3600:.1f} h, "
        f"{trace.fraction_available():.0%} available; job {hours:g} h, checkpoint every "
        f"{ckpt:g} min, boot {boot:g} min, from hour {setup.start_offset_h:g}"
    )
    rows: list[list[object]] = [
        [r.policy, r.outcome, _f(r.wall_h), _f(r.paid_h), _f(r.cost), _f(r.trained_h),
         _f(r.lost_h), _f(r.stalled_h), r.interruptions, r.stalls, r.restarts, _f(r.goodput)]
        for r in results
    ]  # fmt: skip
    return Report(doc, heading, HEADERS, rows)


def deadline_report(o: TraceOptions) -> Report:
    if o.policy not in DEADLINE_CHOICES:
        raise UsageError(
            f"unknown policy {o.policy!r} with --deadline-hours; choose one of "
            f"{', '.join(DEADLINE_CHOICES)}"
        )
    if o.plot is not None:
        raise UsageError("--plot is not available with --deadline-hours")
    hours = number(o.hours, "--hours", positive=True)
    ckpt = number(o.checkpoint_minutes or "15", "--checkpoint-minutes", positive=True)
    boot = number(o.boot_minutes, "--boot-minutes")
    setup = DeadlineSetup(
        job=engine.TrainingJob(hours, ckpt, boot),
        deadline_hours=number(o.deadline_hours, "--deadline-hours", positive=True),
        start_offset_h=number(o.start_offset, "--start-offset"),
        **_prices(o),
        refunds=o.billing == "aws",
    )
    trace = _zones(o, setup.spot_price)
    name = _spot_doc(trace)["trace"]
    policies = DEADLINE_POLICIES if o.policy == "all" else (o.policy,)
    results: list[DeadlineResult] = [simulate_deadline(p, trace, setup) for p in policies]
    base = simulate_deadline("on-demand", None, setup).cost
    doc = {
        **_spot_doc(trace),
        "trace_reading": o.trace_reading,
        "job": {"hours": hours, "checkpoint_minutes": ckpt, "boot_minutes": boot},
        "deadline_hours": setup.deadline_hours,
        "start_offset_h": setup.start_offset_h,
        "spot_price": setup.spot_price,
        "on_demand_price": setup.on_demand_price,
        "billing": o.billing,
        "on_demand_cost": round(base, 4),
        "results": [{**r.summary(), "cost_vs_on_demand": round(r.cost / base, 4)} for r in results],
    }
    heading = (
        f"trace {name} ({o.trace_reading}): job {hours:g} h due in "
        f"{setup.deadline_hours:g} h, checkpoint every {ckpt:g} min, boot {boot:g} min, "
        f"from hour {setup.start_offset_h:g}; {BILLING_NOTE[o.billing]}"
    )
    rows: list[list[object]] = [
        [r.policy, r.outcome, _f(r.wall_h), _f(r.cost), _f(r.cost / base), _f(r.spot_h),
         _f(r.on_demand_h), r.preemptions, r.moves]
        for r in results
    ]  # fmt: skip
    return Report(doc, heading, DEADLINE_HEADERS, rows)


def on_demand_cap(config: str | None) -> int:
    """``max_on_demand_instances`` from the settings (file, ``PITSTOP_*``): read and checked
    like every other setting; plan touches no bucket, so none need be configured."""
    from pitstop.config import load_settings

    # the bucket is the only required setting and plan never uses it: a placeholder stands in
    return load_settings(config, bucket="pitstop-plan").max_on_demand_instances


@dataclass
class PlanReport:
    """``pitstop plan``: the deadline policy's plan, the on-demand cap, and the plan if the
    cap is full (spot only); as a document and as lines."""

    doc: dict[str, Any]
    lines: list[str]


def plan_report(
    o: TraceOptions, *, starts: str, on_demand_running: str, cap: Callable[[], int]
) -> PlanReport:
    """Check ``o`` and replay the plan; ``cap()`` reads ``max_on_demand_instances``."""
    runs = whole(starts, "--starts", positive=True)
    setup = DeadlineSetup(
        job=engine.TrainingJob(
            number(o.hours, "--hours", positive=True),
            number(o.checkpoint_minutes, "--checkpoint-minutes", positive=True),
            number(o.boot_minutes, "--boot-minutes"),
        ),
        deadline_hours=number(o.deadline_hours, "--deadline-hours", positive=True),
        **_prices(o),
        refunds=o.billing == "aws",
    )
    running = whole(on_demand_running, "--on-demand-running")
    limit = cap()
    allowed = max(0, limit - running)
    trace = _zones(o, setup.spot_price)
    result = plan(trace, setup, runs)
    capped = plan(trace, setup, runs, policy="spot-only")  # what a refused job gets
    doc = {
        **result.as_dict(),
        "billing": o.billing,
        "on_demand_cap": limit,
        "on_demand_running": running,
        "on_demand_allowed": allowed,
        "if_cap_full": {
            "policy": capped.policy,
            "met_share": round(capped.met_share, 4),
            "cost_mean": round(capped.cost_mean, 4),
        },
    }
    od = result.on_demand_cost
    lines = [
        f"{setup.job.hours:g} h of training due in {setup.deadline_hours:g} h on "
        f"{result.trace} ({result.runs} submission times, policy {result.policy}; "
        f"{BILLING_NOTE[o.billing]}):",
        f"  chance of meeting the deadline  {result.met_share:.0%}",
        f"  expected cost                   ${result.cost_mean:.2f} "
        f"({result.cost_mean / od:.2f} x on-demand's ${od:.2f}); "
        f"median ${result.cost_p50:.2f}, p90 ${result.cost_p90:.2f}",
        f"  on-demand share of paid hours   {result.on_demand_share:.0%}",
        f"  on-demand cap                   {limit} fleet-wide (max_on_demand_instances), "
        f"{running} running: {allowed} allowed; the group's MaxSize also counts",
        f"  if the cap is full (spot only)  chance {capped.met_share:.0%}, "
        f"expected cost ${capped.cost_mean:.2f}",
    ]
    if allowed == 0:
        lines.append(
            "  the cap is full: this job would wait for spot (the line above) until one frees"
        )
    return PlanReport(doc, lines)
