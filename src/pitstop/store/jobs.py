"""Job specs, job states and events in S3.

A job is created exactly once (spec and state written with ``If-None-Match: *``), its
``state.json`` is only ever updated with ``If-Match`` on the ETag just read (a lost race is
re-read and re-applied), and its history is append-only: one object per event.

Job ids read from S3 are checked against the job-id grammar (``core/ids.py``): a directory
whose name breaks it, or whose ``spec.json``/``state.json`` names another id, is never
offered for a claim; listings skip it and report it once (``job.invalid``), and reading it
raises ``InvalidJob`` (a ``StoreError``, so callers that skip unreadable jobs skip it too).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from pitstop import deadlines
from pitstop.core.ids import check_job_id, job_id_problem
from pitstop.core.records import USER_FIELDS, JobSpec, JobStatus
from pitstop.core.states import CLAIMABLE_STATES, JobState
from pitstop.core.times import iso, parse_time, utcnow
from pitstop.errors import (
    CorruptObject,
    InvalidInput,
    InvalidJob,
    NotFound,
    PreconditionFailed,
    StoreError,
    validation_message,
)
from pitstop.store import parse
from pitstop.store.layout import CUSTOM_FILES, Layout
from pitstop.store.listing_entry import entry_fields
from pitstop.store.objects import Head, ObjectStore
from pitstop.store.spend import Prices, spent

MAX_UPDATE_RETRIES = 20
JOB_INVALID = "job.invalid"  # log event: a job directory that is skipped, and why

log = structlog.get_logger("pitstop.store")
R = TypeVar("R", bound=BaseModel)


def policy_job(
    spec: JobSpec,
    status: JobStatus,
    now: datetime,
    *,
    overhead_s: float,
    checkpoint_s: float,
    spot_held: bool = False,
    on_demand_held: bool = False,
    guard_s: float = 0.0,
    prices: Prices | None = None,
    spot_age: float = 0.0,
) -> deadlines.Job | None:
    """What the deadline policy knows of a job (epoch seconds), or None without a deadline.

    ``done`` is the training of its ended attempts: what it keeps when nothing holds it.
    With ``prices``, what it has paid (``spend.spent``) and the prices, so the rule caps
    its cost; ``spot_age``: how long the spot instance that would take it has run."""
    due = spec.deadline_at()
    if due is None or spec.max_hours is None:
        return None
    paid = (
        None
        if prices is None
        else spent(
            status.attempts,
            now.timestamp(),
            spot_price=prices.spot,
            on_demand_price=prices.on_demand,
        )
    )
    return deadlines.Job(
        need=spec.max_hours * 3600,
        done=status.training_s,
        now=now.timestamp(),
        deadline=due.timestamp(),
        overhead=overhead_s,
        checkpoint=checkpoint_s,
        spot_held=spot_held,
        on_demand_held=on_demand_held,
        started=parse_time(spec.submitted_at).timestamp(),
        guard=guard_s,
        spot_age=spot_age,
        spent=paid,
        spot_price=None if prices is None else prices.spot,
        on_demand_price=None if prices is None else prices.on_demand,
    )


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return (s or "job")[:40]


def job_id_for(name: str, files: dict[str, bytes], spec_fields: dict[str, Any]) -> tuple[str, str]:
    """Job id from the name and a hash of the content: the same drop gives the same id."""
    h = hashlib.sha256()
    for fname in sorted(files):
        h.update(fname.encode() + b"\0" + files[fname] + b"\0")
    h.update(json.dumps(spec_fields, sort_keys=True, default=str).encode())
    digest = h.hexdigest()
    return f"{slug(name)}-{digest[:10]}", digest


def _dump(model: BaseModel) -> bytes:
    return model.model_dump_json(indent=2).encode()


class ClaimEntry(NamedTuple):
    """One key of the claim index: the job it names (checked against the grammar) and the key."""

    job_id: str
    key: str


@dataclass(frozen=True)
class InvalidJobDir:
    """A directory under ``jobs/`` that is not a job pitstop will run, and why."""

    job_dir: str  # the name as listed: it may hold anything, so print it with repr()
    reason: str


class JobStore:
    """Reads and writes jobs through an ``ObjectStore``; knows nothing of processes or clocks."""

    def __init__(self, store: ObjectStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout
        self._specs: dict[str, JobSpec] = {}  # specs are immutable: each is read (and checked) once
        self._reported: set[str] = set()

    def _report(self, job_dir: str, reason: str) -> None:
        """Log a skipped job directory once per process (listings repeat every poll)."""
        if job_dir not in self._reported:
            self._reported.add(job_dir)
            log.warning(JOB_INVALID, job_dir=job_dir, reason=reason)

    # -- creation ----------------------------------------------------------------------
    def create(
        self,
        spec: JobSpec,
        files: dict[str, bytes],
        *,
        state: JobState = JobState.PENDING,
        reason: str | None = None,
    ) -> bool:
        """Write custom files, spec and initial state. False when the job already existed.

        A ``rejected`` job is recorded the same way, with its reason, so the trainer sees why.
        """
        lay = self.layout
        check_job_id(spec.id, "new job")
        for name in CUSTOM_FILES:
            if name in files:
                self.store.put(lay.custom_file(spec.id, name), files[name])
        try:
            self.store.put(
                lay.spec(spec.id), _dump(spec), if_none_match=True, content_type="application/json"
            )
        except PreconditionFailed:
            return False
        status = JobStatus(
            id=spec.id,
            state=state,
            reason=reason,
            created_at=spec.submitted_at,
            updated_at=spec.submitted_at,
            name=spec.name,
            deadline=iso(spec.deadline_at()),
            max_hours=spec.max_hours,
        )
        with contextlib.suppress(PreconditionFailed):  # a racing creator wrote it: same content
            self.store.put(
                lay.state(spec.id),
                _dump(status),
                if_none_match=True,
                content_type="application/json",
            )
        self.list_entry(None, status)
        if state.is_terminal():
            self.store.put(lay.terminal_marker(spec.id), b"")
        self.reindex(None, status)
        self.event(spec.id, "job.submitted", state=JobState.PENDING, source=spec.source)
        if state is JobState.REJECTED:
            self.event(spec.id, "job.rejected", state=state, reason=reason)
        return True

    # -- reading -----------------------------------------------------------------------
    def scan(self) -> tuple[list[str], list[InvalidJobDir]]:
        """One listing of ``jobs/``: the valid job ids, and the directories named otherwise."""
        ids: list[str] = []
        bad: list[InvalidJobDir] = []
        for prefix in self.store.list_dirs(self.layout.jobs):
            name = self.layout.parse_job_dir(prefix)
            if name is None:
                continue
            problem = job_id_problem(name)
            if problem is None:
                ids.append(name)
                continue
            bad.append(InvalidJobDir(name, f"{prefix}: not a valid job id: {problem}"))
            self._report(name, bad[-1].reason)
        return ids, bad

    def job_ids(self) -> list[str]:
        """Every job directory with a valid id (the others are reported and skipped)."""
        return self.scan()[0]

    def invalid_jobs(self) -> list[InvalidJobDir]:
        """Directories that are not runnable jobs: bad names, and state/spec naming another id.

        Reads every job's state (and spec, once): for ``pitstop jobs``, not for a poll loop.
        """
        ids, bad = self.scan()
        for job_id in ids:
            try:
                self.status(job_id)
            except InvalidJob as e:
                bad.append(InvalidJobDir(job_id, str(e)))
            except StoreError:
                continue  # missing or unreadable: a listing shows that as it always did
        return bad

    def ended_job_ids(self) -> list[str]:
        """Jobs that ended: one listing of ``index/terminal/`` per 1,000 of them."""
        ended = []
        for item in self.store.list(self.layout.terminal_index):
            job_id = self.layout.parse_terminal_key(item.key)
            if job_id is not None and job_id_problem(job_id) is None:
                ended.append(job_id)
        return ended

    def live_job_ids(self) -> list[str]:
        """Jobs not yet ended: two listings, whatever the number of ended jobs."""
        ended = set(self.ended_job_ids())
        return [j for j in self.job_ids() if j not in ended]

    def exists(self, job_id: str) -> bool:
        return self.store.head(self.layout.spec(job_id)) is not None

    def spec(self, job_id: str) -> JobSpec:
        """The job's spec; ``InvalidJob`` when its id is not the directory's name."""
        cached = self._specs.get(job_id)
        if cached is not None:
            return cached.model_copy(deep=True)
        key = self.layout.spec(job_id)
        try:
            obj = self.store.get(key)
        except NotFound:
            raise NotFound(f"no job {job_id!r}", key=self.layout.spec(job_id)) from None
        spec = read_record(JobSpec, obj.body, key, "job spec")
        if spec.id != job_id:
            reason = f"{key}: id {spec.id!r} is not the directory's name {job_id!r}"
            self._report(job_id, reason)
            raise InvalidJob(reason, key=key)
        self._specs[job_id] = spec
        return spec.model_copy(deep=True)

    def status(self, job_id: str, *, check_spec: bool = True) -> tuple[JobStatus, str]:
        """The job's state and the ETag to update it with (``status_head``)."""
        status, head = self.status_head(job_id, check_spec=check_spec)
        return status, head.etag

    def status_head(self, job_id: str, *, check_spec: bool = True) -> tuple[JobStatus, Head]:
        """The job's state and its object's head (the ETag to update it with, its age by the
        S3 server's clock).

        ``InvalidJob`` when the job's state, or the spec of a job not yet ended, names another
        id than its directory. ``check_spec=False`` leaves the spec to the caller (the claim
        reads it once it holds the lease, and sets such a job aside: a lost race costs no
        read of a spec).
        """
        key = self.layout.state(job_id)
        try:
            obj = self.store.get(key)
        except NotFound:
            raise NotFound(f"no job {job_id!r}", key=self.layout.state(job_id)) from None
        status = read_record(JobStatus, obj.body, key, "state")
        if status.id != job_id:
            reason = f"{key}: id {status.id!r} is not the directory's name {job_id!r}"
            self._report(job_id, reason)
            raise InvalidJob(reason, key=key)
        if check_spec and not status.state.is_terminal():
            # once per job and process (specs are immutable): a spec naming another id is
            # refused before any claim or update, so the job can never be run
            self.spec(job_id)
        return status, obj.head

    def custom_files(self, job_id: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for name in CUSTOM_FILES:
            try:
                out[name] = self.store.get(self.layout.custom_file(job_id, name)).body
            except NotFound:
                continue
        return out

    # -- updating ----------------------------------------------------------------------
    def update(
        self,
        job_id: str,
        change: Callable[[JobStatus], JobStatus | None],
        known: tuple[JobStatus, str] | None = None,
        *,
        listed: bool = True,
    ) -> JobStatus | None:
        """Apply ``change`` to the current state and write it with If-Match; retry lost races.

        ``known``: the state and its ETag as just read (``status``): the first try writes on
        it without reading again; a 412 (it changed since) reads afresh as usual.
        ``listed=False`` (a claim: the start's write follows at once) leaves the listing key
        as it is; the state keeps that key's name (``listing_key``), so the next write
        replaces it.

        ``change`` returns the new state, or None to leave it as it is (then None is returned).
        A 412 re-reads and re-applies ``change``, so ``change`` must be idempotent: after a
        lost reply it sees its own write. Every write raises ``revision`` by one and keeps
        the listing, claim and terminal indexes in step (hints: a failure there is repaired
        by the next full scan; a listing reader that finds two keys asks state.json).
        """
        for _ in range(MAX_UPDATE_RETRIES):
            current, etag = known if known is not None else self.status(job_id)
            known = None
            new = change(current.model_copy(deep=True))
            if new is None:
                return None
            new.updated_at = iso(utcnow())
            new.revision = max(new.revision, current.revision) + 1
            old_key = self._written_key(current)
            new.listing_key = self._key_or_none(new) if listed else old_key
            try:
                self.store.put(
                    self.layout.state(job_id),
                    _dump(new),
                    if_match=etag,
                    content_type="application/json",
                )
            except PreconditionFailed:
                continue
            self._keep_indexes(current, new, old_key, listed=listed)
            return new
        raise StoreError(
            f"{self.layout.state(job_id)}: gave up after {MAX_UPDATE_RETRIES} write races"
        )

    # -- the claim index ----------------------------------------------------------------
    def _claim_key(self, status: JobStatus, state: JobState | None = None) -> str:
        preempted = (state or status.state) is JobState.PREEMPTED
        created = re.sub(r"[^0-9TZ]", "", status.created_at or "")
        return self.layout.claim_key(0 if preempted else 1, created, status.id)

    def reindex(self, old: JobStatus | None, new: JobStatus) -> None:
        """Keep ``index/claimable/`` in step with a state change (a hint; the claim re-checks)."""
        old_key = (
            self._claim_key(old) if old is not None and old.state in CLAIMABLE_STATES else None
        )
        new_key = self._claim_key(new) if new.state in CLAIMABLE_STATES else None
        if new_key and new_key != old_key:
            self.store.put(new_key, b"")
        if old_key and old_key != new_key:
            self.store.delete(old_key)

    # -- the listing (store/listing.py) ----------------------------------------------------
    def _listing_key(self, status: JobStatus) -> str:
        name = status.name
        if name is None:
            try:
                name = self.spec(status.id).name  # a state written before it kept the name
            except StoreError:
                name = None
        return self.layout.listing_key(status.id, status.revision, entry_fields(status, name))

    def _key_or_none(self, status: JobStatus) -> str | None:
        try:
            return self._listing_key(status)
        except ValueError:  # a prefix so long that no key fits in 1,024 bytes
            return None

    def _written_key(self, status: JobStatus) -> str | None:
        """The listing key written for ``status``: the one it names (after a claim, its
        state before), else the one its fields make (states written before the field)."""
        return status.listing_key or self._key_or_none(status)

    def list_entry(self, old: JobStatus | None, new: JobStatus, old_key: str | None = None) -> None:
        """Keep ``index/jobs/`` in step with a write of ``state.json``: the new key first,
        then the old one deleted (a kill between the two leaves two; a reader keeps the
        one that matches ``state.json`` and deletes the other)."""
        try:
            new_key = new.listing_key or self._listing_key(new)  # update() named it already
            if old_key is None and old is not None:
                old_key = self._listing_key(old)
        except ValueError as e:  # a prefix so long that no key fits in 1,024 bytes
            raise StoreError(str(e)) from None
        self.store.put(new_key, b"")
        if old_key is not None and old_key != new_key:
            self.store.delete(old_key)

    def _keep_indexes(
        self, old: JobStatus, new: JobStatus, old_key: str | None, *, listed: bool = True
    ) -> None:
        if listed:
            with contextlib.suppress(StoreError):
                self.list_entry(old, new, old_key)
        with contextlib.suppress(StoreError):
            self.reindex(old, new)
            if new.state.is_terminal():
                self.store.put(self.layout.terminal_marker(new.id), b"")

    def replace_corrupt(self, job_id: str, status: JobStatus) -> None:
        """Set an unreadable or missing ``state.json`` aside and write ``status`` in its place.

        The bad object is copied to ``state.json.corrupt-TIME`` first: nothing is lost. The
        job's old listing key stays until a reader settles it against this state (a key is
        never trusted past the revision ``state.json`` has, so none is carried into it).
        """
        key = self.layout.state(job_id)
        head = self.store.head(key)
        if head is not None:
            self.store.copy(key, self.layout.state_set_aside(job_id, utcnow()))
        status.updated_at = iso(utcnow())
        if head is None:
            self.store.put(key, _dump(status), if_none_match=True, content_type="application/json")
        else:
            self.store.put(key, _dump(status), if_match=head.etag, content_type="application/json")
        with contextlib.suppress(StoreError):
            self.list_entry(None, status)
        with contextlib.suppress(StoreError):
            self.unindex(status)
            if status.state.is_terminal():
                self.store.put(self.layout.terminal_marker(job_id), b"")

    def unindex(self, status: JobStatus) -> None:
        """Drop a stale index entry (the job is no longer claimable)."""
        for state in (JobState.PREEMPTED, JobState.PENDING):
            self.store.delete(self._claim_key(status, state))

    def claim_entries(self) -> list[ClaimEntry]:
        """The claim index as listed, best first: (job id, key) per entry (one listing per
        1,000 entries). A job may have more than one entry (a writer killed between two
        writes, or keys someone else wrote): ``claims.ClaimOrder`` decides what they are
        worth. Entries whose id breaks the grammar are skipped and reported."""
        out: list[ClaimEntry] = []
        for item in self.store.list(self.layout.claimable_index):
            parsed = self.layout.parse_claim_key(item.key)
            problem = "not an index key" if parsed is None else job_id_problem(parsed.job_id)
            if parsed is None or problem is not None:
                self._report(item.key, f"{item.key}: skipped claim-index entry: {problem}")
                continue
            out.append(ClaimEntry(parsed.job_id, item.key))
        return out

    def claimable_index(self) -> list[str]:
        """Job ids from the claim index, best first, each once."""
        return list(dict.fromkeys(e.job_id for e in self.claim_entries()))

    def claim_keys_of(self, status: JobStatus) -> frozenset[str]:
        """The claim-index keys a writer can ever have made for this job (pending and
        preempted; the creation time is immutable): any other key naming it is not ours."""
        return frozenset(self._claim_key(status, s) for s in (JobState.PREEMPTED, JobState.PENDING))

    # -- events and logs ---------------------------------------------------------------
    def event(
        self, job_id: str, event: str, *, at: datetime | None = None, token: str = "", **fields: Any
    ) -> dict[str, Any]:
        """Append one event. The same ``at`` and ``token`` give the same key, so a retried
        write (after a lost reply) never records the event twice."""
        now = at or utcnow()
        doc = {"at": iso(now), "event": event, "job_id": job_id, **fields}
        key = self.layout.event(job_id, now, token or uuid.uuid4().hex[:8])
        self.store.put(key, json.dumps(doc, default=str).encode(), content_type="application/json")
        return doc

    def events(self, job_id: str, seen: set[str] | None = None) -> list[dict[str, Any]]:
        """The job's events, oldest first. With ``seen``, only events whose keys are not in it
        (one listing, then one GET per new event) and their keys are added: for followers."""
        out = []
        for item in self.store.list(self.layout.events(job_id)):
            if seen is not None:
                if item.key in seen:
                    continue
                seen.add(item.key)
            try:
                doc = parse.json_object(self.store.get(item.key).body, item.key)
            except NotFound:
                continue
            except CorruptObject as e:  # one bad event is a note, never the end of a reader
                doc = {
                    "at": Layout.event_time(item.key),
                    "event": "event.unreadable",
                    "error": str(e),
                }
            if not isinstance(doc.get("event"), str) or not isinstance(doc.get("at", ""), str):
                doc = {
                    "at": Layout.event_time(item.key),
                    "event": "event.unreadable",
                    "error": f"{item.key}: no 'event' name or 'at' time",
                }
            out.append(doc)
        out.sort(key=lambda d: str(d.get("at", "")))
        return out

    def put_log(self, job_id: str, name: str, body: bytes) -> None:
        self.store.put(self.layout.log(job_id, name), body, content_type="text/plain")

    def logs(self, job_id: str) -> Iterable[str]:
        return [i.key for i in self.store.list(self.layout.logs(job_id))]


def read_record(cls: type[R], body: bytes, key: str, what: str) -> R:
    """``spec.json``/``state.json`` as a record; ``InvalidJob`` (one line naming the key and
    the first bad field) for anything else: not JSON, NaN, infinity, a wrong type."""
    try:
        return parse.model(cls, body, key, what)
    except CorruptObject as e:
        raise InvalidJob(str(e), key=key) from None


def parse_user_fields(text: str | bytes, source: str) -> dict[str, Any]:
    """Read a job JSON file (``--job FILE`` or inbox job.json): known spec fields only."""
    try:
        doc = parse.load_json(text, source)
    except CorruptObject as e:
        raise InvalidInput(str(e)) from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source}: must be a JSON object")
    unknown = sorted(set(doc) - USER_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(USER_FIELDS))
        raise InvalidInput(f"{source}: unknown field {unknown[0]!r} (allowed: {allowed})")
    try:
        JobSpec(
            id="x",
            name=str(doc.get("name", "x")),
            submitted_at="x",
            **{k: v for k, v in doc.items() if k != "name"},
        )
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{source}: {loc}: {validation_message(err)}") from None
    return doc


def job_document(jobs: JobStore, job_id: str) -> dict[str, Any]:
    """``pitstop job ID --json``: state, spec, attempts and events of one job."""
    status, _ = jobs.status(job_id)
    spec = jobs.spec(job_id)
    events = [
        {"at": e.get("at"), **{k: v for k, v in e.items() if k != "at"}}
        for e in jobs.events(job_id)
    ]
    return {
        "id": job_id,
        "name": spec.name,
        "state": status.state.value,
        "reason": status.reason,
        "instance_id": status.instance_id,
        "restarts": status.restarts,
        "infra_restarts": status.infra_restarts,
        "reboots": status.reboots,
        "training_s": round(status.training_s, 3),
        "cancel_requested": status.cancel_requested,
        "spec": json.loads(spec.model_dump_json()),
        "attempts": [json.loads(a.model_dump_json()) for a in status.attempts],
        "events": events,
    }
