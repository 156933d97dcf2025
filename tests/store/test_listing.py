"""The job listing (``index/jobs/``): one key per job carries the table, against moto's S3.

Chaos cases: a writer killed between the new key and the delete of the old one, a lost
reply that makes ``update`` write twice, a writer killed between ``state.json`` and its key,
jobs from before the listing existed, an older writer that kept no revision, hostile names.
"""

from __future__ import annotations

import json
import re

import pytest

from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.intake import Submission, build_spec, defaults
from pitstop.queue import job_rows
from pitstop.store import listing
from pitstop.store.jobs import JobStore
from pitstop.store.layout import MAX_KEY_BYTES, Layout, decode_field, encode_field
from pitstop.store.objects import S3Store
from tests.e2e.harness import REWARD
from tests.supervisor.stores import FaultyStore


def _store(s3_endpoint: str, bucket: str) -> S3Store:
    return S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)


def _make(jobs: JobStore, name: str, n: int = 0) -> str:
    sub = Submission(
        name=name, files={"reward_function.py": REWARD + f"#{n}".encode(), **defaults()}
    )
    spec = build_spec(sub)
    assert jobs.create(spec, sub.files)
    return spec.id


def _set(state: JobState, **fields: object):  # type: ignore[no-untyped-def]
    def change(s: JobStatus) -> JobStatus:
        s.state = state
        for k, v in fields.items():
            setattr(s, k, v)
        return s

    return change


def _keys(store: S3Store, jobs: JobStore, job_id: str) -> list[str]:
    return [i.key for i in store.list(jobs.layout.listing_prefix(job_id))]


@pytest.fixture
def jobs(s3_endpoint: str, bucket: str) -> JobStore:
    return JobStore(_store(s3_endpoint, bucket), Layout("pitstop"))


def test_each_update_leaves_one_key_carrying_the_row(jobs: JobStore) -> None:
    a = _make(jobs, "alpha", 1)
    b = _make(jobs, "beta", 2)
    jobs.update(a, _set(JobState.RUNNING, instance_id="i-0abc"))
    jobs.update(b, _set(JobState.FAILED, reason="restart budget spent: 3 of 3"))
    for j in (a, b):
        assert len(_keys(jobs.store, jobs, j)) == 1  # type: ignore[arg-type]
    jobs.store.requests.clear()  # type: ignore[attr-defined]
    rows = {r["id"]: r for r in job_rows(jobs)}
    # two listings (index/jobs/ and jobs/), no state.json read
    assert dict(jobs.store.requests) == {"list_objects_v2": 2}  # type: ignore[attr-defined]
    assert rows[a]["state"] == "running" and rows[a]["instance_id"] == "i-0abc"
    assert rows[a]["name"] == "alpha"
    assert rows[b]["state"] == "failed" and rows[b]["reason"] == "restart budget spent: 3 of 3"
    assert rows[a]["created_at"] is not None and rows[a]["created_at"].endswith("Z")


def test_kill_between_new_key_and_delete_shows_newest_and_repairs(
    s3_endpoint: str, bucket: str
) -> None:
    inner = _store(s3_endpoint, bucket)
    faulty = FaultyStore(inner)
    jobs = JobStore(faulty, Layout("pitstop"))  # type: ignore[arg-type]
    a = _make(jobs, "alpha")
    old_key = _keys(inner, jobs, a)[0]
    # the delete of the old key never happens (the writer "died" after the new PUT)
    faulty.broken = False
    real_delete = inner.delete
    inner.delete = lambda key: None  # type: ignore[method-assign]
    jobs.update(a, _set(JobState.RUNNING))
    inner.delete = real_delete  # type: ignore[method-assign]
    assert len(_keys(inner, jobs, a)) == 2 and old_key in _keys(inner, jobs, a)
    got = listing.read(JobStore(inner, Layout("pitstop")))
    assert [(j.id, j.state) for j in got.jobs] == [(a, "running")]
    assert got.repaired == 1
    assert len(_keys(inner, jobs, a)) == 1 and old_key not in _keys(inner, jobs, a)


def test_lost_reply_writes_twice_and_the_newest_revision_wins(jobs: JobStore) -> None:
    a = _make(jobs, "alpha")
    jobs.update(a, _set(JobState.RUNNING))
    before = _keys(jobs.store, jobs, a)  # type: ignore[arg-type]
    # a lost reply: the change is applied again on top of its own write, whose key then
    # is not the one the second write deletes
    status, _ = jobs.status(a)
    jobs.update(a, _set(JobState.RUNNING, instance_id="i-1"))
    jobs.store.put(before[0], b"")  # the first write's key, re-created late
    rows = job_rows(jobs)
    assert [(r["id"], r["state"], r["instance_id"]) for r in rows] == [(a, "running", "i-1")]
    assert jobs.status(a)[0].revision == status.revision + 1
    assert len(_keys(jobs.store, jobs, a)) == 1  # type: ignore[arg-type]


def test_kill_between_state_and_key_heals_at_next_write_or_reindex(
    s3_endpoint: str, bucket: str
) -> None:
    inner = _store(s3_endpoint, bucket)
    faulty = FaultyStore(inner)
    jobs = JobStore(faulty, Layout("pitstop"))  # type: ignore[arg-type]
    a = _make(jobs, "alpha")
    faulty.fail_next_puts(r"/index/jobs/", 1)  # state.json lands, its key does not
    jobs.update(a, _set(JobState.SUCCEEDED))
    assert [r["state"] for r in job_rows(jobs)] == ["pending"]  # behind, as documented
    assert listing.reindex(jobs) == (1, 1)
    assert [r["state"] for r in job_rows(jobs)] == ["succeeded"]
    assert len(_keys(inner, jobs, a)) == 1


def test_jobs_from_before_the_listing_are_backfilled_once(jobs: JobStore) -> None:
    a = _make(jobs, "alpha")
    # as an older version left it: no key, no name or revision in state.json
    for k in _keys(jobs.store, jobs, a):  # type: ignore[arg-type]
        jobs.store.delete(k)
    key = jobs.layout.state(a)
    doc = json.loads(jobs.store.get(key).body)
    del doc["name"], doc["revision"]
    jobs.store.put(key, json.dumps(doc).encode())
    first = listing.read(jobs)
    assert first.backfilled == [a] and first.jobs[0].name == "alpha"
    jobs.store.requests.clear()  # type: ignore[attr-defined]
    second = listing.read(jobs)
    assert second.backfilled == [] and [j.id for j in second.jobs] == [a]
    assert dict(jobs.store.requests) == {"list_objects_v2": 2}  # type: ignore[attr-defined]


def test_an_older_writer_without_revision_is_repaired_by_reindex(jobs: JobStore) -> None:
    a = _make(jobs, "alpha")
    for _ in range(3):
        jobs.update(a, _set(JobState.RUNNING))
    # an older supervisor rewrites state.json: revision gone, key untouched
    key = jobs.layout.state(a)
    doc = json.loads(jobs.store.get(key).body)
    doc.pop("revision")
    doc["state"] = "succeeded"
    jobs.store.put(key, json.dumps(doc).encode())
    assert [r["state"] for r in job_rows(jobs)] == ["running"]  # stale until repaired
    listing.reindex(jobs)
    assert [r["state"] for r in job_rows(jobs)] == ["succeeded"]
    # the key is the state's, at the state's revision: no listing key is carried into
    # state.json (a key past it may be anyone's; issue 22)
    assert jobs.status(a)[0].revision == 0
    (only,) = _keys(jobs.store, jobs, a)  # type: ignore[arg-type]
    assert only.startswith(jobs.layout.listing_prefix(a) + "0000000000~")
    jobs.update(a, _set(JobState.SUCCEEDED, reason="again"))
    assert [r["reason"] for r in job_rows(jobs)] == ["again"]
    assert len(_keys(jobs.store, jobs, a)) == 1  # type: ignore[arg-type]


HOSTILE = [
    "a/b/../c",
    "~~~",
    "..",
    "tab\tnew\nline",
    "名前 🏎️ %2F",
    "\ud800 lone surrogate",
    "x" * 5000,
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_stay_in_one_short_key(name: str) -> None:
    lay = Layout("pitstop")
    from pitstop.store.listing import entry_fields

    status = JobStatus(id="j-1", state=JobState.REJECTED, reason=name * 2, name=name)
    key = lay.listing_key("j-1", 7, entry_fields(status, name))
    assert len(key.encode()) <= MAX_KEY_BYTES
    assert re.fullmatch(r"[A-Za-z0-9%_~/\-]+", key), key
    assert "//" not in key and "/../" not in key
    parsed = lay.parse_listing_key(key)
    assert parsed is not None and parsed.job_id == "j-1" and parsed.revision == 7
    shown = parsed.fields["name"] or ""
    if "\ud800" in name:
        assert shown.startswith("? lone")  # replaced, never a crash
    elif len(name) > 300:
        assert "n" in (parsed.fields["truncated"] or "") and name.startswith(shown)
    else:
        assert shown == name and parsed.fields["reason"] == name * 2


def test_encode_field_round_trips() -> None:
    for v in ["plain", "a~b", "a.b", "100%", " ", "é"]:
        assert decode_field(encode_field(v)) == v
    assert encode_field(None) == "" and decode_field("") is None


def test_keys_that_are_not_listing_keys_are_skipped(jobs: JobStore) -> None:
    a = _make(jobs, "alpha")
    jobs.store.put("pitstop/index/jobs/BAD ID/0000000001~x", b"")
    jobs.store.put(f"pitstop/index/jobs/{a}/garbage", b"")
    assert [r["id"] for r in job_rows(jobs)] == [a]


def test_a_quarantined_job_is_listed_failed_past_its_old_key(jobs: JobStore) -> None:
    a = _make(jobs, "alpha")
    for _ in range(2):
        jobs.update(a, _set(JobState.RUNNING))
    jobs.store.put(jobs.layout.state(a), b"{not json")
    failed = JobStatus(id=a, state=JobState.FAILED, reason="state.json unreadable")
    jobs.replace_corrupt(a, failed)
    rows = job_rows(jobs)
    assert [(r["state"], r["reason"], r["name"]) for r in rows] == [
        ("failed", "state.json unreadable", "alpha")
    ]
    assert len(_keys(jobs.store, jobs, a)) == 1  # type: ignore[arg-type]


def test_a_training_row_behind_its_state_is_verified_and_repaired(
    s3_endpoint: str, bucket: str
) -> None:
    inner = _store(s3_endpoint, bucket)
    faulty = FaultyStore(inner)
    jobs = JobStore(faulty, Layout("pitstop"))  # type: ignore[arg-type]
    a = _make(jobs, "alpha")
    b = _make(jobs, "beta", 1)
    jobs.update(a, _set(JobState.RUNNING, instance_id="i-1"))
    faulty.fail_next_puts(r"/index/jobs/", 1)  # the instance died after state.json
    jobs.update(a, _set(JobState.SUCCEEDED))
    assert {r["id"]: r["state"] for r in job_rows(jobs)} == {a: "running", b: "pending"}
    inner.requests.clear()
    got = listing.read(jobs, verify_active=True)
    assert {j.id: j.state for j in got.jobs} == {a: "succeeded", b: "pending"}
    assert inner.requests["get_object"] == 1  # only the job listed as training is read
    assert {r["id"]: r["state"] for r in job_rows(jobs)} == {a: "succeeded", b: "pending"}
    assert len(_keys(inner, jobs, a)) == 1
