"""Job leases by conditional writes: exactly one instance trains a job.

``lease.json`` is created with ``If-None-Match: *`` and renewed with ``If-Match`` on its
ETag. A lease whose owner has been silent past ``ttl_s`` (its LastModified against the S3
server's ``Date``, never the instance clock), or that was released, is taken over with
``If-Match`` on the old ETag, so of several takers exactly one wins.

Every claim raises the lease's ``epoch`` (a fencing token): ``state.json`` records the epoch
of the lease its writer held, and a writer holding an older epoch may not write it again.

A 412 is a question, not a verdict. When a reply is lost, botocore retries the same
conditional PUT, which then fails against our own first write. So after a 412 the lease is
re-read: if it holds the nonce of the write we just tried, that write took effect.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pitstop.core.times import iso, utcnow
from pitstop.errors import CorruptObject, LeaseLost, NotFound, PreconditionFailed
from pitstop.store import parse
from pitstop.store.layout import Layout
from pitstop.store.objects import ObjectStore


class LostRace(PreconditionFailed):
    """A conditional write of the lease lost (not a lost reply of ours): the lease as read
    right after, None if there was none."""

    def __init__(self, message: str, lease: LeaseInfo | None) -> None:
        super().__init__(message)
        self.lease = lease


@dataclass(frozen=True)
class Lease:
    job_id: str
    owner: str
    etag: str
    epoch: int = 0


@dataclass(frozen=True)
class LeaseInfo:
    owner: str | None
    released: bool
    age_s: float
    etag: str
    epoch: int = 0
    nonce: str = ""


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

    def _body(self, job_id: str, epoch: int, nonce: str, released: bool = False) -> bytes:
        doc = {
            "job_id": job_id,
            "owner": None if released else self.instance_id,
            "released": released,
            "by": self.instance_id,
            "at": iso(utcnow()),
            "epoch": epoch,
            "nonce": nonce,  # every write differs (new ETag), and a lost reply can be recognised
        }
        return json.dumps(doc).encode()

    def info(self, job_id: str) -> LeaseInfo | None:
        try:
            obj = self.store.get(self.key_for(job_id))
        except NotFound:
            return None
        key = self.key_for(job_id)
        try:
            doc = parse.json_object(obj.body, key)
            owner = doc.get("owner")
            if owner is not None and not isinstance(owner, str):
                raise CorruptObject(f"{key}: 'owner' is not text", key=key)
            released = bool(doc.get("released"))
            epoch = parse.integer(doc, "epoch", key, default=0)
            nonce = str(doc.get("nonce") or "")[:64]
            if doc.get("job_id", job_id) != job_id:  # forged or copied: not a lease
                raise CorruptObject(f"{key}: a lease naming another job", key=key)
        except CorruptObject:
            # unreadable: treat as free; the takeover is still fenced by If-Match
            owner, released, epoch, nonce = None, True, 0, ""
        return LeaseInfo(owner, released, obj.head.age_s, obj.head.etag, epoch, nonce)

    def is_expired(self, info: LeaseInfo) -> bool:
        return info.released or info.owner is None or info.age_s > self.ttl_s

    def _put(
        self,
        job_id: str,
        epoch: int,
        *,
        released: bool = False,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """One conditional write; a 412 whose write did land (lost reply) counts as done."""
        nonce = uuid.uuid4().hex
        body = self._body(job_id, epoch, nonce, released)
        try:
            return self.store.put(
                self.key_for(job_id), body, if_match=if_match, if_none_match=if_none_match
            )
        except PreconditionFailed as e:
            now = self.info(job_id)
            if now is not None and now.nonce == nonce:
                return now.etag  # our write took effect; only its reply was lost
            raise LostRace(str(e), now) from None

    def claim(
        self, job_id: str, known: LeaseInfo | None = None, *, first: bool = False
    ) -> Lease | None:
        """Take the job's lease if it is free, released or expired; None if someone holds it.

        ``known``: the lease as just read (no second read). ``first``: the job's state says
        no lease was ever taken (epoch 0), so the lease is created without a read; a 412
        (one exists after all) falls back to reading it."""
        if first and known is None:
            try:
                return Lease(job_id, self.instance_id, self._put(job_id, 1, if_none_match=True), 1)
            except LostRace as e:
                if e.lease is None:  # gone again since: a read decides
                    return self.claim(job_id)
                known = e.lease  # as read to check the 412 (one failed write, one read)
        info = known if known is not None else self.info(job_id)
        try:
            if info is None:
                epoch = 1
                etag = self._put(job_id, epoch, if_none_match=True)
            elif (info.owner == self.instance_id and not info.released) or self.is_expired(info):
                epoch = info.epoch + 1
                etag = self._put(job_id, epoch, if_match=info.etag)
            else:
                return None
        except PreconditionFailed:
            return None
        return Lease(job_id=job_id, owner=self.instance_id, etag=etag, epoch=epoch)

    def held(self, job_id: str) -> Lease | None:
        """Our lease on the job if S3 still says we hold it (after a restart), else None."""
        info = self.info(job_id)
        if info is None or info.released or info.owner != self.instance_id:
            return None
        try:
            return self.renew(Lease(job_id, self.instance_id, info.etag, info.epoch))
        except LeaseLost:
            return None

    def renew(self, lease: Lease) -> Lease:
        try:
            etag = self._put(lease.job_id, lease.epoch, if_match=lease.etag)
        except PreconditionFailed:
            raise LeaseLost(f"job {lease.job_id}: lease taken over by another instance") from None
        return Lease(lease.job_id, lease.owner, etag, lease.epoch)

    def release(self, lease: Lease) -> None:
        with contextlib.suppress(PreconditionFailed):  # someone else holds it: nothing of ours
            self._put(lease.job_id, lease.epoch, released=True, if_match=lease.etag)
