"""The job listing: one small key per job whose *name* carries what the job table shows.

``pitstop jobs``, the dashboard and the client read the queue from one listing of
``index/jobs/`` (one request per 1,000 jobs) instead of one ``state.json`` per job. The key
of a job is ``index/jobs/JOB_ID/REV~STATE~CREATED~...~NAME~REASON`` (``store/layout.py``
encodes and parses it), written by ``JobStore`` after every write of ``state.json``, in
the same place that keeps the claim index: new key first, then the old one deleted.

``state.json`` stays the truth; the listing is a hint that heals itself:

- a job may have two keys for a moment (a writer killed between the PUT of the new key
  and the DELETE of the old one, or a lost reply that made ``update`` re-apply its change):
  the reader takes the highest revision (``JobStatus.revision`` goes up by one per write)
  and, when allowed to write, deletes the others;
- a job with no key (created before the listing existed, or its creator killed between
  ``state.json`` and the key) is found by the listing of ``jobs/`` that a full read makes:
  its ``state.json`` is read once and its key written (a backfill);
- a key behind its ``state.json`` (a writer killed after the state write) is replaced by
  the job's next write, or by ``reindex`` (``pitstop jobs --reindex``), which reads every
  job's state and rewrites every key.

What this module leaves to its callers: when to make a full read (``pitstop jobs`` always;
the dashboard every ``scan_interval_s``), and whether a reader may write (repair).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pitstop.errors import InvalidJob, NotFound, StoreError
from pitstop.store.ids import job_id_problem
from pitstop.store.states import JobState

if TYPE_CHECKING:
    from pitstop.store.jobs import JobStatus, JobStore


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


def _t(s: str | None) -> datetime | None:
    if not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None


def entry_fields(status: JobStatus, name: str | None) -> dict[str, str | None]:
    """What the listing key of ``status`` carries (``layout.LISTING_FIELDS``)."""
    last = status.attempts[-1] if status.attempts else None
    running_since = None
    if last is not None and last.ended_at is None and status.state.is_active():
        running_since = compact_time(last.started_at)
    ended_s = 0.0
    for a in status.attempts:
        start, end = _t(a.started_at), _t(a.ended_at)
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


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v else None
    except ValueError:
        return None


def _int(v: str | None) -> int:
    try:
        return int(v or 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class ListedJob:
    """One job as the listing shows it (a row of ``pitstop jobs``)."""

    id: str
    revision: int
    state: str
    name: str
    created_at: str | None
    updated_at: str | None
    attempts: int
    restarts: int
    instance_id: str | None
    last_checkpoint: str | None
    running_since: str | None  # the running attempt's start: cost so far runs from here
    ended_s: float  # wall seconds of the attempts that ended
    cancel_requested: bool
    reason: str | None
    truncated: str = ""  # "n" name, "r" reason: cut to fit the key (the job page has all)
    invalid: bool = False
    deadline: str | None = None
    max_hours: float | None = None
    training_s: float = 0.0  # training kept by ended attempts (the deadline's progress)

    @classmethod
    def from_fields(cls, job_id: str, revision: int, f: dict[str, str | None]) -> ListedJob:
        state = f.get("state") or "unknown"
        return cls(
            id=job_id,
            revision=revision,
            state=state,
            name=f.get("name") or "",
            created_at=iso_time(f.get("created")),
            updated_at=iso_time(f.get("updated")),
            attempts=_int(f.get("attempts")),
            restarts=_int(f.get("restarts")),
            instance_id=f.get("instance_id"),
            last_checkpoint=f.get("last_checkpoint"),
            running_since=iso_time(f.get("running_since")),
            ended_s=float(_int(f.get("ended_s"))),
            cancel_requested=f.get("cancel_requested") == "1",
            reason=f.get("reason"),
            truncated=f.get("truncated") or "",
            deadline=iso_time(f.get("deadline")),
            max_hours=_float(f.get("max_hours")),
            training_s=_float(f.get("training_s")) or 0.0,
        )

    @classmethod
    def invalid_dir(cls, job_dir: str, reason: str) -> ListedJob:
        """A directory under jobs/ that is not a runnable job: shown, never run."""
        return cls(
            job_dir, 0, "invalid", "", None, None, 0, 0, None, None, None, 0.0, False, reason,
            invalid=True,
        )  # fmt: skip

    def row(self) -> dict[str, Any]:
        """The ``pitstop jobs --json`` row."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "invalid": self.invalid,
            "attempts": self.attempts,
            "restarts": self.restarts,
            "instance_id": self.instance_id,
            "last_checkpoint": self.last_checkpoint,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "running_since": self.running_since,
            "ended_s": self.ended_s,
            "cancel_requested": self.cancel_requested,
            "reason": self.reason,
            "truncated": self.truncated,
            "deadline": self.deadline,
        }


@dataclass
class Listing:
    """The result of one read: the jobs, oldest first, and what the read did."""

    jobs: list[ListedJob] = field(default_factory=list)
    backfilled: list[str] = field(default_factory=list)  # jobs that had no key: state read
    repaired: int = 0  # stale keys deleted


def status_entry(status: JobStatus, name: str | None) -> ListedJob:
    return ListedJob.from_fields(status.id, status.revision, entry_fields(status, name))


def read_index(
    jobs: JobStore, prefix: str | None = None
) -> tuple[dict[str, tuple[int, str, ListedJob]], list[str]]:
    """One listing of ``index/jobs/`` (or of one job's ``prefix`` in it): the newest entry
    per job (revision, key, job), and the keys of older entries (stale: a writer was
    stopped between its two writes, or its reply was lost and it wrote again)."""
    lay = jobs.layout
    newest: dict[str, tuple[int, str, ListedJob]] = {}
    stale: list[str] = []
    for item in jobs.store.list(prefix or lay.listing_index):
        parsed = lay.parse_listing_key(item.key)
        problem = "not a listing key" if parsed is None else job_id_problem(parsed.job_id)
        if parsed is None or problem is not None:
            jobs._report(item.key, f"{item.key}: skipped listing entry: {problem}")
            continue
        entry = ListedJob.from_fields(parsed.job_id, parsed.revision, parsed.fields)
        rank = (parsed.revision, entry.updated_at or "")
        have = newest.get(parsed.job_id)
        if have is None:
            newest[parsed.job_id] = (parsed.revision, item.key, entry)
        elif rank > (have[0], have[2].updated_at or ""):
            stale.append(have[1])
            newest[parsed.job_id] = (parsed.revision, item.key, entry)
        else:
            stale.append(item.key)
    return newest, stale


def read(
    jobs: JobStore, *, scan: bool = True, repair: bool = True, verify_active: bool = False
) -> Listing:
    """The job table. ``scan``: also list ``jobs/`` (in parallel: one more request per
    1,000 jobs) to find jobs with no key and bad directories; ``repair``: write the keys
    found missing and delete stale ones (failures ignored: a read-only reader still reads);
    ``verify_active``: read the ``state.json`` of jobs listed as training (at most one per
    instance) and replace keys that fell behind it (a writer killed between the two).
    """
    out = Listing()
    if scan:
        with ThreadPoolExecutor(2) as pool:
            dirs = pool.submit(jobs.scan)
            newest, stale = read_index(jobs)
            ids, bad = dirs.result()
    else:
        newest, stale = read_index(jobs)
        ids, bad = list(newest), []
    listed = {j: e for j, (_, _, e) in newest.items()}
    rows = [ListedJob.invalid_dir(b.job_dir, b.reason) for b in bad]
    for job_id in ids:
        entry = listed.get(job_id)
        if entry is None:
            entry = _backfill(jobs, job_id, repair)
            if entry is None:
                continue
            if not entry.invalid:
                out.backfilled.append(job_id)
        elif verify_active and entry.state in ACTIVE:
            entry = _verify(jobs, newest[job_id], repair)
        rows.append(entry)
    if repair:
        for key in stale:
            with contextlib.suppress(StoreError):
                jobs.store.delete(key)
                out.repaired += 1
    rows.sort(key=lambda r: (str(r.created_at), r.id))
    out.jobs = rows
    return out


ACTIVE = frozenset(s.value for s in JobState if s.is_active())


def _verify(jobs: JobStore, listed: tuple[int, str, ListedJob], repair: bool) -> ListedJob:
    """A job listed as training, checked against its ``state.json``."""
    revision, key, entry = listed
    try:
        status, _ = jobs.status(entry.id)
        if status.revision <= revision and status.state.value == entry.state:
            return entry
        name = status.name or jobs.spec(entry.id).name
    except StoreError:
        return entry  # unreadable now: the listing is all there is
    fresh = status_entry(status, name)
    if repair:
        with contextlib.suppress(StoreError):
            new_key = jobs.layout.listing_key(entry.id, status.revision, entry_fields(status, name))
            jobs.store.put(new_key, b"")
            if new_key != key:
                jobs.store.delete(key)
    return fresh


def _backfill(jobs: JobStore, job_id: str, repair: bool) -> ListedJob | None:
    """A job with no listing key: its state (and name) read once, its key written."""
    try:
        status, _ = jobs.status(job_id)
        name = status.name or jobs.spec(job_id).name
    except InvalidJob as e:
        return ListedJob.invalid_dir(job_id, str(e))
    except NotFound:
        return None  # a job being created, or a directory without state: not a job yet
    if repair:
        with contextlib.suppress(StoreError):
            jobs.store.put(
                jobs.layout.listing_key(job_id, status.revision, entry_fields(status, name)), b""
            )
    return status_entry(status, name)


def reindex(jobs: JobStore, job_ids: Iterable[str] | None = None) -> tuple[int, int]:
    """Rewrite the listing from every job's ``state.json``: the repair path for keys behind
    their state (e.g. after a rolling upgrade from a version that kept no listing).
    Returns (keys written, keys deleted)."""
    written = deleted = 0
    newest, stale = read_index(jobs)
    for key in stale:
        with contextlib.suppress(StoreError):
            jobs.store.delete(key)
            deleted += 1
    for job_id in job_ids if job_ids is not None else jobs.job_ids():
        have = newest.get(job_id)
        try:
            status, _ = jobs.status(job_id)
            if have is not None and status.revision < have[0]:
                # state.json was written by a version that kept no revision: carry it past
                # the listing's, so that the key written now is the newest
                floor = have[0]

                def bump(s: JobStatus, floor: int = floor) -> JobStatus:
                    s.revision = max(s.revision, floor)
                    return s

                jobs.update(job_id, bump)  # writes the new key, as every update does
                jobs.store.delete(have[1])
                written, deleted = written + 1, deleted + 1
                continue
            name = status.name or jobs.spec(job_id).name
        except StoreError:
            continue
        key = jobs.layout.listing_key(job_id, status.revision, entry_fields(status, name))
        if have is not None and have[1] == key:
            continue
        jobs.store.put(key, b"")
        written += 1
        if have is not None:
            jobs.store.delete(have[1])
            deleted += 1
    return written, deleted


def is_ended(state: str) -> bool:
    try:
        return JobState(state).is_terminal()
    except ValueError:
        return False
