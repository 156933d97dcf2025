"""``pitstop status``: jobs with attempts, restarts, preemptions, progress and cost."""

from __future__ import annotations

import argparse
from typing import Any

from pitstop.cli.common import add_settings_flags, job_store, positive, settings_from
from pitstop.cli.output import add_json_flag, state_style, table_or_json


def register(sub: argparse._SubParsersAction[Any]) -> None:
    s = sub.add_parser(
        "status",
        help="jobs, attempts, states, progress and cost",
        description="A table of jobs with their attempts, restarts, preemptions, progress "
        "(last checkpoint, share of max_hours) and cost so far (instance hours x "
        "--spot-price).",
    )
    s.add_argument(
        "--spot-price",
        type=positive(float, "--spot-price"),
        metavar="USD_PER_HOUR",
        help="spot price for the cost column (instance hours x price)",
    )
    add_settings_flags(s)
    add_json_flag(s)
    s.set_defaults(func=_status)


def _status(args: Any) -> int:
    from pitstop.fleet.progress import all_progress

    rows = [p.row() for p in all_progress(job_store(settings_from(args)), args.spot_price)]
    table_or_json(
        args.json,
        rows,
        [
            "JOB",
            "STATE",
            "ATTEMPTS",
            "RESTARTS",
            "PREEMPTED",
            "INSTANCE",
            "PROGRESS",
            "HOURS",
            "COST",
        ],
        [
            [
                r["id"],
                r["state"],
                r["attempts"],
                r["restarts"],
                r["preemptions"],
                r["instance_id"],
                r["progress"],
                f"{r['instance_hours']:.2f}",
                None if r["cost"] is None else f"${r['cost']:.2f}",
            ]
            for r in rows
        ],
        empty="no jobs",
        styles={1: state_style},
    )
    if rows and not args.json and args.spot_price is not None:
        total = sum(r["cost"] or 0 for r in rows)
        print(f"\ntotal ${total:.2f} at ${args.spot_price}/h")
    return 0
