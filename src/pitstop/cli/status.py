"""``pitstop status``: jobs with attempts, restarts, preemptions, progress and cost."""

from __future__ import annotations

from typing import Any

from pitstop.cli.common import Sub, command, jobs_from, opt, positive
from pitstop.cli.output import Table, show, state_style

SPOT_PRICE = opt(
    "--spot-price",
    type=positive(float, "--spot-price"),
    metavar="USD_PER_HOUR",
    help="spot price for the cost column (instance hours x price)",
)
HEADERS = [
    "JOB",
    "STATE",
    "ATTEMPTS",
    "RESTARTS",
    "PREEMPTED",
    "INSTANCE",
    "PROGRESS",
    "HOURS",
    "COST",
]

# on a narrow terminal the job id and state stay whole; left out first, in this order:
# instance, preempted, restarts, attempts, hours, progress, cost
STATUS_DROP = (5, 4, 3, 2, 7, 6, 8)


def register(sub: Sub) -> None:
    command(
        sub, "status", _status, "jobs, attempts, states, progress and cost",
        "A table of jobs with their attempts, restarts, preemptions, progress (last checkpoint, "
        "share of max_hours) and cost so far (instance hours x --spot-price).",
        [SPOT_PRICE],
    )  # fmt: skip


def _status(args: Any) -> int:
    from pitstop.fleet.progress import all_progress

    rows = [p.row() for p in all_progress(jobs_from(args), args.spot_price)]
    keys = ("id", "state", "attempts", "restarts", "preemptions", "instance_id", "progress")
    table = [
        [
            *(r[k] for k in keys),
            f"{r['instance_hours']:.2f}",
            None if r["cost"] is None else f"${r['cost']:.2f}",
        ]
        for r in rows
    ]
    total = None
    if rows and args.spot_price is not None:
        total = f"\ntotal ${sum(r['cost'] or 0 for r in rows):.2f} at ${args.spot_price}/h"
    fitted = Table(HEADERS, table, "no jobs", {1: state_style}, keep=(0, 1), drop=STATUS_DROP)
    show(args, rows, fitted, total)
    return 0
