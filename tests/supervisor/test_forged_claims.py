"""Claim-index keys that name no job (issue 22, item 6): the attack stays in the suite.

Whoever can write ``index/`` can write ``index/claimable/1-CREATED-ID`` keys for jobs that do
not exist. Before the fix such a key was never removed, and every idle tick read the
``state.json`` of each one (2,000 forged keys: 4,006 GETs and 69.5 s before a real job was
claimed). Now a key is set aside after one confirmed miss (its job is absent from a listing
of ``jobs/`` made after the index listing, or its ``state.json`` is a 404) and deleted once,
one request per key; a transient error confirms nothing. Requests are counted through an
``ObjectStore`` port passed in (nothing of pitstop is patched), against moto's S3 server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.errors import StoreError
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.leases import Leases
from pitstop.store.objects import Head, Listed, Object, Page, S3Store
from pitstop.supervisor.claims import ClaimOrder
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.simulated import SimulatedTrainer
from tests.helpers import wait_for
from tests.supervisor.test_crash_only import make_job, settings_for

FORGED_CREATED = "20000101T000000000Z"  # older than any real job: forged keys sort first


class CountingStore:
    """The real S3 store behind the port, recording each request as (op, key); GETs of keys
    matching ``fail_gets`` and listings of ``jobs/`` can fail on purpose (a 503)."""

    def __init__(self, inner: S3Store) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []
        self.fail_gets: re.Pattern[str] | None = None
        self.fail_list_dirs = False

    @property
    def bucket(self) -> str:
        return self.inner.bucket

    def head(self, key: str) -> Head | None:
        self.calls.append(("head", key))
        return self.inner.head(key)

    def get(self, key: str) -> Object:
        self.calls.append(("get", key))
        if self.fail_gets is not None and self.fail_gets.search(key):
            raise StoreError(f"s3://{self.bucket}/{key}: get_object failed: 503 (injected)")
        return self.inner.get(key)

    def put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str:
        self.calls.append(("put", key))
        return self.inner.put(
            key, body, if_match=if_match, if_none_match=if_none_match, content_type=content_type
        )

    def list(self, prefix: str, *, delimiter: str | None = None) -> Iterator[Listed]:
        self.calls.append(("list", prefix))
        return self.inner.list(prefix, delimiter=delimiter)

    def list_dirs(self, prefix: str) -> list[str]:
        self.calls.append(("list_dirs", prefix))
        if self.fail_list_dirs:
            raise StoreError(f"s3://{self.bucket}/{prefix}: list_objects_v2 failed: 503 (injected)")
        return self.inner.list_dirs(prefix)

    def list_page(self, prefix: str) -> Page:
        self.calls.append(("list_page", prefix))
        return self.inner.list_page(prefix)

    def delete(self, key: str) -> None:
        self.calls.append(("delete", key))
        self.inner.delete(key)

    def copy(self, src: str, dst: str) -> None:
        self.calls.append(("copy", dst))
        self.inner.copy(src, dst)

    def server_time(self) -> datetime:
        self.calls.append(("server_time", ""))
        return self.inner.server_time()

    def ops(self, op: str, pattern: str = "") -> list[str]:
        return [k for o, k in self.calls if o == op and re.search(pattern, k)]


def forge(store: S3Store, layout: Layout, n: int, tag: str = "forged") -> list[str]:
    """``n`` claim-index keys naming jobs that do not exist (what the attacker writes)."""
    keys = [layout.claim_key(1, FORGED_CREATED, f"{tag}-{i:04d}") for i in range(n)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put(k, b""), keys))
    return keys


def index_keys(store: S3Store, layout: Layout) -> list[str]:
    return [i.key for i in store.list(layout.claimable_index)]


class Rig:
    """One in-process supervisor whose every S3 request is counted."""

    def __init__(self, bucket: str, endpoint: str, tmp: Path, **extra: Any) -> None:
        # one full scan (the first tick) in these tests: the lease TTL is long
        extra = {"lease_ttl_s": 300.0, **extra}
        self.settings = settings_for(bucket, endpoint, tmp / "i-one", **extra)
        self.inner = S3Store.from_settings(self.settings)
        self.store = CountingStore(self.inner)
        self.layout = Layout(self.settings.prefix)
        self.jobs = JobStore(self.inner, self.layout)
        self.trainer = SimulatedTrainer()
        self.sup = Supervisor(
            self.settings,
            self.store,
            self.trainer,
            "i-one",
            spot=NoInterruptions(),
            commands=lambda argv: 0,
        )

    def state(self, job_id: str) -> JobStatus:
        return self.jobs.status(job_id)[0]

    def tick(self) -> list[tuple[str, str]]:
        """One tick; the requests it made."""
        self.store.calls.clear()
        self.sup.tick()
        return list(self.store.calls)

    def tick_until(self, predicate: Any, timeout: float, what: str) -> None:
        def once() -> bool:
            self.sup.tick()
            return bool(predicate())

        wait_for(once, timeout, what, interval=0.05)

    def close(self) -> None:
        self.trainer.stop(2)


@pytest.fixture
def rig(bucket: str, s3_endpoint: str, tmp_path: Path) -> Iterator[Rig]:
    made = Rig(bucket, s3_endpoint, tmp_path)
    yield made
    made.close()


FORGED_STATE = r"/jobs/forged-\d+/"


FORGED_MANY = 1000  # benchmarks/forged_claims.py measures 2,000


@pytest.mark.slow
def test_many_forged_claim_keys_cost_no_get_and_one_delete_each(rig: Rig) -> None:
    forged = forge(rig.inner, rig.layout, FORGED_MANY)
    real = make_job(rig.jobs, "real", checkpoints=1, checkpoint_interval_s=0.1)
    assert index_keys(rig.inner, rig.layout)[:FORGED_MANY] == sorted(forged)  # they come first
    rig.inner.requests.clear()
    calls = rig.tick()  # a fresh supervisor: its first tick is a full scan
    assert rig.sup.current is not None and rig.sup.current.job_id == real
    assert [k for o, k in calls if o in ("get", "head") and re.search(FORGED_STATE, k)] == []
    # the claim did not wait for the clean-up: not one delete before it
    assert [k for o, k in calls if o == "delete" and "Z-forged-" in k] == []
    assert sum(rig.inner.requests.values()) < 100, dict(rig.inner.requests)  # was 2 GETs a key
    # the job runs to its end; idle again, the forged keys are deleted, one request each
    rig.tick_until(lambda: rig.state(real).state is JobState.SUCCEEDED, 30, "the job to succeed")
    rig.store.calls.clear()
    rig.tick_until(
        lambda: not set(forged) & set(index_keys(rig.inner, rig.layout)),
        60,
        "the forged keys to be deleted",
    )
    deleted = rig.store.ops("delete", "Z-forged-")
    assert sorted(deleted) == sorted(forged)  # each once
    assert rig.store.ops("get", FORGED_STATE) == [] and rig.store.ops("head", FORGED_STATE) == []
    # a later idle tick: one listing of the index, nothing read or deleted
    assert rig.tick() == [("list", rig.layout.claimable_index)]


def test_forged_keys_written_after_the_full_scan_are_confirmed_by_one_listing(rig: Rig) -> None:
    assert rig.tick() is not None and rig.sup.current is None  # the full scan: an empty queue
    forged = forge(rig.inner, rig.layout, 300)
    real = make_job(rig.jobs, "real", checkpoints=1000)
    calls = rig.tick()
    assert rig.sup.current is not None and rig.sup.current.job_id == real
    # many ids the last listing of jobs/ did not know: one more listing answers for all
    assert [k for o, k in calls if o == "list_dirs"] == [rig.layout.jobs]
    assert [k for o, k in calls if o == "get" and re.search(FORGED_STATE, k)] == []
    assert rig.sup.claims.doomed == len(forged)


def test_a_few_forged_keys_are_read_once_and_removed_after_the_404(rig: Rig) -> None:
    rig.tick()  # the full scan
    forged = forge(rig.inner, rig.layout, 3)
    calls = rig.tick()  # a few unknown ids: each state.json read (a new job looks the same)
    assert sorted(k for o, k in calls if o == "get" and re.search(FORGED_STATE, k)) == sorted(
        rig.layout.state(f"forged-{i:04d}") for i in range(3)
    )
    # a 404 is a confirmed miss: deleted in the same idle round, one request each
    assert sorted(k for o, k in calls if o == "delete") == sorted(forged)
    assert index_keys(rig.inner, rig.layout) == []
    assert rig.tick() == [("list", rig.layout.claimable_index)]


def test_a_transient_error_is_not_a_miss(rig: Rig) -> None:
    rig.tick()  # the full scan
    forged = forge(rig.inner, rig.layout, 3)
    rig.store.fail_gets = re.compile(FORGED_STATE)
    for _ in range(3):  # a 503 on every read: nothing is concluded, nothing deleted
        calls = rig.tick()
        assert len([k for o, k in calls if o == "get" and re.search(FORGED_STATE, k)]) == 3
        assert [k for o, k in calls if o == "delete"] == []
    assert index_keys(rig.inner, rig.layout) == sorted(forged)
    rig.store.fail_gets = None
    rig.tick()  # now a 404: confirmed
    assert index_keys(rig.inner, rig.layout) == []


def test_a_failed_listing_of_jobs_confirms_nothing(
    bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    rig = Rig(bucket, s3_endpoint, tmp_path)
    try:
        forged = forge(rig.inner, rig.layout, 20)
        rig.store.fail_list_dirs = True
        calls = rig.tick()  # the full scan's listing of jobs/ fails: a bad tick
        assert ("list_dirs", rig.layout.jobs) in calls
        assert [k for o, k in calls if o == "delete"] == []
        assert rig.sup.claims.doomed == 0 and index_keys(rig.inner, rig.layout) == sorted(forged)
        rig.store.fail_list_dirs = False
        calls = rig.tick()  # the full scan again, now answered: no GET, one delete each
        assert [k for o, k in calls if o == "get" and re.search(FORGED_STATE, k)] == []
        assert sorted(k for o, k in calls if o == "delete") == sorted(forged)
    finally:
        rig.close()


def test_keys_naming_a_real_job_with_another_creation_time_are_dropped(
    bucket: str, s3_endpoint: str
) -> None:
    store = S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)
    jobs = JobStore(store, Layout("pitstop"))
    real = make_job(jobs, "real")
    true_key = index_keys(store, jobs.layout)
    others = [
        jobs.layout.claim_key(r, f"1999{i:04d}T000000000Z", real) for i in range(50) for r in (0, 1)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put(k, b""), others))
    order = ClaimOrder(jobs, Leases(store, jobs.layout, "i-x", 300.0), "i-x", 300.0)
    assert order.candidates(0.0) == [real]  # tried once, not once per key
    assert order.doomed == 100 and order.tidy() == 100
    assert index_keys(store, jobs.layout) == true_key  # the job's own key stays


def test_a_forged_terminal_marker_does_not_take_a_pending_job_out_of_the_queue(
    bucket: str, s3_endpoint: str
) -> None:
    store = S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)
    jobs = JobStore(store, Layout("pitstop"))
    real = make_job(jobs, "real")
    key = index_keys(store, jobs.layout)
    store.put(jobs.layout.terminal_marker(real), b"")  # "it ended", says index/terminal/
    order = ClaimOrder(jobs, Leases(store, jobs.layout, "i-x", 300.0), "i-x", 300.0)
    assert order.candidates(0.0) == [real]  # state.json says pending: it stays claimable
    assert order.doomed == 0 and index_keys(store, jobs.layout) == key
