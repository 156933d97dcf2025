"""The trainer's view of the queue: the rows of ``pitstop jobs`` and the cancel rule.

Used by the CLI (``pitstop jobs``, ``pitstop cancel``); the rule itself (which states end at
once, which wait for their supervisor) is the lifecycle's ``request_cancel``, so the
supervisor and the command can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pitstop.core import events as ev
from pitstop.core import ownership
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.core.times import parse_time, utcnow
from pitstop.errors import InvalidInput
from pitstop.store import listing
from pitstop.store.jobs import JobStore


def job_rows(
    jobs: JobStore, *, repair: bool = True, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per directory under ``jobs/``, oldest first; broken ones as ``invalid``.

    Two listings per 1,000 jobs (``index/jobs/`` and ``jobs/``, in parallel), plus one
    ``state.json`` read for each job the listing does not know yet (``store/listing.py``).
    A job with a deadline shows it and its slack at ``now`` (``slack_hours``).
    """
    now = now or utcnow()
    rows = []
    for j in listing.read(jobs, scan=True, repair=repair).jobs:
        row = j.row()
        row["slack_h"] = slack_hours(j.deadline, j.max_hours, j.training_s, j.state, now)
        rows.append(row)
    return rows


def slack_hours(
    deadline: str | None, max_hours: float | None, training_s: float, state: str, now: datetime
) -> float | None:
    """Hours to spare before the deadline if the job trained without a break from now on
    (training kept so far counted); None without a deadline or once the job has ended."""
    if deadline is None or max_hours is None or JobState(state).is_terminal():
        return None
    due = parse_time(deadline)
    left = (due - now).total_seconds() - max(0.0, max_hours * 3600 - training_s)
    return round(left / 3600, 3)


def cancel(jobs: JobStore, job_id: str) -> JobStatus:
    """Cancel a job: a queued one ends at once, a running one is stopped by its supervisor
    at its next heartbeat. ``InvalidInput`` when it has already ended."""
    status = jobs.update(job_id, ownership.request_cancel)
    if status is None:
        current, _ = jobs.status(job_id)
        raise InvalidInput(f"job {job_id} is already {current.state.value}; nothing to cancel")
    jobs.event(job_id, ev.JOB_CANCEL_REQUESTED, state=status.state.value)
    return status
