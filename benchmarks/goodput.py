"""Goodput benchmark: every policy over every spot trace, jobs of 2/8/24 h, checkpoints every
5/15/30 min, many start offsets. Prints one row per trace x H x C x policy, then the headline
table over all traces, and the total run time.

    python benchmarks/goodput.py [--traces DIR] [--offsets N] [--stall-rate R] [--jobs 2]
        [--user-error-share 0.05] [--user-error-after-min 1]

Wall time of a job the trace ends before counts as infinite ("-" when a percentile lands
there); its cost and lost hours are what it paid and lost until the trace ended.
See docs/simulate.md for what the numbers mean.

Then jobs whose reward function raises (a user error, issue 26): every attempt fails the same
way, ``--user-error-after-min`` minutes of training after its start-up. ``core.lifecycle.step``
runs such a job on one instance, its polls every ``poll_interval_s``, twice: as pitstop does
now (the attempt's leftovers hold simapp's ``simapp_exception`` line, so the job fails at
once) and as before (no class: every crash restarted, with backoff and reboots, until
``max_restarts`` = 10 is spent). Printed: attempts, restarts, the GPU hours the instance
spends on the job until it is ``failed`` (which is also when its owner learns of it), and
what that saves per 100 jobs when ``--user-error-share`` of them have a user error.
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
from pitstop.core import lifecycle as lc
from pitstop.core.failures import Leftovers
from pitstop.core.records import Fault
from pitstop.core.states import JobState
from pitstop.errors import PitstopError
from pitstop.simulate.engine import (
    DEFAULT_SPOT_PRICE,
    HOUR,
    POLICIES,
    REBOOT_S,
    Setup,
    TrainingJob,
    default_policy,
    default_poll_interval_s,
    simulate,
)
from pitstop.simulate.traces import DEFAULT_READING, READINGS, find_traces, load_trace

HOURS = (2, 8, 24)
CHECKPOINTS = (5, 15, 30)
DEFAULT_TRACES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "spot-traces"

Row = tuple[str, int, int, str, float, float, float, float, bool]


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (works with inf)."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def one_trace(args: tuple[str, str, int, float, float]) -> list[Row]:
    path, reading, offsets, stall_rate, boot = args
    trace = load_trace(path, reading)
    # offsets spread over the first half of the trace, so a 24 h job has room to finish
    half = trace.duration_s / 2 / HOUR
    rows: list[Row] = []
    for h in HOURS:
        for c in CHECKPOINTS:
            for i in range(offsets):
                setup = Setup(
                    job=TrainingJob(h, c, boot),
                    stall_rate_per_hour=stall_rate,
                    seed=i,
                    start_offset_h=half * i / offsets,
                    record=False,
                )
                for policy in POLICIES:
                    r = simulate(policy, trace, setup)
                    wall = r.wall_h if r.finished else math.inf
                    rows.append(
                        (trace.name, h, c, policy, wall, r.cost, r.lost_h, r.goodput, r.finished)
                    )
    return rows


def summarize(rows: list[Row]) -> list[object]:
    walls = [r[4] for r in rows]
    done = sum(r[8] for r in rows) / len(rows)

    def f(x: float) -> str:
        return "-" if math.isinf(x) else f"{x:.1f}"

    return [
        f"{done:.0%}",
        f(pct(walls, 50)),
        f(pct(walls, 90)),
        f"{pct([r[5] for r in rows], 50):.2f}",
        f"{pct([r[5] for r in rows], 90):.2f}",
        f"{pct([r[6] for r in rows], 50):.2f}",
        f"{pct([r[6] for r in rows], 90):.2f}",
        f"{pct([r[7] for r in rows], 50):.2f}",
    ]


def user_error_job(boot_s: float, fail_s: float, *, classified: bool) -> tuple[int, int, float]:
    """One job whose every attempt fails ``fail_s`` into its training (after ``boot_s`` of
    start-up), driven through ``lifecycle.step`` on one on-demand-like instance (never
    interrupted). ``classified``: the attempt's leftovers carry simapp's lines (pitstop
    now); else none (every crash is of unknown cause, as before). (attempts, restarts made,
    seconds until the job is failed)."""
    from pitstop.trainers.simulated_run import reward_error_lines

    log = reward_error_lines(Fault(kind="reward_error"), b"def reward_function(params):\n")
    policy, poll_s = default_policy(), default_poll_interval_s()
    run = lc.claimed_run(JobState.PENDING, attempts=0, restarts=0, reboots=0, trained_s=0.0)
    started: float | None = None  # the running attempt's start
    t = 0.0
    for _ in range(100_000):
        if started is None:
            obs = lc.Observation(lc.TrainerStatus.ABSENT)
        elif t >= started + boot_s + fail_s:
            left = Leftovers(exit_code=1, logs=log) if classified else None
            obs = lc.Observation(lc.TrainerStatus.EXITED, exit_code=1, leftovers=left)
        else:
            obs = lc.Observation(lc.TrainerStatus.RUNNING, heartbeat=lc.Heartbeat())
        run, actions = lc.step(run, obs, t, policy)
        stepped_again = False
        for act in actions:
            if isinstance(act, lc.StartAttempt):
                started = t
            elif isinstance(act, lc.StopTrainer):
                started, stepped_again = None, True
            elif isinstance(act, lc.EndAttempt):
                started = None
            elif isinstance(act, lc.Reboot):
                started, t = None, t + REBOOT_S
                run, _ = lc.resume(
                    run.state,
                    attempts=run.attempt,
                    attempt_open=False,
                    trained_s=run.trained_s,
                    restarts=run.restarts,
                    reboots=run.reboots,
                    trainer_alive=False,
                    attempt_elapsed_s=0.0,
                    now=t,
                )
        if run.state is JobState.FAILED:
            return run.attempt, run.attempt - 1, t  # restarts made (the counter ends one over)
        if run.state in (JobState.SUCCEEDED, JobState.CANCELLED):
            raise RuntimeError(f"a user-error job ended {run.state.value}")
        if not stepped_again:
            t += poll_s
    raise RuntimeError("the user-error job did not end")


def user_errors(share: float, boot_min: float, after_min: float) -> None:
    boot_s, fail_s = boot_min * 60, after_min * 60
    new = user_error_job(boot_s, fail_s, classified=True)
    old = user_error_job(boot_s, fail_s, classified=False)
    saved_h = (old[2] - new[2]) / HOUR
    per_100 = 100 * share
    print()
    print(
        f"user errors: a reward function that raises {after_min:g} min into training (after "
        f"{boot_min:g} min of start-up), on every attempt; {share:.0%} of jobs"
    )
    table = [
        [label, attempts, restarts, f"{s / HOUR:.2f}", f"{s / 60:.0f}"]
        for label, (attempts, restarts, s) in (
            ("before: every crash restarted (max_restarts 10)", old),
            ("pitstop: user_error fails at once", new),
        )
    ]
    print(format_table(["", "attempts", "restarts", "GPU h", "min to failed"], table))
    print(
        f"saved per user-error job: {old[1] - new[1]} restarts, {saved_h:.2f} GPU h "
        f"(${saved_h * DEFAULT_SPOT_PRICE:.2f} at ${DEFAULT_SPOT_PRICE}/h spot); per 100 jobs "
        f"({per_100:g} with a user error): {per_100 * (old[1] - new[1]):.0f} restarts, "
        f"{per_100 * saved_h:.1f} GPU h (${per_100 * saved_h * DEFAULT_SPOT_PRICE:.2f})"
    )


HEAD = ["done", "wall p50", "wall p90", "cost p50", "cost p90", "lost p50", "lost p90", "goodput"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--traces", default=str(DEFAULT_TRACES), help="directory of trace JSON")
    ap.add_argument("--offsets", type=int, default=48, help="start offsets per trace (48)")
    ap.add_argument("--stall-rate", type=float, default=0.05, help="stalls per training hour")
    ap.add_argument("--boot-minutes", type=float, default=5.0)
    ap.add_argument("--trace-reading", choices=READINGS, default=DEFAULT_READING)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    ap.add_argument("--headline-only", action="store_true", help="skip the per-trace table")
    ap.add_argument(
        "--user-error-share", type=float, default=0.05, help="jobs with a user error (0.05)"
    )
    ap.add_argument(
        "--user-error-after-min",
        type=float,
        default=1.0,
        help="training minutes before the reward function raises (1)",
    )
    a = ap.parse_args(argv)
    started = time.perf_counter()
    try:
        paths = find_traces(a.traces)
        work = [(str(p), a.trace_reading, a.offsets, a.stall_rate, a.boot_minutes) for p in paths]
        if a.jobs > 1:
            with ProcessPoolExecutor(a.jobs) as pool:
                parts = list(pool.map(one_trace, work))
        else:
            parts = [one_trace(w) for w in work]
    except PitstopError as e:
        print(f"goodput: error: {e}", file=sys.stderr)
        return e.exit_code
    rows = [r for part in parts for r in part]
    elapsed = time.perf_counter() - started

    print(
        f"{len(paths)} traces ({a.trace_reading}), H in {HOURS} h, C in {CHECKPOINTS} min, "
        f"{a.offsets} start offsets, boot {a.boot_minutes:g} min, "
        f"{a.stall_rate:g} stalls per training hour; {len(rows)} simulations"
    )
    print("wall: hours to finish; cost: USD; lost: training hours thrown away; "
          "goodput: trained / paid hours (medians and p90 over start offsets)")  # fmt: skip
    if not a.headline_only:
        groups: dict[tuple[str, int, int, str], list[Row]] = defaultdict(list)
        for r in rows:
            groups[(r[0], r[1], r[2], r[3])].append(r)
        table = [[t, h, c, p, *summarize(g)] for (t, h, c, p), g in groups.items()]
        print()
        print(format_table(["trace", "H", "C", "policy", *HEAD], table))
    headline: dict[tuple[int, int, str], list[Row]] = defaultdict(list)
    for r in rows:
        headline[(r[1], r[2], r[3])].append(r)
    order = {p: i for i, p in enumerate(POLICIES)}
    keys = sorted(headline, key=lambda k: (k[0], k[1], order[k[2]]))
    print()
    print("headline: all traces and start offsets together")
    print(format_table(["H", "C", "policy", *HEAD], [[*k, *summarize(headline[k])] for k in keys]))
    user_errors(a.user_error_share, a.boot_minutes, a.user_error_after_min)
    print()
    print(f"total time: {elapsed:.1f} s ({len(rows)} simulations, {a.jobs} processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
