"""``pitstop sweep GRID.yaml``: a grid or random search run as jobs on the fleet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pitstop.cli.common import FLAG, Sub, command, opt, out_dir, settings_from
from pitstop.cli.output import show
from pitstop.extras import install_hint
from pitstop.tables import format_table

EXAMPLE = """\
example GRID.yaml:
  name: centerline
  reward_template: reward.py        # {{ w_center }} etc. are replaced by each point's values
  parameters:                       # a grid: every combination (or 'random:' with ranges)
    w_center: [0.5, 1.0, 2.0]
    w_speed: [0.0, 0.5]
  hyperparameters:                  # hyperparameters.json values to try
    lr: [0.0003, 0.0001]
  speed_scale: [1.0, 1.2]           # every action's speed scaled (model_metadata.json)
  metadata: model_metadata.json     # the base action space (default: the console's)
  job: {world: reInvent2019_track, max_hours: 2}
"""
OPTIONS = [
    opt("grid", metavar="GRID.yaml", help="the sweep file"),
    opt("--max-parallel", type=int, default=None, metavar="N", help="at most N of the sweep's jobs queued or running at once (default: all)"),
    opt("--out", default="sweep-results", metavar="DIR", help="where results go"),
    opt("--poll", type=float, default=10.0, metavar="S", help="seconds between polls"),
    opt("--dry-run", **FLAG, help="print the points, submit nothing"),
]  # fmt: skip


def register(sub: Sub) -> None:
    command(
        sub, "sweep", _sweep,
        "run a grid or random search over reward parameters, hyperparameters, speeds",
        "Submit one job per point of a search over reward-function parameters (a reward "
        "template with {{ name }} placeholders), hyperparameters and action-space speed scales; "
        "follow them as they train; write results.csv, results.json and metric.png (the mean "
        "reward of each job's last training episodes against each parameter). Waiting costs "
        "one S3 listing per poll, whatever the number of jobs.",
        OPTIONS, epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip


def _table(rows: list[dict[str, Any]], numbered: bool = False) -> str:
    """Every key of ``rows`` a column (``N``: the row's number, with ``numbered``)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    if numbered:
        return format_table(
            ["N", *keys], [[n, *(r.get(k) for k in keys)] for n, r in enumerate(rows)]
        )
    return format_table(keys, [[r.get(k) for k in keys] for r in rows])


def _sweep(args: Any) -> int:
    from pitstop import sweep as sw
    from pitstop.errors import UsageError

    if args.max_parallel is not None and args.max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1")
    plan = sw.load_sweep(args.grid)
    if args.dry_run:
        show(args, {"points": plan.points}, _table(plan.points, numbered=True))
        return 0
    from pitstop.client import Client, Executor

    out_dir(args.out)  # before the grid trains: it runs for hours

    settings = settings_from(args)
    client = Client(
        bucket=settings.bucket,
        prefix=settings.prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.region,
        config=getattr(args, "config", None),
        poll_interval_s=args.poll,
    )
    total, done = len(plan.points), 0

    def progress(row: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        metric = "-" if row.get("metric") is None else f"{row['metric']:.2f}"
        print(
            f"[{done}/{total}] {row.get('job_id') or '-'} {row['state']} metric {metric}",
            file=sys.stderr,
            flush=True,
        )

    with Executor(client, max_queued=args.max_parallel) as ex:
        rows = sw.run_sweep(plan, ex, client.store, on_done=progress)
    files = sw.write_results(rows, Path(args.out))
    no_plot = None
    if not any(f.name == "metric.png" for f in files):
        no_plot = f"no metric.png: it needs pitstop's 'plot' extra ({install_hint('plot')})"
    doc = {"rows": rows, "files": [str(f) for f in files]}
    show(args, doc, _table(rows), "wrote " + ", ".join(str(f) for f in files), no_plot)
    return 0 if all(r["state"] == "succeeded" for r in rows) else 1
