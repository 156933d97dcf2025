"""The job listing: one small key per job whose *name* carries what the job table shows.

``pitstop jobs``, the dashboard and the client read the queue from one listing of
``index/jobs/`` (one request per 1,000 jobs) instead of one ``state.json`` per job. The key
of a job is ``index/jobs/JOB_ID/REV~STATE~CREATED~...~NAME~REASON`` (``listing_entry.py``
says what it carries, ``store/layout.py`` encodes and parses it), written by ``JobStore``
after every write of ``state.json``, in the same place that keeps the claim index: new key
first, then the old one deleted.

``state.json`` stays the truth; the listing is a hint that heals itself:

- a job may have two keys for a moment (a writer killed between the PUT of the new key
  and the DELETE of the old one, or a lost reply that made ``update`` re-apply its change):
  the reader reads that job's ``state.json`` once and shows it; when allowed to write, it
  keeps the key that matches it (writing it if none does) and deletes the others. No key
  is trusted past the revision ``state.json`` has (``JobStatus.revision`` goes up by one
  per write, and a key is written after its state): a key with a made-up revision, written
  by whoever can write ``index/``, never wins and never gets the true key deleted;
- a key naming a job with no ``state.json`` (a 404, not an error) is deleted by a
  scanning, repairing reader;
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
from typing import TYPE_CHECKING, Any

from pitstop.core.ids import job_id_problem
from pitstop.core.states import JobState
from pitstop.errors import InvalidJob, NotFound, StoreError
from pitstop.store.listing_entry import entry_fields, iso_time

if TYPE_CHECKING:
    from pitstop.core.records import JobStatus
    from pitstop.store.jobs import JobStore


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


@dataclass(frozen=True)
class Keyed:
    """One listing key of a job, parsed."""

    revision: int
    key: str
    entry: ListedJob


def read_keys(jobs: JobStore, prefix: str | None = None) -> dict[str, list[Keyed]]:
    """One listing of ``index/jobs/`` (or of one job's ``prefix`` in it): every job's keys,
    newest revision first. One key is the usual case; more than one is a writer stopped
    between its two writes, a lost reply that made it write again, or a key someone else
    wrote (``read`` asks ``state.json`` which one is true)."""
    lay = jobs.layout
    out: dict[str, list[Keyed]] = {}
    for item in jobs.store.list(prefix or lay.listing_index):
        parsed = lay.parse_listing_key(item.key)
        problem = "not a listing key" if parsed is None else job_id_problem(parsed.job_id)
        if parsed is None or problem is not None:
            jobs._report(item.key, f"{item.key}: skipped listing entry: {problem}")
            continue
        entry = ListedJob.from_fields(parsed.job_id, parsed.revision, parsed.fields)
        out.setdefault(parsed.job_id, []).append(Keyed(parsed.revision, item.key, entry))
    for keys in out.values():
        keys.sort(key=lambda k: (k.revision, k.entry.updated_at or ""), reverse=True)
    return out


def read(
    jobs: JobStore, *, scan: bool = True, repair: bool = True, verify_active: bool = False
) -> Listing:
    """The job table. ``scan``: also list ``jobs/`` (in parallel: one more request per
    1,000 jobs) to find jobs with no key and bad directories; ``repair``: write the keys
    found missing and delete stale ones (failures ignored: a read-only reader still reads);
    ``verify_active``: read the ``state.json`` of jobs listed as training (at most one per
    instance) and replace keys that fell behind it (a writer killed between the two).

    A job with more than one key costs one read of its ``state.json``: the key that
    matches it is the row (written if none does), and no key is trusted past the revision
    ``state.json`` has, so a key with a made-up revision never wins and never makes the
    repair delete the true one.
    """
    out = Listing()
    if scan:
        with ThreadPoolExecutor(2) as pool:
            dirs = pool.submit(jobs.scan)
            keyed = read_keys(jobs)
            ids, bad = dirs.result()
    else:
        keyed = read_keys(jobs)
        ids, bad = list(keyed), []
    rows = [ListedJob.invalid_dir(b.job_dir, b.reason) for b in bad]
    for job_id in ids:
        keys = keyed.get(job_id)
        entry: ListedJob | None
        if not keys:
            entry = _backfill(jobs, job_id, repair)
            if entry is not None and not entry.invalid:
                out.backfilled.append(job_id)
        elif len(keys) > 1:
            entry = _settle(jobs, job_id, keys, repair, out)
        elif verify_active and keys[0].entry.state in ACTIVE:
            entry = _verify(jobs, keys[0], repair)
        else:
            entry = keys[0].entry
        if entry is not None:
            rows.append(entry)
    if scan and repair:
        known = set(ids) | {b.job_dir for b in bad}
        for job_id in [j for j in keyed if j not in known]:
            _drop_if_missing(jobs, job_id, keyed[job_id], out)
    rows.sort(key=lambda r: (str(r.created_at), r.id))
    out.jobs = rows
    return out


ACTIVE = frozenset(s.value for s in JobState if s.is_active())


def _truth(jobs: JobStore, job_id: str) -> tuple[JobStatus, str, str]:
    """The job's ``state.json``, its name, and the one listing key that matches them."""
    status, _ = jobs.status(job_id)
    name = status.name or jobs.spec(job_id).name
    key = jobs.layout.listing_key(job_id, status.revision, entry_fields(status, name))
    return status, name, key


def _is_state_404(jobs: JobStore, job_id: str, e: NotFound) -> bool:
    return e.key == jobs.layout.state(job_id)


def _settle(
    jobs: JobStore, job_id: str, keys: list[Keyed], repair: bool, out: Listing
) -> ListedJob | None:
    """A job with more than one key: ``state.json`` says which is true. The key that
    matches it stays (written when none does); every other key goes, the newest as much
    as the oldest: no writer makes a key past its state's revision (the key is written
    after ``state.json``, and this listing was made before the read)."""
    try:
        status, name, true_key = _truth(jobs, job_id)
    except InvalidJob as e:
        return ListedJob.invalid_dir(job_id, str(e))
    except NotFound as e:
        if repair and _is_state_404(jobs, job_id, e):
            _delete(jobs, [k.key for k in keys], out)  # keys of a job with no state.json
        return None
    except StoreError:
        return keys[0].entry  # unreadable now (not a miss): delete nothing, the next read decides
    listed = {k.key for k in keys}
    if repair:
        if true_key not in listed:
            with contextlib.suppress(StoreError):
                jobs.store.put(true_key, b"")
        _delete(jobs, [k for k in listed if k != true_key], out)
    return status_entry(status, name)


def _delete(jobs: JobStore, keys: Iterable[str], out: Listing) -> None:
    for key in keys:
        with contextlib.suppress(StoreError):
            jobs.store.delete(key)
            out.repaired += 1


def _drop_if_missing(jobs: JobStore, job_id: str, keys: list[Keyed], out: Listing) -> None:
    """Keys naming a job with no directory under ``jobs/``: shown by no scanning reader;
    deleted once its ``state.json`` is a 404 (the two listings ran in parallel, so a job
    created meanwhile is read, not assumed away; an error confirms nothing)."""
    try:
        jobs.status(job_id)
    except NotFound as e:
        if _is_state_404(jobs, job_id, e):
            _delete(jobs, [k.key for k in keys], out)
    except StoreError:
        return


def _verify(jobs: JobStore, listed: Keyed, repair: bool) -> ListedJob:
    """A job listed as training, checked against its ``state.json``: the key is the row
    only when it is exactly the one the state makes."""
    entry = listed.entry
    try:
        status, name, true_key = _truth(jobs, entry.id)
    except StoreError:
        return entry  # unreadable now: the listing is all there is
    if true_key == listed.key:
        return entry
    if repair:
        with contextlib.suppress(StoreError):
            jobs.store.put(true_key, b"")
            jobs.store.delete(listed.key)
    return status_entry(status, name)


def _backfill(jobs: JobStore, job_id: str, repair: bool) -> ListedJob | None:
    """A job with no listing key: its state (and name) read once, its key written."""
    try:
        status, name, key = _truth(jobs, job_id)
    except InvalidJob as e:
        return ListedJob.invalid_dir(job_id, str(e))
    except NotFound:
        return None  # a job being created, or a directory without state: not a job yet
    if repair:
        with contextlib.suppress(StoreError):
            jobs.store.put(key, b"")
    return status_entry(status, name)


def reindex(jobs: JobStore, job_ids: Iterable[str] | None = None) -> tuple[int, int]:
    """Rewrite the listing from every job's ``state.json``: each job keeps exactly the key
    its state makes, at the revision its state has (a key past it, whoever wrote it, is
    deleted, never carried into ``state.json``). The repair path for keys behind their
    state, e.g. after a rolling upgrade from a version that kept no listing. With no
    ``job_ids``, keys of jobs whose ``state.json`` is a 404 are deleted too.
    Returns (keys written, keys deleted)."""
    written = deleted = 0
    keyed = read_keys(jobs)
    every = job_ids is None
    ids = list(job_ids) if job_ids is not None else jobs.job_ids()
    for job_id in ids:
        have = [k.key for k in keyed.get(job_id, [])]
        try:
            _, _, key = _truth(jobs, job_id)
        except StoreError:
            continue
        if key not in have:
            jobs.store.put(key, b"")
            written += 1
        for old in have:
            if old != key:
                jobs.store.delete(old)
                deleted += 1
    if every:
        gone = Listing()
        for job_id in [j for j in keyed if j not in set(ids)]:
            _drop_if_missing(jobs, job_id, keyed[job_id], gone)
        deleted += gone.repaired
    return written, deleted


def is_ended(state: str) -> bool:
    try:
        return JobState(state).is_terminal()
    except ValueError:
        return False
