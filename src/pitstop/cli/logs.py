"""``pitstop logs JOB_ID [--follow] [--live]``: a job's logs from S3, or live over SSH."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pitstop.cli.common import add_settings_flags, job_store, positive, settings_from
from pitstop.errors import UsageError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    from pitstop.cli.ssh import add_ssh_flags

    lg = sub.add_parser(
        "logs",
        help="print a job's logs from S3, or live from its instance",
        description="Print a job's logs (jobs/JOB/logs/attempt-N/... in S3, uploaded on every "
        "heartbeat while an attempt runs), or with --live the current attempt's trainer log, "
        "read over SSH from the instance running it.",
    )
    lg.add_argument("job_id", metavar="JOB_ID")
    lg.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new logs until the job ends"
    )
    lg.add_argument(
        "--interval",
        type=positive(float, "--interval", 0.05),
        default=2.0,
        help="poll interval with --follow (s)",
    )
    lg.add_argument(
        "--live",
        action="store_true",
        help="read the current attempt's log over SSH from the instance running the job",
    )
    lg.add_argument(
        "--state-dir",
        metavar="DIR",
        default="/var/lib/pitstop",
        help="the supervisor's state directory on the instance, with --live "
        "(default: /var/lib/pitstop)",
    )
    add_ssh_flags(lg)
    lg.add_argument("--name", default="pitstop", help="fleet name, with --live (default: pitstop)")
    lg.add_argument(
        "--endpoint-url", metavar="URL", help="AWS endpoint for EC2, with --live (tests)"
    )
    add_settings_flags(lg)
    lg.set_defaults(func=_logs)


def _logs(args: Any) -> int:
    from pitstop.fleet.logs import follow_logs

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if args.live:
        return _live_logs(args, write)
    n = follow_logs(
        job_store(settings_from(args)),
        args.job_id,
        write,
        follow=args.follow,
        interval_s=args.interval,
    )
    if n == 0 and not args.follow:
        print(
            f"job {args.job_id}: no logs yet (the supervisor uploads them on every heartbeat "
            "once an attempt runs; --follow waits for them)",
            file=sys.stderr,
        )
    return 0


def _live_logs(args: Any, write: Any) -> int:
    from pathlib import PurePosixPath

    from pitstop.cli.ssh import ssh_options, target
    from pitstop.fleet.logs import LiveLog, live_logs
    from pitstop.fleet.ssh import stream

    state_dir = PurePosixPath(args.state_dir)
    if not state_dir.is_absolute():
        raise UsageError(f"--state-dir {args.state_dir}: must be an absolute path")
    opts = ssh_options(args)

    def out(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    def err(data: bytes) -> None:
        sys.stderr.buffer.write(data)
        sys.stderr.flush()

    def tail(log: LiveLog, command: str, stop: Any) -> int | None:
        dest = target(args, log.instance_id, opts)
        return stream(dest, command, opts, out=out, err=err, stop=stop, poll_s=args.interval)

    return live_logs(
        job_store(settings_from(args)),
        args.job_id,
        tail,
        write,
        state_dir=state_dir,
        follow=args.follow,
    )
