"""The inbox: trainers drop reward files in S3; each drop becomes a job exactly once.

``inbox/NAME.py`` or ``inbox/NAME/`` (reward_function.py, optional model_metadata.json,
hyperparameters.json, job.json). The job id comes from the name and a hash of the content,
so every instance that sees a drop computes the same id; a short claim (a lease object
under ``inbox/processed/.claims/``) keeps several instances from validating the same drop,
and the job spec's ``If-None-Match: *`` makes creation exactly-once even if claims race.
A drop that fails validation becomes a ``rejected`` job with a one-line reason. Either way
the drop is moved to ``inbox/processed/JOB_ID/``: never lost.

A deadline (``deadline``, ``deadline_hours``) in a drop's ``job.json`` can make the fleet's
watchdog buy on-demand time, and anyone who may write the inbox writes it: such a drop is
rejected (one line naming the fields) unless ``inbox_deadlines`` is on
(docs/security.md, "Money: on-demand cap"). ``pitstop submit`` is not limited by this.

A drop is only taken once it has *settled*: no file of it changed for ``settle_s`` seconds
(by the S3 server's clock), so a folder uploaded file by file is read whole. A folder drop
that holds a ``.ready`` file is taken at once (upload it last).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from pitstop.core import events as ev
from pitstop.core.states import JobState
from pitstop.errors import InvalidInput, NotFound, StoreError
from pitstop.intake import (
    MAX_FILE_BYTES,
    Submission,
    build_spec,
    check_pretrained,
    check_run_script,
    fill_defaults,
    validate,
)
from pitstop.store.jobs import JobStore, parse_user_fields, slug
from pitstop.store.leases import Leases
from pitstop.store.objects import Listed

if TYPE_CHECKING:
    from pitstop.reward_funcs.sandbox import Limits

log = structlog.get_logger("pitstop.inbox")

KNOWN = ("reward_function.py", "model_metadata.json", "hyperparameters.json", "job.json")
DEADLINE_FIELDS = ("deadline", "deadline_hours")  # they can buy on-demand time


READY = ".ready"  # a folder drop's "complete" marker


@dataclass
class Drop:
    name: str
    objects: dict[str, Listed] = field(default_factory=dict)  # file name -> object
    ready: bool = False  # its .ready marker is there
    marker: Listed | None = None

    def settled(self, server_now: datetime, settle_s: float) -> bool:
        if self.ready:
            return True
        newest = max(o.last_modified for o in self.objects.values())
        return (server_now - newest).total_seconds() >= settle_s

    def job_id(self) -> str:
        h = hashlib.sha256()
        for fname in sorted(self.objects):
            o = self.objects[fname]
            h.update(f"{fname}\0{o.size}\0{o.etag}\0".encode())  # ETag: the content's hash
        return f"{slug(self.name)}-{h.hexdigest()[:10]}"


def list_drops(jobs: JobStore) -> list[Drop]:
    lay = jobs.layout
    drops: dict[str, Drop] = {}
    for item in jobs.store.list(lay.inbox):
        entry = lay.inbox_entry(item.key)
        if entry is None:
            continue
        kind, name, fname = entry
        if kind == "file":  # inbox/NAME.py (or something that is not a reward file)
            drop = drops.setdefault(f"file:{name}", Drop(name.removesuffix(".py")))
            drop.objects["reward_function.py" if name.endswith(".py") else name] = item
        elif fname == READY:
            drop = drops.setdefault(f"dir:{name}", Drop(name))
            drop.ready, drop.marker = True, item
        else:
            drops.setdefault(f"dir:{name}", Drop(name)).objects[fname] = item
    found = [d for d in drops.values() if d.objects]
    return sorted(found, key=lambda d: min(o.last_modified for o in d.objects.values()))


class Inbox:
    def __init__(
        self,
        jobs: JobStore,
        instance_id: str,
        claim_ttl_s: float,
        *,
        dynamic: bool = True,
        settle_s: float = 10.0,
        sandbox: Limits | None = None,
        deadlines: bool = False,
    ) -> None:
        """``sandbox``: limits and confinement of the reward check (default ``Limits()``:
        user ``nobody`` when running as root). ``deadlines``: accept deadline fields in a
        drop's job.json (the ``inbox_deadlines`` setting; off, such a drop is rejected)."""
        self.deadlines = deadlines
        self.settle_s = settle_s
        self.jobs = jobs
        self.sandbox = sandbox
        self.claims = Leases(
            jobs.store, jobs.layout, instance_id, claim_ttl_s, key_for=jobs.layout.inbox_claim
        )
        self.dynamic = dynamic

    def scan(self) -> list[str]:
        """Process every drop in the inbox; return the job ids this call created or rejected."""
        done: list[str] = []
        drops = list_drops(self.jobs)
        server_now = self.jobs.store.server_time() if drops else None
        for drop in drops:
            assert server_now is not None
            if not drop.settled(server_now, self.settle_s):
                continue  # still being uploaded: the next scan looks again
            job_id = drop.job_id()
            try:
                if self.jobs.exists(job_id):
                    self._move(drop, job_id)  # another instance made the job; tidy up
                    continue
                claim = self.claims.claim(job_id)
                if claim is None:
                    continue  # someone else is validating this drop right now
                try:
                    if self._process(drop, job_id):
                        done.append(job_id)
                    self._move(drop, job_id)
                finally:
                    self.claims.release(claim)
            except StoreError as e:
                log.warning(ev.TICK_FAILED, what=f"inbox drop {drop.name}", error=str(e))
        return done

    def _label(self, drop: Drop, fname: str) -> str:
        return f"s3://{self.jobs.store.bucket}/{drop.objects[fname].key}"

    def _read(self, drop: Drop) -> tuple[Submission, str | None]:
        """The drop as a submission, and a rejection reason if it cannot even be read."""
        labels = {f: self._label(drop, f) for f in drop.objects}
        sub = Submission(name=drop.name, files={}, source=f"inbox:{drop.name}", labels=labels)
        unknown = sorted(set(drop.objects) - set(KNOWN))
        if unknown:
            return (
                sub,
                f"{labels[unknown[0]]}: not a reward function or a known file ({', '.join(KNOWN)})",
            )
        if "reward_function.py" not in drop.objects:
            return (
                sub,
                f"s3://{self.jobs.store.bucket}/{self.jobs.layout.inbox_drop(drop.name)}: no reward_function.py",
            )
        for fname, obj in drop.objects.items():
            if obj.size > MAX_FILE_BYTES:
                return (
                    sub,
                    f"{labels[fname]}: {obj.size / 1e6:.1f} MB is too large (limit {MAX_FILE_BYTES / 1e6:g} MB)",
                )
        for fname, obj in drop.objects.items():
            body = self.jobs.store.get(obj.key).body
            if fname == "job.json":
                try:
                    sub.fields = parse_user_fields(body, labels[fname])
                except InvalidInput as e:
                    return sub, str(e)
                named = [f for f in DEADLINE_FIELDS if sub.fields.get(f) is not None]
                if named and not self.deadlines:
                    # the rejected job carries no deadline; the drop's files are kept as sent
                    sub.fields = {k: v for k, v in sub.fields.items() if k not in named}
                    return sub, (
                        f"{labels[fname]}: {' and '.join(named)} not accepted from the inbox "
                        "(inbox_deadlines is off: a deadline can launch paid on-demand "
                        "instances); ask an engineer to 'pitstop submit' it with the deadline"
                    )
            else:
                sub.files[fname] = body
        return sub, None

    def _process(self, drop: Drop, job_id: str) -> bool:
        sub, reason = self._read(drop)
        if reason is None:
            try:
                check_run_script(sub, self.jobs.layout, self.jobs.store.bucket)
                validate(sub, dynamic=self.dynamic, sandbox=self.sandbox)
                fill_defaults(self.jobs, sub)
                check_pretrained(self.jobs, sub)
            except InvalidInput as e:
                reason = str(e)
        spec = build_spec(sub, job_id=job_id)
        if reason is not None:
            created = self.jobs.create(spec, {}, state=JobState.REJECTED, reason=reason)
            log.info(ev.JOB_REJECTED, job_id=job_id, reason=reason)
            return created
        created = self.jobs.create(spec, sub.files)
        if created:
            self.jobs.event(
                job_id, ev.INBOX_ACCEPTED, state=JobState.PENDING.value, files=sorted(drop.objects)
            )
            log.info(ev.INBOX_ACCEPTED, job_id=job_id, name=drop.name)
        return created

    def _move(self, drop: Drop, job_id: str) -> None:
        """Move the drop under inbox/processed/JOB_ID/ (copy first: it is never lost)."""
        lay = self.jobs.layout
        marker = [drop.marker] if drop.marker is not None else []
        for obj in [*drop.objects.values(), *marker]:
            target = lay.processed(job_id, lay.last_part(obj.key))
            try:
                self.jobs.store.copy(obj.key, target)
                self.jobs.store.delete(obj.key)
            except NotFound:
                continue  # another instance moved it first
