"""Deadline benchmark: every deadline policy over every spot trace, and over the fleet's
zones (2 and 4 traces of one collection at once), jobs of H in {2, 8, 24} hours due D in
{1.5H, 2H, 3H}, 48 start offsets, under AWS's billing (a spot instance EC2 interrupts in
its first hour is free) and with every second billed. Prints, per policy: the share of
deadlines met, the cost relative to on-demand from the start (p50, p90, max), the cost
relative to the lower bound the traces allow (every spot hour in the window, restarts
free), the gap to the bound under the run's own billing, the wall time, and the total run
time.

    python benchmarks/deadlines.py [--traces DIR] [--offsets N] [--jobs 2] [--per-trace]
                                   [--zones 1,2,4] [--by-hd] [--billing aws|per-second|both]

Zones: the traces of one collection (a folder: same start, same ticks), ``k`` neighbours
at a time (every trace starts one group), each zone at the same spot price. See
docs/deadlines.md for the rules and what the numbers mean.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from pitstop.errors import PitstopError
from pitstop.simulate.deadline import (
    DEADLINE_POLICIES,
    DeadlineSetup,
    Zone,
    simulate_deadline,
    spot_lower_bound,
)
from pitstop.simulate.engine import DEFAULT_SPOT_PRICE, HOUR, TrainingJob
from pitstop.simulate.traces import DEFAULT_READING, READINGS, find_traces, load_trace
from pitstop.tables import format_table

HOURS = (2, 8, 24)
FACTORS = (1.5, 2.0, 3.0)
DEFAULT_TRACES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "spot-traces"
BOUND = "lower-bound"
SHIPPED = "pitstop-deadline"
PER_SECOND = ", every second billed"


class Row(NamedTuple):
    scope: str  # "1 zone", "2 zones", ...
    name: str  # the trace set
    h: int
    factor: float
    policy: str
    met: bool
    cost: float  # relative to on-demand from the start
    od_share: float  # on-demand share of paid hours (nan: the bound)
    vs_bound: float  # cost relative to the lower bound (inf: a bound of 0 and a cost)
    gap: float  # (cost - lower bound) relative to on-demand from the start
    wall: float  # wall time / H (nan: the bound)


Work = tuple[str, tuple[str, ...], str, int, float, float, bool]


def ratio(cost: float, bound: float) -> float:
    if bound > 0:
        return cost / bound
    return 1.0 if cost <= 0 else math.inf


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def one_set(args: Work) -> list[Row]:
    scope, paths, reading, offsets, ckpt, boot, refunds = args
    zones = [Zone(load_trace(p, reading), DEFAULT_SPOT_PRICE) for p in paths]
    name = "+".join(z.name for z in zones)
    shortest = min(z.trace.duration_s for z in zones)
    rows: list[Row] = []
    for h in HOURS:
        for f in FACTORS:
            d = h * f
            room = shortest / HOUR - d  # offsets leave the whole window in the trace
            if room < 0:
                continue  # the trace is shorter than the window: nothing to say
            for i in range(offsets):
                setup = DeadlineSetup(
                    TrainingJob(h, ckpt, boot),
                    d,
                    start_offset_h=round(room * i / offsets, 3),
                    refunds=refunds,
                )
                base = simulate_deadline("on-demand", None, setup).cost
                lb = spot_lower_bound(zones, setup)  # under the run's own billing
                # the bound: every spot second at its price (what "vs bound" reads)
                lb_sec = spot_lower_bound(zones, replace(setup, refunds=False))
                for policy in DEADLINE_POLICIES:
                    r = simulate_deadline(policy, zones, setup)
                    rows.append(Row(scope, name, h, f, policy, r.met, r.cost / base,
                                    r.on_demand_share, ratio(r.cost, lb_sec), (r.cost - lb) / base,
                                    r.wall_h / h))  # fmt: skip
                rows.append(Row(scope, name, h, f, BOUND, True, lb / base, math.nan,
                                ratio(lb, lb_sec), 0.0, math.nan))  # fmt: skip
    return rows


def summarize(rows: list[Row]) -> list[str]:
    costs = [r.cost for r in rows]
    shares = [r.od_share for r in rows if not math.isnan(r.od_share)]
    vs_bound = [r.vs_bound for r in rows]
    walls = [r.wall for r in rows if not math.isnan(r.wall)]
    return [
        f"{100 * sum(r.met for r in rows) / len(rows):.1f}%",
        f"{pct(costs, 50):.2f}",
        f"{pct(costs, 90):.2f}",
        f"{max(costs):.3f}",
        f"{pct(vs_bound, 50):.2f}",
        f"{pct(vs_bound, 90):.2f}",
        f"{pct([r.gap for r in rows], 50):.2f}",
        f"{pct(walls, 50):.2f}" if walls else "-",
        f"{pct(shares, 50):.0%}" if shares else "-",
    ]


HEAD = [
    "met",
    "cost p50",
    "p90",
    "max",
    "vs bound p50",
    "p90",
    "gap p50",
    "wall/H p50",
    "od share p50",
]


def zone_sets(paths: list[Path], k: int) -> list[tuple[str, ...]]:
    """``k`` neighbouring traces of one collection (folder), each trace starting one set."""
    by_dir: dict[Path, list[Path]] = defaultdict(list)
    for p in paths:
        by_dir[p.parent].append(p)
    sets: list[tuple[str, ...]] = []
    for group in by_dir.values():
        if len(group) < k:
            continue
        n = len(group)
        sets.extend(tuple(str(group[(i + j) % n]) for j in range(k)) for i in range(n))
    return sets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--traces", default=str(DEFAULT_TRACES), help="directory of trace JSON")
    ap.add_argument("--offsets", type=int, default=48, help="start offsets per trace (48)")
    ap.add_argument("--checkpoint-minutes", type=float, default=15.0)
    ap.add_argument("--boot-minutes", type=float, default=5.0)
    ap.add_argument("--trace-reading", choices=READINGS, default=DEFAULT_READING)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    ap.add_argument("--zones", default="1,2,4", help="zones per set, comma-separated (1,2,4)")
    ap.add_argument(
        "--billing",
        choices=("aws", "per-second", "both"),
        default="both",
        help="aws: a spot instance EC2 interrupts in its first hour is free (AWS's rule, the "
        "model pitstop ships); per-second: every second billed (the model before); both",
    )
    ap.add_argument("--by-hd", action="store_true", help="also one row per H x D (single trace)")
    ap.add_argument("--per-trace", action="store_true", help="also one row per trace")
    a = ap.parse_args(argv)
    started = time.perf_counter()
    try:
        ks = sorted({int(k) for k in a.zones.split(",") if k.strip()})
        paths = find_traces(a.traces)
        work: list[Work] = []
        billings = {"aws": (True,), "per-second": (False,), "both": (True, False)}[a.billing]
        for refunds in billings:
            for k in ks:
                scope = f"{k} zone" + ("s" if k > 1 else "") + ("" if refunds else PER_SECOND)
                for zs in zone_sets(paths, k):
                    work.append((scope, zs, a.trace_reading, a.offsets, a.checkpoint_minutes,
                                 a.boot_minutes, refunds))  # fmt: skip
        if a.jobs > 1:
            with ProcessPoolExecutor(a.jobs) as pool:
                parts = list(pool.map(one_set, work))
        else:
            parts = [one_set(w) for w in work]
    except (PitstopError, ValueError) as e:
        print(f"deadlines: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    rows = [r for part in parts for r in part]
    elapsed = time.perf_counter() - started
    runs = sum(1 for r in rows if r.policy != BOUND)
    print(
        f"{len(paths)} traces ({a.trace_reading}), H in {HOURS} h, D in "
        f"{', '.join(f'{f:g}H' for f in FACTORS)}, {a.offsets} start offsets, checkpoint every "
        f"{a.checkpoint_minutes:g} min, boot {a.boot_minutes:g} min, spot "
        f"{DEFAULT_SPOT_PRICE:g} USD/h in every zone; {runs} simulations"
    )
    print(
        "met: share of deadlines met; cost: relative to on-demand from the start (1.00); "
        f"vs bound: relative to every spot second in the window at its price, restarts free "
        f"(the bound as the issue measured it); {BOUND}: the same with the run's billing, so "
        "with AWS's the last hour of every run of capacity is free (a clairvoyant launch): "
        "no policy can beat it; gap: (cost - that bound) / on-demand; wall/H: wall time over "
        "training hours.\n"
        "Billing: AWS's (a spot instance EC2 interrupts in its first hour costs nothing), "
        f"and where a scope says '{PER_SECOND[2:]}', every second billed (the model before)"
    )
    order = {p: i for i, p in enumerate((*DEADLINE_POLICIES, BOUND))}
    scopes = sorted({r.scope for r in rows}, key=lambda s: (PER_SECOND in s, int(s.split()[0])))
    by_scope: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        by_scope[(r.scope, r.policy)].append(r)
    for scope in scopes:
        sets = {r.name for r in rows if r.scope == scope}
        print()
        print(f"{scope}: {len(sets)} trace set{'s' if len(sets) > 1 else ''}, all H and D together")
        policies = sorted({p for s, p in by_scope if s == scope}, key=order.__getitem__)
        print(format_table(["policy", *HEAD], [[p, *summarize(by_scope[(scope, p)])]
                                               for p in policies]))  # fmt: skip
    if a.by_hd and scopes:
        groups: dict[tuple[int, float, str], list[Row]] = defaultdict(list)
        for r in rows:
            if r.scope == scopes[0]:
                groups[(r.h, r.factor, r.policy)].append(r)
        keys = sorted(groups, key=lambda k: (k[0], k[1], order[k[2]]))
        print()
        print(f"{scopes[0]}, per H and D")
        print(format_table(["H", "D", "policy", *HEAD],
                           [[h, f"{f:g}H", p, *summarize(groups[(h, f, p)])]
                            for h, f, p in keys]))  # fmt: skip
    if a.per_trace:
        per: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for r in rows:
            per[(r.name, r.policy)].append(r)
        print()
        print(format_table(["trace", "policy", *HEAD],
                           [[t, p, *summarize(per[(t, p)])]
                            for t, p in sorted(per, key=lambda k: (k[0], order[k[1]]))]))  # fmt: skip
    print()
    print(f"total time: {elapsed:.1f} s ({runs} simulations, {a.jobs} processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
