"""``pitstop report``: one self-contained HTML file of training curves, attempts, events
and cost."""

from __future__ import annotations

from typing import Any

from pitstop.cli.common import Sub, command, job_store, opt, out_file, positive, settings_from
from pitstop.cli.output import show

OPTIONS = [
    opt("--out", required=True, metavar="FILE.html", help="the .html file to write"),
    opt("--job", action="append", default=[], metavar="JOB_ID", help="only these jobs (repeatable)"),
    opt("--spot-price", type=positive(float, "--spot-price"), metavar="USD_PER_HOUR", help="spot price for the cost figures (instance hours x price)"),
]  # fmt: skip


def register(sub: Sub) -> None:
    command(
        sub, "report", _report, "an HTML report with training curves, attempts, events and cost",
        "Write one self-contained HTML file (charts inline, no network needed to view it): per "
        "job, reward and completion per episode across every attempt with each restart or "
        "preemption marked, the attempts and events, instance hours and cost; then each "
        "world's leaderboard with a lap-time chart. Needs the plot extra (matplotlib).",
        OPTIONS,
    )  # fmt: skip


def _report(args: Any) -> int:
    from pitstop.evaluation.board import boards_with_laps
    from pitstop.fleet.report import render
    from pitstop.fleet.report_file import check_out, report_progress

    out = out_file(str(check_out(args.out)))
    settings = settings_from(args)
    jobs = job_store(settings)
    progress = report_progress(jobs, args.job, args.spot_price)
    boards = boards_with_laps(jobs)
    out.write_text(render(progress, args.spot_price, settings.bucket, boards))
    doc = {"out": str(out), "jobs": [p.row() for p in progress], "leaderboards": boards}
    show(args, doc, f"{out} ({len(progress)} job(s))")
    return 0
