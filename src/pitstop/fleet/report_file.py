"""What ``pitstop report`` writes: where it may go (an .html file in an existing folder),
and the progress of the jobs asked for (every job, or the ones named), with curves.
Rendering the page is ``fleet.report``'s; the leaderboards come from the caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pitstop.errors import UsageError
from pitstop.fleet.progress import all_progress, job_progress
from pitstop.store.jobs import JobStore


def check_out(out: str) -> Path:
    path = Path(out)
    if path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {out}: must be an .html file")
    if not path.parent.is_dir():
        raise UsageError(f"--out {out}: no such directory {path.parent}")
    return path


def report_progress(jobs: JobStore, job_ids: list[str], spot_price: float | None) -> list[Any]:
    """Each job's progress with its curves: the jobs named, or every job."""
    if not job_ids:
        return all_progress(jobs, spot_price, with_curves=True)
    now = jobs.store.server_time()
    return [job_progress(jobs, j, now, spot_price, with_curves=True) for j in job_ids]
