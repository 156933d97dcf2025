"""Job ids read from S3 are checked against one grammar; bad jobs are skipped and reported.

A job directory is written by whoever may write ``jobs/``; its name and its spec's id end up
in S3 keys and in DRfC's shell-sourced ``run.env``. These tests plant bad directories next
to a good job in moto's S3 server and check that the store never offers them for a claim.
"""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from pitstop.core.ids import check_job_id, valid_job_id
from pitstop.errors import InvalidJob, InvalidJobId
from pitstop.intake import Submission, build_spec, defaults
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, model_prefix
from pitstop.store.objects import S3Store
from tests.e2e.harness import REWARD

INJECTED_DIR = "x;touch${IFS}INJECTED;"


@pytest.mark.parametrize("value", ["a", "job-1", "my-reward-3f2a9c1d07", "0", "a" * 63, "9-"])
def test_valid_job_ids(value: str) -> None:
    assert valid_job_id(value)
    assert check_job_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-a",
        "A",
        "a_b",
        "a b",
        "a/b",
        "..",
        "a.b",
        "a" * 64,
        "a\n",
        "a;b",
        INJECTED_DIR,
        "$(id)",
        "é",
    ],
)
def test_invalid_job_ids(value: str) -> None:
    assert not valid_job_id(value)
    with pytest.raises(InvalidJobId) as e:
        check_job_id(value, "s3://b/pitstop/jobs/")
    message = str(e.value)
    assert "\n" not in message and message.startswith("s3://b/pitstop/jobs/: ")


def test_layout_refuses_to_build_keys_from_bad_ids() -> None:
    lay = Layout("pitstop")
    for build in (lay.job, lay.spec, lay.state, lay.lease, lay.events, lay.inbox_claim):
        with pytest.raises(InvalidJobId):
            build(INJECTED_DIR)
    with pytest.raises(InvalidJobId):
        model_prefix(INJECTED_DIR, 1)
    assert lay.spec("ok-1") == "pitstop/jobs/ok-1/spec.json"


def test_layout_parses_every_key_that_carries_a_job_id() -> None:
    lay = Layout("pitstop")
    assert lay.parse_job_dir("pitstop/jobs/ok-1/") == "ok-1"
    assert lay.parse_job_dir(f"pitstop/jobs/{INJECTED_DIR}/") == INJECTED_DIR  # raw: caller checks
    assert lay.parse_job_dir("pitstop/jobs/a/b/") is None
    assert lay.parse_job_dir("other/jobs/a/") is None
    assert lay.parse_terminal_key("pitstop/index/terminal/ok-1") == "ok-1"
    assert lay.parse_terminal_key("pitstop/index/claimable/1-x-ok-1") is None
    key = lay.claim_key(1, "20261121T000000000Z", "ok-1")
    assert key == "pitstop/index/claimable/1-20261121T000000000Z-ok-1"
    assert lay.parse_claim_key(key) == (1, "20261121T000000000Z", "ok-1")
    assert lay.parse_claim_key("pitstop/index/claimable/nonsense") is None
    assert lay.job_id_of("pitstop/jobs/ok-1/events/x.json") == "ok-1"


@pytest.fixture
def jobs(bucket: str, s3_endpoint: str) -> JobStore:
    return JobStore(S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout())


def _good_job(jobs: JobStore) -> str:
    sub = Submission(name="good", files={"reward_function.py": REWARD, **defaults()})
    spec = build_spec(sub)
    assert jobs.create(spec, sub.files)
    return spec.id


def _plant(s3, bucket: str, dir_name: str, spec_id: str, state_id: str) -> None:  # type: ignore[no-untyped-def]
    """A hand-made job directory, as someone with write access to jobs/ could leave it."""
    spec = {"id": spec_id, "name": "x", "submitted_at": "2020-01-01T00:00:00.000Z"}
    state = {"id": state_id, "state": "pending", "created_at": "2020-01-01T00:00:00.000Z"}
    s3.put_object(Bucket=bucket, Key=f"pitstop/jobs/{dir_name}/spec.json", Body=json.dumps(spec))
    s3.put_object(Bucket=bucket, Key=f"pitstop/jobs/{dir_name}/state.json", Body=json.dumps(state))


def test_bad_job_directories_are_never_candidates_and_are_reported(
    jobs: JobStore, s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    good = _good_job(jobs)
    _plant(s3, bucket, INJECTED_DIR, "any", "any")
    _plant(s3, bucket, "mismatch-1", "other-1", "mismatch-1")
    _plant(s3, bucket, "state-lies", "state-lies", "other-2")
    # index entries someone made by hand: a bad id, and a terminal marker for a bad id
    s3.put_object(
        Bucket=bucket, Key=f"pitstop/index/claimable/0-20200101T000000000Z-{INJECTED_DIR}", Body=b""
    )
    s3.put_object(Bucket=bucket, Key="pitstop/index/terminal/..", Body=b"")

    with capture_logs() as logs:
        assert jobs.job_ids() == sorted([good, "mismatch-1", "state-lies"])
        live = jobs.live_job_ids()
        assert INJECTED_DIR not in live and good in live
        assert jobs.claimable_index() == [good]
        for job_id in ("mismatch-1", "state-lies"):
            with pytest.raises(InvalidJob) as e:
                jobs.status(job_id)
            assert "\n" not in str(e.value) and f"pitstop/jobs/{job_id}/" in str(e.value)
        with pytest.raises(InvalidJob, match=r"spec\.json: id 'other-1' is not the directory"):
            jobs.spec("mismatch-1")
        with pytest.raises(InvalidJobId):
            jobs.status(INJECTED_DIR)
    reported = {(e.get("job_dir"), e["event"]) for e in logs}
    assert (INJECTED_DIR, "job.invalid") in reported
    assert ("mismatch-1", "job.invalid") in reported
    invalid = {i.job_dir: i.reason for i in jobs.invalid_jobs()}
    assert set(invalid) == {INJECTED_DIR, "mismatch-1", "state-lies"}
    assert "not a valid job id" in invalid[INJECTED_DIR]
    assert "other-1" in invalid["mismatch-1"]
    # the good job is untouched by all of this
    assert jobs.status(good)[0].state.value == "pending"
    assert jobs.spec(good).id == good


def test_creation_refuses_a_bad_id(jobs: JobStore) -> None:
    sub = Submission(name="good", files={"reward_function.py": REWARD, **defaults()})
    with pytest.raises(InvalidJobId):
        build_spec(sub, job_id=INJECTED_DIR)


def test_a_lease_naming_another_job_is_not_a_lease(jobs: JobStore, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    from pitstop.store.leases import Leases

    good = _good_job(jobs)
    forged = {"job_id": "someone-else", "owner": "i-other", "released": False}
    s3.put_object(Bucket=bucket, Key=f"pitstop/jobs/{good}/lease.json", Body=json.dumps(forged))
    leases = Leases(jobs.store, jobs.layout, "i-me", ttl_s=300)
    info = leases.info(good)
    assert info is not None and info.owner is None and leases.is_expired(info)
    with pytest.raises(InvalidJobId):
        leases.claim(INJECTED_DIR)


def test_log_names_name_the_attempt_once() -> None:
    from pitstop.store.layout import Layout

    assert Layout.log_name(1, "attempt-1.log") == "attempt-1/trainer.log"
    assert Layout.log_name(2, "attempt-2-containers.log") == "attempt-2/containers.log"
    assert Layout.log_name(3, "supervisor.log") == "attempt-3/supervisor.log"
    key = Layout().logs("job-1") + Layout.log_name(12, "attempt-12.log")
    assert key == "pitstop/jobs/job-1/logs/attempt-12/trainer.log"
    assert Layout.parse_log_name(key) == (12, "trainer.log")
    assert Layout.parse_log_name("pitstop/jobs/job-1/logs/attempt-1-attempt-1.log") is None
