"""What a claim costs (issue 29): a handful of requests that do not grow with the queue or
the fleet. Every request is counted through the ``ObjectStore`` port (``CountingStore``),
against moto's S3 server; nothing of pitstop is patched.

- a fresh pending job: the claim-index listing, its ``state.json``, its ``spec.json``, the
  lease created outright (``If-None-Match``) and the state written on the ETag just read;
  no listing key is written (the start's write follows at once and replaces the old one);
- the full scan reads no ``state.json`` of a job whose one listing key says what it is, and
  still finds a silent instance's job by its expired lease;
- a lost race costs the state read (the owner wrote it moments ago) or one failed lease
  write and the read that checks it, and widens the spread for the next round.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.leases import Leases
from pitstop.store.objects import S3Store
from pitstop.supervisor.claimer import MAX_LOST
from pitstop.supervisor.claims import CLAIM_WINDOW
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.simulated import SimulatedTrainer
from tests.helpers import wait_for
from tests.supervisor.test_crash_only import make_job, settings_for
from tests.supervisor.test_forged_claims import CountingStore


class Claims:
    """A supervisor whose claims are called one at a time (no trainer is started)."""

    def __init__(self, bucket: str, endpoint: str, tmp: Path, name: str = "i-one", **extra: Any):
        extra = {"lease_ttl_s": 300.0, "heartbeat_interval_s": 60.0, **extra}
        self.settings = settings_for(bucket, endpoint, tmp / name, instance_id=name, **extra)
        self.inner = S3Store.from_settings(self.settings)
        self.store = CountingStore(self.inner)
        self.layout = Layout(self.settings.prefix)
        self.jobs = JobStore(self.inner, self.layout)
        self.sup = Supervisor(
            self.settings,
            self.store,
            SimulatedTrainer(),
            name,
            spot=NoInterruptions(),
            commands=lambda argv: 0,
        )

    def claim(self) -> tuple[str | None, list[tuple[str, str]]]:
        self.store.calls.clear()
        cur = self.sup.claimer.try_claim()
        return (cur.job_id if cur else None), list(self.store.calls)

    def end(self, job_id: str) -> None:
        """The claimed job ends (as the benchmark's drain does): it leaves the queue."""

        def done(s: JobStatus) -> JobStatus:
            s.state, s.reason = JobState.SUCCEEDED, "test"
            return s

        self.jobs.update(job_id, done)

    def listing_keys(self, job_id: str) -> list[str]:
        return [i.key for i in self.inner.list(f"{self.layout.listing_index}{job_id}/")]


@pytest.fixture
def claims(bucket: str, s3_endpoint: str, tmp_path: Path) -> Iterator[Claims]:
    yield Claims(bucket, s3_endpoint, tmp_path)


def ops(calls: list[tuple[str, str]]) -> list[str]:
    return [op for op, _ in calls]


def test_a_claim_of_a_fresh_job_is_five_requests(claims: Claims) -> None:
    ids = [make_job(claims.jobs, f"cost-{i}") for i in range(12)]
    first, calls = claims.claim()  # the first round also runs the full scan (listings only)
    assert first in ids
    assert not [k for op, k in calls if op == "get" and k.endswith("state.json") and first not in k]  # fmt: skip
    claims.end(first)
    # later rounds: one listing, the state, the spec, the lease, the state written
    for _ in range(3):
        job_id, calls = claims.claim()
        assert job_id is not None and job_id != first
        assert len(calls) == 5, calls
        assert sorted(ops(calls)) == ["get", "get", "list", "put", "put"], calls
        puts = [k for op, k in calls if op == "put"]
        assert puts == [claims.layout.lease(job_id), claims.layout.state(job_id)]
        status = claims.jobs.status(job_id)[0]
        assert status.instance_id == "i-one" and status.lease_epoch == 1
        claims.end(job_id)


def test_the_write_after_a_claim_replaces_the_listing_key_it_left(claims: Claims) -> None:
    job_id = make_job(claims.jobs, "listed")
    (before,) = claims.listing_keys(job_id)
    claimed, _ = claims.claim()
    assert claimed == job_id
    assert claims.listing_keys(job_id) == [before]  # the claim wrote no listing key
    assert claims.jobs.status(job_id)[0].listing_key == before

    def start(s: JobStatus) -> JobStatus:
        s.state = JobState.STARTING
        return s

    new = claims.jobs.update(job_id, start)
    assert new is not None
    (after,) = claims.listing_keys(job_id)  # exactly one: the old one went, none orphaned
    assert after != before and "~starting~" in after and "~i-one~" in after
    assert claims.jobs.status(job_id)[0].listing_key == after


def test_the_full_scan_reads_no_state_it_can_list_and_finds_a_silent_owners_job(
    bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    first = Claims(
        bucket, s3_endpoint, tmp_path, "i-dead", lease_ttl_s=1.0, heartbeat_interval_s=0.3
    )
    make_job(first.jobs, "orphan")
    owned, _ = first.claim()  # then i-dead goes silent: its lease expires after 1 s
    assert owned is not None
    for i in range(6):
        make_job(first.jobs, f"pending-{i}")
    second = Claims(bucket, s3_endpoint, tmp_path, "i-live", lease_ttl_s=1.0, heartbeat_interval_s=0.3)  # fmt: skip

    def expired() -> bool:
        info = Leases(first.inner, first.layout, "x", 1.0).info(owned)
        return info is not None and info.age_s > 1.0

    wait_for(expired, 30, "i-dead's lease to expire", interval=0.2)
    second.sup.claimer.window = 1  # the order as listed (no spread)
    got, calls = second.claim()
    # the silent owner's job, the oldest, first (its lease expired)
    assert got == owned
    state_reads = [k for op, k in calls if op == "get" and k.endswith("/state.json")]
    assert state_reads == [second.layout.state(owned)]  # the pending jobs: listed, not read
    assert [k for op, k in calls if op == "get" and k.endswith("/lease.json")] == [
        second.layout.lease(owned)
    ]
    status = second.jobs.status(owned)[0]
    assert status.instance_id == "i-live" and status.lease_epoch == 2


def test_a_lost_race_costs_a_read_and_widens_the_spread(
    bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    a = Claims(bucket, s3_endpoint, tmp_path, "i-a")
    b = Claims(bucket, s3_endpoint, tmp_path, "i-b")
    ids = [make_job(a.jobs, f"race-{i}") for i in range(3)]
    a.sup.claimer.window = b.sup.claimer.window = 1  # both try the oldest job first
    b.claim()  # b's full scan and first claim, so its next round is a plain one
    taken, _ = a.claim()
    assert taken is not None and taken not in (b.jobs.status(taken)[0].instance_id or "")
    # b's listing still names the job a took: a moment-old state of another owner is a lost
    # race told by the state alone (no lease read, no write)
    b.sup.claimer.order = lambda: [taken]  # type: ignore[method-assign]
    got, calls = b.claim()
    assert got is None and calls == [("get", b.layout.state(taken))]
    assert 1 < b.sup.claimer.window <= CLAIM_WINDOW  # widened after the lost race
    assert set(ids) >= {taken}


def test_a_round_ends_after_max_lost_races(bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    a = Claims(bucket, s3_endpoint, tmp_path, "i-a")
    b = Claims(bucket, s3_endpoint, tmp_path, "i-b")
    taken = []
    for i in range(MAX_LOST + 3):
        make_job(a.jobs, f"crowd-{i}")
    a.claim()
    b.claim()
    while (got := a.claim()[0]) is not None:
        taken.append(got)
        a.end(got)
    # a crowd took every job b listed: b reads at most MAX_LOST states, then waits a tick
    b.sup.claimer.order = lambda: list(taken)  # type: ignore[method-assign]
    got, calls = b.claim()
    assert got is None
    assert len([c for c in calls if c[0] == "get"]) == MAX_LOST
