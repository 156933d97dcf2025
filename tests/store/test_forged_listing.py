"""Listing keys someone else wrote (issue 22, item 6): the attack stays in the suite.

Whoever can write ``index/`` can write ``index/jobs/ID/9999999999~succeeded~...`` for a
running job. Before the fix the highest revision always won: ``pitstop jobs``, the client
and the dashboard showed the job succeeded, and their repair deleted the true key. Now a
job with more than one key costs one read of its ``state.json``, which decides: the key
that matches it stays (never deleted), every other one goes. Against moto's S3 server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pitstop.cli.main import main
from pitstop.client import Client
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.errors import StoreError
from pitstop.intake import Submission, build_spec, defaults
from pitstop.queue import job_rows
from pitstop.serve.data import Dashboard
from pitstop.store import listing
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.listing import entry_fields
from pitstop.store.objects import Head, Listed, Object, Page, S3Store
from tests.e2e.harness import REWARD

TOP = 9_999_999_999  # the largest revision a key can carry


@pytest.fixture
def jobs(s3_endpoint: str, bucket: str, settings_env: dict[str, str]) -> JobStore:
    return JobStore(S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout())


def _make(jobs: JobStore, name: str) -> str:
    sub = Submission(name=name, files={"reward_function.py": REWARD + name.encode(), **defaults()})
    spec = build_spec(sub)
    assert jobs.create(spec, sub.files)
    return spec.id


def _running(jobs: JobStore, name: str) -> str:
    job_id = _make(jobs, name)

    def run(s: JobStatus) -> JobStatus:
        s.state, s.instance_id = JobState.RUNNING, "i-0true"
        return s

    jobs.update(job_id, run)
    return job_id


def _keys(jobs: JobStore, job_id: str) -> list[str]:
    return [i.key for i in jobs.store.list(jobs.layout.listing_prefix(job_id))]


def forge(jobs: JobStore, job_id: str, revision: int = TOP, **fields: object) -> str:
    """The attacker's key: the job as succeeded (or anything), at ``revision``."""
    status = jobs.status(job_id)[0]
    status.state, status.reason = JobState.SUCCEEDED, "forged"
    for k, v in fields.items():
        setattr(status, k, v)
    key = jobs.layout.listing_key(job_id, revision, entry_fields(status, "alpha"))
    jobs.store.put(key, b"")
    return key


def test_a_forged_top_revision_loses_to_state_json_and_the_true_key_survives(
    jobs: JobStore,
) -> None:
    a = _running(jobs, "alpha")
    (true_key,) = _keys(jobs, a)
    forged = forge(jobs, a)
    # a reader that may not write: the state shows, nothing is deleted
    assert [(r["state"], r["reason"]) for r in job_rows(jobs, repair=False)] == [("running", None)]
    assert sorted(_keys(jobs, a)) == sorted([true_key, forged])
    # a reader that repairs: the true key stays, the forged one goes
    got = listing.read(jobs)
    assert [(j.state, j.instance_id) for j in got.jobs] == [("running", "i-0true")]
    assert _keys(jobs, a) == [true_key] and got.repaired == 1
    # and the next write of state.json is listed as usual
    jobs.update(a, lambda s: s)
    assert [r["state"] for r in job_rows(jobs)] == ["running"] and len(_keys(jobs, a)) == 1


def test_the_client_the_dashboard_and_pitstop_jobs_show_the_true_state(
    jobs: JobStore, bucket: str, s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _running(jobs, "alpha")
    (true_key,) = _keys(jobs, a)

    forge(jobs, a)
    client = Client(bucket=bucket, endpoint_url=s3_endpoint)
    assert [(j["id"], j["state"]) for j in client.jobs()] == [(a, "running")]
    assert _keys(jobs, a) == [true_key]

    forge(jobs, a)
    dash = Dashboard(jobs, scan_interval_s=3600, min_refresh_s=0)
    assert [(j.id, j.state) for j in dash.index().jobs] == [(a, "running")]
    forge(jobs, a)  # between two scans too (a read of the index only)
    assert [r["state"] for r in dash.queue()["jobs"]] == ["running"]
    assert _keys(jobs, a) == [true_key]

    forge(jobs, a)
    assert main(["jobs", "--json"]) == 0
    assert [(r["id"], r["state"]) for r in json.loads(capsys.readouterr().out)] == [(a, "running")]
    assert _keys(jobs, a) == [true_key]


def test_a_forged_key_at_the_true_revision_loses_too(jobs: JobStore) -> None:
    a = _running(jobs, "alpha")
    (true_key,) = _keys(jobs, a)
    status = jobs.status(a)[0]
    # same revision, later updated_at: the tie-break a reader used to take
    forged = forge(jobs, a, status.revision, updated_at="2999-01-01T00:00:00.000Z")
    assert forged != true_key
    assert [r["state"] for r in job_rows(jobs)] == ["running"]
    assert _keys(jobs, a) == [true_key]


def test_a_forged_key_alone_on_a_training_row_is_replaced_when_verified(jobs: JobStore) -> None:
    a = _running(jobs, "alpha")
    (true_key,) = _keys(jobs, a)
    jobs.store.delete(true_key)  # the attacker can delete as well as write
    forge(jobs, a, state=JobState.RUNNING, instance_id="i-0forged")
    # the dashboard's full reads verify training rows against state.json
    got = listing.read(jobs, verify_active=True)
    assert [(j.state, j.instance_id) for j in got.jobs] == [("running", "i-0true")]
    assert _keys(jobs, a) == [true_key]


def test_reindex_never_carries_a_forged_revision_into_state_json(jobs: JobStore) -> None:
    a = _running(jobs, "alpha")
    revision = jobs.status(a)[0].revision
    (true_key,) = _keys(jobs, a)
    forge(jobs, a)
    assert listing.reindex(jobs) == (0, 1)
    assert jobs.status(a)[0].revision == revision and _keys(jobs, a) == [true_key]


def test_a_quarantine_does_not_take_its_revision_from_the_listing(jobs: JobStore) -> None:
    a = _running(jobs, "alpha")
    forge(jobs, a)
    jobs.store.put(jobs.layout.state(a), b"{torn")
    jobs.replace_corrupt(a, JobStatus(id=a, state=JobState.FAILED, reason="unreadable"))
    assert jobs.status(a)[0].revision < TOP
    assert [(r["state"], r["reason"]) for r in job_rows(jobs)] == [("failed", "unreadable")]
    assert len(_keys(jobs, a)) == 1


def test_keys_of_jobs_that_do_not_exist_are_not_shown_and_go_after_a_404(
    jobs: JobStore,
) -> None:
    a = _running(jobs, "alpha")
    for i in range(20):
        jobs.store.put(jobs.layout.listing_key(f"ghost-{i}", TOP, {"state": "running"}), b"")
    assert [r["id"] for r in job_rows(jobs, repair=False)] == [a]
    got = listing.read(jobs)
    assert [j.id for j in got.jobs] == [a] and got.repaired == 20
    jobs.store.requests.clear()  # type: ignore[attr-defined]
    assert [j.id for j in listing.read(jobs, scan=False).jobs] == [a]  # the index alone
    assert dict(jobs.store.requests) == {"list_objects_v2": 1}  # type: ignore[attr-defined]


def test_a_key_whose_revision_is_not_ascii_digits_is_skipped_not_a_crash(jobs: JobStore) -> None:
    a = _running(jobs, "alpha")
    # '²'.isdigit() is True but int('²') raises: this key used to end every listing
    jobs.store.put(f"{jobs.layout.listing_prefix(a)}²{'~' * 16}", b"")
    jobs.store.put(f"{jobs.layout.listing_prefix(a)}{'9' * 11}{'~' * 16}", b"")
    assert [r["state"] for r in job_rows(jobs, repair=False)] == ["running"]


class FailingReads:
    """The store, with every read of a ``state.json`` failing (a 503, not a 404)."""

    def __init__(self, inner: S3Store) -> None:
        self.inner = inner
        self.bucket = inner.bucket

    def head(self, key: str) -> Head | None:
        return self.inner.head(key)

    def get(self, key: str) -> Object:
        if key.endswith("/state.json"):
            raise StoreError(f"s3://{self.bucket}/{key}: get_object failed: 503 (injected)")
        return self.inner.get(key)

    def put(self, key: str, body: bytes, **kw: object) -> str:
        return self.inner.put(key, body, **kw)  # type: ignore[arg-type]

    def list(self, prefix: str, *, delimiter: str | None = None) -> Iterator[Listed]:
        return self.inner.list(prefix, delimiter=delimiter)

    def list_dirs(self, prefix: str) -> list[str]:
        return self.inner.list_dirs(prefix)

    def list_page(self, prefix: str) -> Page:
        return self.inner.list_page(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def copy(self, src: str, dst: str) -> None:
        self.inner.copy(src, dst)

    def server_time(self) -> object:
        return self.inner.server_time()


def test_an_unreadable_state_deletes_no_key(jobs: JobStore, tmp_path: Path) -> None:
    a = _running(jobs, "alpha")
    (true_key,) = _keys(jobs, a)
    forged = forge(jobs, a)
    for i in range(3):
        jobs.store.put(jobs.layout.listing_key(f"ghost-{i}", 1, {"state": "running"}), b"")
    blind = JobStore(FailingReads(jobs.store), jobs.layout)  # type: ignore[arg-type]
    listing.read(blind)  # a 503 is not a miss: nothing concluded, nothing deleted
    assert sorted(_keys(jobs, a)) == sorted([true_key, forged])
    assert len(list(jobs.store.list(jobs.layout.listing_index))) == 2 + 3
    assert [r["state"] for r in job_rows(jobs)] == ["running"]  # readable again: settled
    assert _keys(jobs, a) == [true_key]
