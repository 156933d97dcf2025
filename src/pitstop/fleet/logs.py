"""``pitstop logs JOB [--follow] [--live]``: a job's logs from S3 (``jobs/JOB/logs/``), or
live from the instance running it.

From S3, each log object is printed once, under a header with its name; with ``follow`` the
prefix is polled and new objects (or bytes appended to one) are printed as they appear, until
the job reaches a terminal state.

Live, the current attempt's trainer log is read over SSH where the supervisor keeps it,
``STATE_DIR/jobs/JOB/attempt-N.log``, with ``tail``; with ``follow``, ``tail -F`` until the
job ends, moving on to the next attempt's log when a new attempt starts.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from pitstop.errors import NoLiveOwner, NotFound, StoreError
from pitstop.store.jobs import JobStore

DEFAULT_STATE_DIR = PurePosixPath("/var/lib/pitstop")  # the supervisor's, on the instance
LIVE_LINES = 200  # lines printed without --follow


def follow_logs(
    jobs: JobStore,
    job_id: str,
    write: Callable[[str], None],
    *,
    follow: bool = False,
    interval_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print the job's logs; return how many objects were printed."""
    jobs.status(job_id)  # NotFound for an unknown job, before anything else
    printed: dict[str, int] = {}  # key -> bytes printed
    prefix = jobs.layout.logs(job_id)
    while True:
        try:
            listed = sorted(jobs.store.list(prefix), key=lambda i: (i.last_modified, i.key))
        except StoreError:
            listed = []
        for item in listed:
            done = printed.get(item.key, 0)
            if item.size <= done and item.key in printed:
                continue
            try:
                body = jobs.store.get(item.key).body
            except NotFound:
                continue
            if item.key not in printed:
                write(f"==> {jobs.layout.parse_log(job_id, item.key)} <==\n")
            text = body[done:].decode(errors="replace")
            if text:
                write(text if text.endswith("\n") else text + "\n")
            printed[item.key] = len(body)
        if not follow:
            return len(printed)
        status, _ = jobs.status(job_id)
        if status.state.is_terminal():
            # one more pass was just made after the final upload? make sure: the supervisor
            # uploads logs before it writes the terminal state, so the listing above saw them
            return len(printed)
        sleep(interval_s)


@dataclass(frozen=True)
class LiveLog:
    """Where the current attempt's trainer log is: on which instance, at which path."""

    instance_id: str
    attempt: int
    path: PurePosixPath

    def command(self, follow: bool) -> str:
        path = shlex.quote(str(self.path))
        return f"tail -n +1 -F {path}" if follow else f"tail -n {LIVE_LINES} {path}"


def live_log(jobs: JobStore, job_id: str, state_dir: PurePosixPath = DEFAULT_STATE_DIR) -> LiveLog:
    """The current attempt's log of ``job_id``; ``NoLiveOwner`` when no instance runs it."""
    status, _ = jobs.status(job_id)
    if not (status.state.is_active() and status.instance_id and status.attempts):
        raise NoLiveOwner(
            f"job {job_id} is {status.state} and no instance is running it; "
            f"its saved logs: pitstop logs {job_id}"
        )
    n = len(status.attempts)
    return LiveLog(status.instance_id, n, state_dir / "jobs" / job_id / f"attempt-{n}.log")


# (the log, the command, when to stop) -> the remote exit status, None when stopped
Tail = Callable[[LiveLog, str, Callable[[], bool]], int | None]


def live_logs(
    jobs: JobStore,
    job_id: str,
    tail: Tail,
    write: Callable[[str], None],
    *,
    state_dir: PurePosixPath = DEFAULT_STATE_DIR,
    follow: bool = False,
) -> int:
    """Print the current attempt's log from its instance; return the exit code for the CLI."""
    current: LiveLog | None = live_log(jobs, job_id, state_dir)
    while current is not None:
        write(f"==> {current.instance_id}:{current.path} <==\n")
        if not follow:
            code = tail(current, current.command(False), lambda: False)
            return 0 if code is None else code
        latest: list[LiveLog | None] = [current]

        def moved_on(reading: LiveLog = current, latest: list[LiveLog | None] = latest) -> bool:
            try:
                latest[0] = live_log(jobs, job_id, state_dir)
            except NoLiveOwner:
                latest[0] = None  # the job ended, or no instance owns it any more
            except StoreError:
                return False  # S3 unreachable for a moment: keep reading
            return latest[0] != reading

        code = tail(current, current.command(True), moved_on)
        if code is not None:
            return code  # tail itself ended (killed, not installed): say how
        current = latest[0]  # a new attempt's log, or None: done
    return 0
