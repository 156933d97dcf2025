"""``pitstop logs JOB [--follow]``: a job's logs from S3 (``jobs/JOB/logs/``).

Each log object is printed once, under a header with its name; with ``follow`` the prefix
is polled and new objects (or bytes appended to one) are printed as they appear, until the
job reaches a terminal state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pitstop.errors import NotFound, StoreError
from pitstop.store.jobs import JobStore


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
                write(f"==> {item.key[len(prefix) :]} <==\n")
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
