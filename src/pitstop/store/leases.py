"""Job leases by conditional writes: exactly one instance trains a job.

``lease.json`` is created with ``If-None-Match: *`` and renewed with ``If-Match`` on its
ETag. A lease whose owner has been silent past ``ttl_s`` (its LastModified against the S3
server's ``Date``, never the instance clock), or that was released, is taken over with
``If-Match`` on the old ETag, so of several takers exactly one wins. A renewal that loses
means another instance owns the job now: the caller must stop training (``LeaseLost``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from pitstop.errors import LeaseLost, NotFound, PreconditionFailed
from pitstop.store.jobs import iso, utcnow
from pitstop.store.layout import Layout
from pitstop.store.objects import ObjectStore


@dataclass(frozen=True)
class Lease:
    job_id: str
    owner: str
    etag: str


@dataclass(frozen=True)
class LeaseInfo:
    owner: str | None
    released: bool
    age_s: float
    etag: str


class Leases:
    def __init__(
        self,
        store: ObjectStore,
        layout: Layout,
        instance_id: str,
        ttl_s: float,
        key_for: Callable[[str], str] | None = None,
    ) -> None:
        """``key_for`` maps a name to its lease object (default: the job's ``lease.json``)."""
        self.store = store
        self.layout = layout
        self.key_for = key_for or layout.lease
        self.instance_id = instance_id
        self.ttl_s = ttl_s
        self._renewals = 0

    def _body(self, job_id: str, released: bool = False) -> bytes:
        self._renewals += 1
        doc = {
            "job_id": job_id,
            "owner": None if released else self.instance_id,
            "released": released,
            "by": self.instance_id,
            "at": iso(utcnow()),
            "seq": self._renewals,  # every write differs, so every write has a new ETag
        }
        return json.dumps(doc).encode()

    def info(self, job_id: str) -> LeaseInfo | None:
        try:
            obj = self.store.get(self.key_for(job_id))
        except NotFound:
            return None
        try:
            doc = json.loads(obj.body)
            owner, released = doc.get("owner"), bool(doc.get("released"))
            if doc.get("job_id", job_id) != job_id:
                raise ValueError("a lease naming another job")  # forged or copied: not a lease
        except (json.JSONDecodeError, AttributeError, ValueError):
            owner, released = None, True  # unreadable: treat as free, the takeover is still fenced
        return LeaseInfo(owner=owner, released=released, age_s=obj.head.age_s, etag=obj.head.etag)

    def is_expired(self, info: LeaseInfo) -> bool:
        return info.released or info.owner is None or info.age_s > self.ttl_s

    def claim(self, job_id: str) -> Lease | None:
        """Take the job's lease if it is free, released or expired; None if someone holds it."""
        key = self.key_for(job_id)
        info = self.info(job_id)
        try:
            if info is None:
                etag = self.store.put(key, self._body(job_id), if_none_match=True)
            elif (info.owner == self.instance_id and not info.released) or self.is_expired(info):
                etag = self.store.put(key, self._body(job_id), if_match=info.etag)
            else:
                return None
        except PreconditionFailed:
            return None
        return Lease(job_id=job_id, owner=self.instance_id, etag=etag)

    def held(self, job_id: str) -> Lease | None:
        """Our lease on the job if S3 still says we hold it (after a restart), else None."""
        info = self.info(job_id)
        if info is None or info.released or info.owner != self.instance_id:
            return None
        return self.renew(Lease(job_id, self.instance_id, info.etag))

    def renew(self, lease: Lease) -> Lease:
        try:
            etag = self.store.put(
                self.key_for(lease.job_id), self._body(lease.job_id), if_match=lease.etag
            )
        except PreconditionFailed:
            raise LeaseLost(f"job {lease.job_id}: lease taken over by another instance") from None
        return Lease(lease.job_id, lease.owner, etag)

    def release(self, lease: Lease) -> None:
        with contextlib.suppress(PreconditionFailed):  # someone else holds it: nothing of ours
            self.store.put(
                self.key_for(lease.job_id),
                self._body(lease.job_id, released=True),
                if_match=lease.etag,
            )
