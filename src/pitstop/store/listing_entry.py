"""What one job's listing key carries: the fields of its ``state.json``, times compacted.

Pure encoding, shared by the writer (``JobStore.list_entry`` writes a job's key after
every write of ``state.json``) and the reader (``listing.py`` reads, settles and repairs
the keys). ``store/layout.py`` turns these fields into a key and back; this module
decides what they are.
"""

from __future__ import annotations

from pitstop.core.records import JobStatus
from pitstop.core.times import parse_or_none


def compact_time(iso_time: str | None) -> str | None:
    """``2026-11-22T06:21:45.123Z`` -> ``20261122T062145123Z`` (sorts the same, shorter)."""
    if not iso_time:
        return None
    return "".join(c for c in iso_time if c.isalnum())


def iso_time(compact: str | None) -> str | None:
    """The inverse of ``compact_time`` (None for anything else)."""
    if not compact or len(compact) < 16 or compact[8] != "T":
        return None
    d, t = compact[:8], compact[9:].rstrip("Z")
    frac = f".{t[6:]}" if len(t) > 6 else ""
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}T{t[:2]}:{t[2:4]}:{t[4:6]}{frac}Z"


def entry_fields(status: JobStatus, name: str | None) -> dict[str, str | None]:
    """What the listing key of ``status`` carries (``layout.LISTING_FIELDS``)."""
    last = status.attempts[-1] if status.attempts else None
    running_since = None
    if last is not None and last.ended_at is None and status.state.is_active():
        running_since = compact_time(last.started_at)
    ended_s = 0.0
    for a in status.attempts:
        start, end = parse_or_none(a.started_at), parse_or_none(a.ended_at)
        if start is not None and end is not None:
            ended_s += max(0.0, (end - start).total_seconds())
    return {
        "state": status.state.value,
        "created": compact_time(status.created_at),
        "updated": compact_time(status.updated_at),
        "attempts": str(len(status.attempts)),
        "restarts": str(status.restarts),
        "instance_id": status.instance_id,
        "last_checkpoint": last.last_checkpoint if last else None,
        "running_since": running_since,
        "ended_s": f"{ended_s:.0f}",
        "cancel_requested": "1" if status.cancel_requested else None,
        "truncated": None,
        "name": name,
        "reason": status.reason,
        "deadline": compact_time(status.deadline),
        "max_hours": f"{status.max_hours:g}" if status.max_hours is not None else None,
        "training_s": f"{status.training_s:.0f}",
    }
