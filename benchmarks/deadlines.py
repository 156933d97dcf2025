"""Deadline benchmark: every deadline policy over every spot trace, jobs of H in {2, 8, 24}
hours due D in {1.5H, 2H, 3H}, 48 start offsets. Prints one table: the share of deadlines
met and the cost relative to on-demand (median and p90 over traces and offsets), with the
lower bound the trace allows (every spot hour in the window used for free restarts), and
the total run time.

    python benchmarks/deadlines.py [--traces DIR] [--offsets N] [--jobs 2] [--per-trace]

See docs/deadlines.md for the rules and what the numbers mean.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pitstop.cli.output import format_table
from pitstop.errors import PitstopError
from pitstop.simulate.deadline import (
    DEADLINE_POLICIES,
    DeadlineSetup,
    simulate_deadline,
    spot_lower_bound,
)
from pitstop.simulate.engine import HOUR, TrainingJob
from pitstop.simulate.traces import DEFAULT_READING, READINGS, find_traces, load_trace

HOURS = (2, 8, 24)
FACTORS = (1.5, 2.0, 3.0)
DEFAULT_TRACES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "spot-traces"
BOUND = "lower-bound"

# (trace, H, factor, policy, met, cost / on-demand cost, on-demand share of paid hours)
Row = tuple[str, int, float, str, bool, float, float]


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def one_trace(args: tuple[str, str, int, float, float]) -> list[Row]:
    path, reading, offsets, ckpt, boot = args
    trace = load_trace(path, reading)
    rows: list[Row] = []
    for h in HOURS:
        for f in FACTORS:
            d = h * f
            room = trace.duration_s / HOUR - d  # offsets leave the whole window in the trace
            if room < 0:
                continue  # the trace is shorter than the window: nothing to say
            for i in range(offsets):
                setup = DeadlineSetup(
                    TrainingJob(h, ckpt, boot), d, start_offset_h=round(room * i / offsets, 3)
                )
                base = simulate_deadline("on-demand", None, setup).cost
                for policy in DEADLINE_POLICIES:
                    r = simulate_deadline(policy, trace, setup)
                    rows.append((trace.name, h, f, policy, r.met, r.cost / base, r.on_demand_share))
                lb = spot_lower_bound(trace, setup)
                rows.append((trace.name, h, f, BOUND, True, lb / base, math.nan))
    return rows


def summarize(rows: list[Row]) -> list[str]:
    costs = [r[5] for r in rows]
    shares = [r[6] for r in rows if not math.isnan(r[6])]
    return [
        f"{100 * sum(r[4] for r in rows) / len(rows):.1f}%",
        f"{pct(costs, 50):.2f}",
        f"{pct(costs, 90):.2f}",
        f"{max(costs):.2f}",
        f"{pct(shares, 50):.0%}" if shares else "-",
    ]


HEAD = ["met", "cost p50", "cost p90", "cost max", "on-demand share p50"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--traces", default=str(DEFAULT_TRACES), help="directory of trace JSON")
    ap.add_argument("--offsets", type=int, default=48, help="start offsets per trace (48)")
    ap.add_argument("--checkpoint-minutes", type=float, default=15.0)
    ap.add_argument("--boot-minutes", type=float, default=5.0)
    ap.add_argument("--trace-reading", choices=READINGS, default=DEFAULT_READING)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    ap.add_argument("--per-trace", action="store_true", help="also one row per trace")
    a = ap.parse_args(argv)
    started = time.perf_counter()
    try:
        paths = find_traces(a.traces)
        work = [
            (str(p), a.trace_reading, a.offsets, a.checkpoint_minutes, a.boot_minutes)
            for p in paths
        ]
        if a.jobs > 1:
            with ProcessPoolExecutor(a.jobs) as pool:
                parts = list(pool.map(one_trace, work))
        else:
            parts = [one_trace(w) for w in work]
    except PitstopError as e:
        print(f"deadlines: error: {e}", file=sys.stderr)
        return e.exit_code
    rows = [r for part in parts for r in part]
    elapsed = time.perf_counter() - started
    runs = sum(1 for r in rows if r[3] != BOUND)
    print(
        f"{len(paths)} traces ({a.trace_reading}), H in {HOURS} h, D in "
        f"{', '.join(f'{f:g}H' for f in FACTORS)}, {a.offsets} start offsets, checkpoint every "
        f"{a.checkpoint_minutes:g} min, boot {a.boot_minutes:g} min; {runs} simulations"
    )
    print(
        "met: share of deadlines met; cost: relative to on-demand from the start (1.00); "
        f"{BOUND}: every spot hour in the window used, restarts free (no policy can beat it)"
    )
    order = {p: i for i, p in enumerate((*DEADLINE_POLICIES, BOUND))}
    groups: dict[tuple[int, float, str], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r[1], r[2], r[3])].append(r)
    keys = sorted(groups, key=lambda k: (k[0], k[1], order[k[2]]))
    table = [[h, f"{f:g}H", p, *summarize(groups[(h, f, p)])] for h, f, p in keys]
    print()
    print(format_table(["H", "D", "policy", *HEAD], table))
    overall: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        overall[r[3]].append(r)
    print()
    print("all H and D together")
    print(
        format_table(
            ["policy", *HEAD],
            [[p, *summarize(overall[p])] for p in sorted(overall, key=order.__getitem__)],
        )
    )
    if a.per_trace:
        per: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for r in rows:
            per[(r[0], r[3])].append(r)
        print()
        print(
            format_table(
                ["trace", "policy", *HEAD],
                [
                    [t, p, *summarize(per[(t, p)])]
                    for t, p in sorted(per, key=lambda k: (k[0], order[k[1]]))
                ],
            )
        )
    print()
    print(f"total time: {elapsed:.1f} s ({runs} simulations, {a.jobs} processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
