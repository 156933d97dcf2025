"""The trainer's view of the queue: the rows of ``pitstop jobs`` and the cancel rule.

Used by the CLI (``pitstop jobs``, ``pitstop cancel``); the rule itself (which states end at
once, which wait for their supervisor) is the lifecycle's ``request_cancel``, so the
supervisor and the command can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pitstop.core import events as ev
from pitstop.core import ownership
from pitstop.core.states import JobState
from pitstop.core.times import parse_time, utcnow
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


@dataclass(frozen=True)
class Cancelled:
    """What a cancel did: ``requested`` False when the job had already ended (cancelling
    again is not an error; the CLI, the dashboard and the client all say so the same way)."""

    id: str
    state: JobState
    requested: bool

    def doc(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state.value, "cancel_requested": self.requested}

    def line(self) -> str:
        if not self.requested:
            return f"{self.id} is already {self.state.value}; nothing to cancel"
        if self.state is JobState.CANCELLED:
            return f"{self.id} cancelled"
        return f"{self.id}: cancel requested; its supervisor stops it at its next heartbeat"


def cancel(jobs: JobStore, job_id: str) -> Cancelled:
    """Cancel a job: a queued one ends at once, a running one is stopped by its supervisor
    at its next heartbeat; an ended one is left as it is. ``NotFound`` for no such job."""
    current, etag = jobs.status(job_id)
    if current.state.is_terminal():
        return Cancelled(job_id, current.state, requested=False)
    status = jobs.update(job_id, ownership.request_cancel, known=(current, etag))
    if status is None:  # it ended since we read it
        current, _ = jobs.status(job_id)
        return Cancelled(job_id, current.state, requested=False)
    jobs.event(job_id, ev.JOB_CANCEL_REQUESTED, state=status.state.value)
    return Cancelled(job_id, status.state, requested=True)
