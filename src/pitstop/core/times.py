"""Times in pitstop's records: ISO 8601 in UTC with a ``Z`` (``2026-11-27T18:00:00.000Z``).

The one place that writes and parses them; everything else calls these.
"""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(t: datetime | None) -> str | None:
    """A record's time text (UTC, milliseconds, ``Z``); None stays None."""
    return (
        None
        if t is None
        else t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a zone (``2026-11-27T18:00:00Z``); ValueError otherwise."""
    try:
        t = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-27T18:00:00Z)") from None
    if t.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone (e.g. 2026-11-27T18:00:00Z)")
    return t


def parse_iso(text: str) -> datetime:
    """A record's time, read back: ISO 8601 (``Z`` or an offset); one without a zone is
    taken as UTC (older records). ValueError when it is not a time."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"{text!r} is not an ISO 8601 time") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def timestamp(text: str | None) -> float | None:
    """Epoch seconds of a record's time, or None when it is missing or not a time."""
    if not text:
        return None
    try:
        return parse_iso(text).timestamp()
    except ValueError:
        return None


def seconds_between(since: str | None, until: str | None) -> float:
    """Seconds from one record time to another; 0 when either is unknown (never negative)."""
    a, b = timestamp(since), timestamp(until)
    if a is None or b is None:
        return 0.0
    return max(0.0, b - a)


def parse_or_none(text: str | None) -> datetime | None:
    """A record's time, or None when it is missing or not a time."""
    if not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None
