"""The trainer's view of the queue: the rows of ``pitstop jobs`` and the cancel rule.

Used by the CLI (``pitstop jobs``, ``pitstop cancel``); the rule itself (which states end at
once, which wait for their supervisor) is the lifecycle's ``request_cancel``, so the
supervisor and the command can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pitstop.errors import InvalidInput, InvalidJob
from pitstop.store.jobs import JobSpec, JobStatus, JobStore, iso, utcnow


def _invalid_row(job_dir: str, reason: str) -> dict[str, Any]:
    """A directory under jobs/ that is not a runnable job: shown, never run."""
    return {
        "id": job_dir,
        "state": "invalid",
        "invalid": True,
        "attempts": 0,
        "restarts": 0,
        "instance_id": None,
        "last_checkpoint": None,
        "created_at": None,
        "deadline": None,
        "slack_h": None,
        "reason": reason,
    }


def slack_hours(spec: JobSpec, status: JobStatus, now: datetime) -> float | None:
    """Hours to spare before the deadline if the job trained without a break from now on
    (training kept so far counted); None without a deadline or once the job has ended."""
    due = spec.deadline_at()
    if due is None or spec.max_hours is None or status.state.is_terminal():
        return None
    left = (due - now).total_seconds() - max(0.0, spec.max_hours * 3600 - status.training_s)
    return round(left / 3600, 3)


def job_rows(jobs: JobStore, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per directory under ``jobs/``, oldest first; broken ones as ``invalid``.

    A job with a deadline shows it and its slack (``slack_hours``) at ``now``."""
    now = now or utcnow()
    ids, bad = jobs.scan()
    rows = [_invalid_row(b.job_dir, b.reason) for b in bad]
    for job_id in ids:
        try:
            status, _ = jobs.status(job_id)
            spec = jobs.spec(job_id)
        except InvalidJob as e:
            rows.append(_invalid_row(job_id, str(e)))
            continue
        due = spec.deadline_at()
        last = status.attempts[-1] if status.attempts else None
        rows.append(
            {
                "id": job_id,
                "state": status.state.value,
                "attempts": len(status.attempts),
                "restarts": status.restarts,
                "instance_id": status.instance_id,
                "last_checkpoint": last.last_checkpoint if last else None,
                "created_at": status.created_at,
                "deadline": iso(due),
                "slack_h": slack_hours(spec, status, now),
                "reason": status.reason,
            }
        )
    rows.sort(key=lambda r: str(r["created_at"]))
    return rows


def cancel(jobs: JobStore, job_id: str) -> JobStatus:
    """Cancel a job: a queued one ends at once, a running one is stopped by its supervisor
    at its next heartbeat. ``InvalidInput`` when it has already ended."""
    from pitstop.supervisor.lifecycle import request_cancel

    status = jobs.update(job_id, request_cancel)
    if status is None:
        current, _ = jobs.status(job_id)
        raise InvalidInput(f"job {job_id} is already {current.state.value}; nothing to cancel")
    jobs.event(job_id, "job.cancel_requested", state=status.state.value)
    return status
