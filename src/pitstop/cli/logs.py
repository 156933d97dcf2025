"""``pitstop logs JOB_ID [--follow] [--live]``: a job's logs from S3, or live over SSH."""

from __future__ import annotations

import sys
from typing import Any

from pitstop.cli.common import FLAG, Sub, command, jobs_from, opt, positive
from pitstop.cli.ssh import SSH_OPTIONS, ssh_options, target
from pitstop.errors import UsageError

OPTIONS = [
    opt("job_id", metavar="JOB_ID"),
    opt("-f", "--follow", **FLAG, help="keep printing new logs until the job ends"),
    opt("--interval", type=positive(float, "--interval", 0.05), default=2.0, help="poll interval with --follow (s)"),
    opt("--live", **FLAG, help="read the current attempt's log over SSH from the instance running the job"),
    opt("--state-dir", metavar="DIR", default="/var/lib/pitstop", help="the supervisor's state directory on the instance, with --live (default: /var/lib/pitstop)"),
    *SSH_OPTIONS,
    opt("--name", default="pitstop", help="fleet name, with --live (default: pitstop)"),
    opt("--endpoint-url", metavar="URL", help="AWS endpoint for EC2, with --live (tests)"),
]  # fmt: skip


def register(sub: Sub) -> None:
    command(
        sub, "logs", _logs, "print a job's logs from S3, or live from its instance",
        "Print a job's logs (jobs/JOB/logs/attempt-N/... in S3, uploaded on every heartbeat "
        "while an attempt runs), or with --live the current attempt's trainer log, read over "
        "SSH from the instance running it.",
        OPTIONS, json=False,
    )  # fmt: skip


def _writer(stream: Any) -> Any:
    def write(data: Any) -> None:
        stream.write(data)
        stream.flush()

    return write


def _logs(args: Any) -> int:
    from pitstop.fleet.logs import follow_logs

    write = _writer(sys.stdout)
    if args.live:
        return _live_logs(args, write)
    n = follow_logs(
        jobs_from(args), args.job_id, write, follow=args.follow, interval_s=args.interval
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

    from pitstop.fleet.logs import LiveLog, live_logs
    from pitstop.fleet.ssh import stream

    state_dir = PurePosixPath(args.state_dir)
    if not state_dir.is_absolute():
        raise UsageError(f"--state-dir {args.state_dir}: must be an absolute path")
    opts = ssh_options(args)
    out, err = _writer(sys.stdout.buffer), _writer(sys.stderr.buffer)

    def tail(log: LiveLog, command: str, stop: Any) -> int | None:
        dest = target(args, log.instance_id, opts)
        return stream(dest, command, opts, out=out, err=err, stop=stop, poll_s=args.interval)

    return live_logs(
        jobs_from(args), args.job_id, tail, write, state_dir=state_dir, follow=args.follow
    )
