"""Which jobs an idle supervisor tries to claim, in which order.

Preempted jobs first, then the oldest pending ones: one listing of ``index/claimable/``.
On an on-demand instance, jobs whose deadline policy says ``on-demand`` come before all
of them (``deadline_first``): that instance was launched, or is paid, for exactly those.
Every ``full_scan_every_s`` (the lease TTL) a full scan also finds jobs whose instance went
silent (claimed or active, lease expired by the S3 server's clock) and drops index entries
of jobs that ended. Keys that name no job (``ClaimOrder``) are set aside after one
confirmed miss and deleted once (docs/security.md, "Indexes: which writers the design
trusts"). The claim itself (lease, state) is the supervisor's: this only orders.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import structlog

from pitstop import deadlines
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.errors import NotFound, StoreError
from pitstop.store.jobs import JobStore, policy_job
from pitstop.store.leases import Leases
from pitstop.store.listing import ListedJob, read_keys
from pitstop.store.spend import Prices

log = structlog.get_logger("pitstop.supervisor")

CLAIM_WINDOW = 64  # the widest spread of the claim order's head (a crowd claiming together)
# claim-index keys naming no job, deleted per claim round that found nothing to claim (a
# round stays short however many were written; the rest are skipped, unread, until then)
DELETES_PER_ROUND = 200
DELETE_THREADS = 8
INDEX_ENTRIES_REMOVED = "index.entries_removed"  # log event: keys that named no job, deleted


def spread(candidates: list[str], instance_id: str, window: int = CLAIM_WINDOW) -> list[str]:
    """Rotate the first ``window`` candidates by a hash of the instance id.

    Instances that wake together then try different jobs first instead of all racing for
    the oldest one; order beyond the window (and which jobs are in it) is unchanged.
    """
    head, tail = candidates[:window], candidates[window:]
    if len(head) < 2:
        return candidates
    order = random.Random(zlib.crc32(instance_id.encode())).sample(head, len(head))
    return order + tail


def deadline_first(candidates: list[str], critical: set[str]) -> list[str]:
    """Deadline-critical jobs first, each group in its own order."""
    return [j for j in candidates if j in critical] + [j for j in candidates if j not in critical]


@dataclass(frozen=True)
class OnDemand:
    """This instance is on-demand: what it needs to rank deadline-critical jobs first."""

    wall: Callable[[], datetime]
    overhead_s: float
    checkpoint_s: float
    prices: Prices | None = None  # both deadline prices set: the rule caps each job's cost


class ClaimOrder:
    """The claim order, and the claim index kept honest against keys that name no job.

    A claim-index key is written after its job's ``state.json`` (``JobStore.create`` and
    ``update``), so a key whose job has no directory in a listing of ``jobs/`` made after
    the listing of the index, or whose ``state.json`` is a 404 (``missing``, from the
    claimer), names no job: it is set aside at once (never read again) and deleted, one
    request per key, by ``tidy`` when a claim round found nothing. A transient error (a
    failed listing, a 5xx) confirms nothing: the key stays and is looked at again.
    """

    def __init__(
        self,
        jobs: JobStore,
        leases: Leases,
        instance_id: str,
        full_scan_every_s: float,
        on_demand: OnDemand | None = None,
    ) -> None:
        self.jobs = jobs
        self.leases = leases
        self.instance_id = instance_id
        self.full_scan_every_s = full_scan_every_s
        self.on_demand = on_demand
        self._last_full_scan: float | None = None
        self._dirs: set[str] = set()  # job ids of the last listing of jobs/
        self._keys: dict[str, list[str]] = {}  # job id -> its keys in the last index listing
        self._doomed: dict[str, str] = {}  # key -> job id: confirmed to name no job, to delete

    @property
    def doomed(self) -> int:
        """Index keys known to name no job and not yet deleted."""
        return len(self._doomed)

    def candidates(self, now: float) -> list[str]:
        """Job ids worth trying, best first (deadline-critical first on on-demand)."""
        ranked = self._ranked(now)
        if self.on_demand is None:
            return ranked
        return deadline_first(ranked, self._critical(ranked, self.on_demand))

    def missing(self, job_id: str) -> None:
        """The claimer read a 404 for ``job_id``'s ``state.json`` (a confirmed miss, not an
        error): the index keys that named it are set aside for deletion."""
        for key in self._keys.pop(job_id, []):
            self._doomed[key] = job_id

    def tidy(self, limit: int = DELETES_PER_ROUND) -> int:
        """Delete up to ``limit`` index keys that name no job (one request each, in a few
        threads); a failed delete is tried again next time. Returns how many went."""
        batch = list(self._doomed.items())[:limit]
        if not batch:
            return 0

        def drop(key: str) -> bool:
            try:
                self.jobs.store.delete(key)
            except StoreError:
                return False
            return True

        with ThreadPoolExecutor(DELETE_THREADS) as pool:
            oks = list(pool.map(drop, [key for key, _ in batch]))
        done = [(key, job_id) for (key, job_id), ok in zip(batch, oks, strict=True) if ok]
        for key, _ in done:
            self._doomed.pop(key, None)
        if done:
            ids = sorted({job_id for _, job_id in done})
            log.warning(
                INDEX_ENTRIES_REMOVED,
                instance_id=self.instance_id,
                removed=len(done),
                left=len(self._doomed),
                job_ids=ids[:5],
            )
        return len(done)

    def _critical(self, candidates: list[str], od: OnDemand) -> set[str]:
        """Candidates whose deadline policy says on-demand with nothing holding them."""
        out: set[str] = set()
        wall = od.wall()
        for job_id in candidates:
            try:
                spec = self.jobs.spec(job_id)
                if spec.deadline_at() is None:
                    continue
                status, _ = self.jobs.status(job_id)
            except StoreError:
                continue
            job = policy_job(
                spec,
                status,
                wall,
                overhead_s=od.overhead_s,
                checkpoint_s=od.checkpoint_s,
                prices=od.prices,
            )
            if job is not None and deadlines.decide(job).choice is deadlines.Choice.ON_DEMAND:
                out.add(job_id)
        return out

    def _ranked(self, now: float) -> list[str]:
        # the index is listed before jobs/: a key listed here whose job exists was written
        # after that job's state.json, so the job's directory is in any later listing
        entries = self.jobs.claim_entries()
        listed = {e.key for e in entries}
        self._doomed = {k: j for k, j in self._doomed.items() if k in listed}
        entries = [e for e in entries if e.key not in self._doomed]
        full = self._last_full_scan is None or now - self._last_full_scan >= self.full_scan_every_s
        unknown = {e.job_id for e in entries if e.job_id not in self._dirs}
        ids: list[str] | None = None
        if full or len(unknown) > CLAIM_WINDOW:
            # one listing per 1,000 jobs answers for every unknown id at once, instead of
            # one GET each (a crowd of keys naming no job costs nothing per tick after this)
            ids = self.jobs.job_ids()
            self._dirs = set(ids)
            for e in entries:
                if e.job_id not in self._dirs:
                    self._doomed[e.key] = e.job_id
            entries = [e for e in entries if e.key not in self._doomed]
        self._keys = {}
        for e in entries:
            self._keys.setdefault(e.job_id, []).append(e.key)
        ranked = list(self._keys)  # best first, each job once
        if full:
            assert ids is not None
            self._last_full_scan = now
            ended = set(self.jobs.ended_job_ids())
            live = [j for j in ids if j not in ended]
            kept = self._repair_index([j for j in ranked if j in ended])
            ranked = [j for j in ranked if j not in ended or j in kept]
            ranked += [j for j in self._full_scan(live) if j not in ranked]
        return ranked

    def _repair_index(self, indexed_ended: list[str]) -> set[str]:
        """Index entries of jobs the terminal index says ended (their writer died between
        two writes): dropped once ``state.json`` confirms it. A job whose state is not
        terminal keeps its place (the marker lied: it is not trusted over state.json)."""
        kept: set[str] = set()
        for job_id in indexed_ended:
            try:
                status, _ = self.jobs.status(job_id)
            except NotFound as e:
                if e.key == self.jobs.layout.state(job_id):
                    self.missing(job_id)
                continue
            except StoreError:
                continue
            if not status.state.is_terminal():
                kept.add(job_id)
                continue
            for key in self._keys.pop(job_id, []):
                self._doomed[key] = job_id
        return kept

    def _full_scan(self, live: list[str]) -> list[str]:
        """Every live job worth a try: preempted ones, then those whose owner went silent
        (lease expired), then pending ones. The listing index (one request per 1,000 jobs)
        says which jobs to read: only a job held by another instance costs its lease, and
        only a job whose listing is missing, doubled or says it ended (the terminal index
        does not) costs its ``state.json``. A wrong key delays a job, never runs one: the
        claim decides on a fresh read of ``state.json`` and the lease."""
        try:
            keyed = read_keys(self.jobs)
        except StoreError:
            keyed = {}
        ranked: list[tuple[int, str, str]] = []
        for job_id in live:
            keys = keyed.get(job_id, [])
            # more than one claim key: state.json says which one its writer made
            plain = len(self._keys.get(job_id, [])) <= 1
            if plain and len(keys) == 1 and _listed_state(keys[0].entry) is not None:
                seen = _Seen.of(keys[0].entry)
            else:
                try:
                    status, _ = self.jobs.status(job_id)
                except StoreError:
                    continue
                self._drop_foreign_keys(status)
                seen = _Seen(status.state, status.instance_id, status.created_at or "")
            rank = self._rank(job_id, seen)
            if rank is not None:
                ranked.append((rank, seen.created, job_id))
        return [job_id for _, _, job_id in sorted(ranked)]

    def _rank(self, job_id: str, seen: _Seen) -> int | None:
        if seen.state is JobState.PREEMPTED:
            return 0
        if seen.instance_id not in (None, self.instance_id) and (
            seen.state.is_active() or seen.state is JobState.PENDING
        ):
            try:
                info = self.leases.info(job_id)
            except StoreError:
                return None
            return 1 if info is None or self.leases.is_expired(info) else None
        return 2 if seen.state is JobState.PENDING else None

    def _drop_foreign_keys(self, status: JobStatus) -> None:
        """Index keys naming this job that no writer of its state could have made (another
        creation time): set aside, so the job is tried once per round, not once per key."""
        ours = self.jobs.claim_keys_of(status)
        keys = self._keys.get(status.id, [])
        for key in [k for k in keys if k not in ours]:
            keys.remove(key)
            self._doomed[key] = status.id


@dataclass(frozen=True)
class _Seen:
    """What the full scan knows of a job: from its one listing key, or its ``state.json``."""

    state: JobState
    instance_id: str | None
    created: str

    @classmethod
    def of(cls, entry: ListedJob) -> _Seen:
        state = _listed_state(entry)
        assert state is not None
        return cls(state, entry.instance_id, entry.created_at or "")


def _listed_state(entry: ListedJob) -> JobState | None:
    """The state a listing key shows, when it may be taken without a read: not an ended one
    (the terminal index, not a listing key, says a job ended), nor an unknown word."""
    try:
        state = JobState(entry.state)
    except ValueError:
        return None
    return None if state.is_terminal() else state
