"""The supervisor end to end: real supervisor and trainer processes, moto's S3 over HTTP."""

from __future__ import annotations

import functools
import operator
import signal
import time
from typing import Any

import pytest

from tests.e2e.harness import (
    STALL_TIMEOUT_S,
    at,
    job,
    job_in,
    jobs_store,
    logged_checkpoints,
    submit,
    trainer_pids,
)
from tests.helpers import scaled, wait_for

pytestmark = pytest.mark.e2e


def checkpoints_by_attempt(env: dict[str, str], job_id: str, attempts: int) -> dict[int, list[int]]:
    """Checkpoint numbers each of attempts 1..N wrote (each must have an uploaded log)."""
    logged = logged_checkpoints(env, job_id)
    assert set(range(1, attempts + 1)) <= set(logged), f"logs for attempts {sorted(logged)}"
    return {n: [c for _, c in logged[n]] for n in range(1, attempts + 1)}


def event_times(doc: dict[str, Any], name: str) -> list[float]:
    return [at(e["at"]) for e in doc["events"] if e["event"] == name]


def test_freeze_then_crash_resume_from_checkpoint_and_succeed(e2e_env, supervisors) -> None:
    sim = {
        "checkpoint_interval_s": 0.25,
        "checkpoints": 8,
        "faults": [
            {"kind": "freeze", "attempt": 1, "after_checkpoint": 3},
            {"kind": "crash", "attempt": 2, "after_checkpoint": 1, "exit_code": 3},
        ],
    }
    job_id = submit(e2e_env, "freeze-crash", sim)
    supervisors.job_ids.append(job_id)
    supervisors(e2e_env)
    doc = wait_for(lambda: job_in(e2e_env, job_id), 60, "the job to end")
    assert doc["state"] == "succeeded", doc["reason"]
    outcomes = [a["outcome"] for a in doc["attempts"]]
    assert outcomes == ["stalled", "crashed", "succeeded"]

    # no trained iteration lost beyond the one in progress: each attempt continues the last
    ckpts = checkpoints_by_attempt(e2e_env, job_id, 3)
    assert ckpts[1] == [1, 2, 3]
    for n in (2, 3):
        prev = doc["attempts"][n - 2]
        assert doc["attempts"][n - 1]["pretrained_checkpoint"] == prev["last_checkpoint"]
        assert ckpts[n][0] == ckpts[n - 1][-1] + 1
    assert sorted(functools.reduce(operator.iadd, ckpts.values(), [])) == list(
        range(1, 9)
    )  # every planned iteration

    # a freeze is never called before the stall timeout (-1 s: S3 timestamps have 1 s
    # resolution); the upper bound is only a sanity check (a busy machine is slow to notice)
    stall_at = event_times(doc, "run.stalled")[0]
    last_written = logged_checkpoints(e2e_env, job_id)[1][-1][0]  # the trainer's own clock
    latency = stall_at - last_written
    assert STALL_TIMEOUT_S - 1.0 <= latency <= STALL_TIMEOUT_S + scaled(10), latency
    # a crash is restarted after its backoff (first failure in a row: base 0.4 s), never before
    crash_at = event_times(doc, "run.crashed")[0]
    restart_at = event_times(doc, "run.restarted")[1]
    assert restart_at - crash_at >= 0.4 - 0.01, restart_at - crash_at


def test_trainer_ignoring_sigterm_is_killed(e2e_env, supervisors) -> None:
    sim = {
        "checkpoint_interval_s": 0.2,
        "checkpoints": 4,
        "faults": [
            {"kind": "ignore_sigterm", "attempt": 1},
            {"kind": "freeze", "attempt": 1, "after_checkpoint": 1},
        ],
    }
    job_id = submit(e2e_env, "stubborn", sim)
    supervisors.job_ids.append(job_id)
    supervisors(e2e_env)
    wait_for(lambda: len(job(e2e_env, job_id)["attempts"]) >= 2, 40, "a second attempt")
    # the stubborn attempt-1 trainer is gone: exactly one trainer runs
    assert len(trainer_pids(job_id)) <= 1
    doc = wait_for(lambda: job_in(e2e_env, job_id), 40, "the job to end")
    assert doc["state"] == "succeeded"
    assert doc["attempts"][0]["outcome"] == "stalled"


def test_stale_lock_is_removed_and_recorded(e2e_env, supervisors, s3, bucket) -> None:
    sim = {
        "checkpoint_interval_s": 0.2,
        "checkpoints": 5,
        "faults": [{"kind": "crash_during_upload", "attempt": 1, "after_checkpoint": 2}],
    }
    job_id = submit(e2e_env, "dies-uploading", sim)
    supervisors.job_ids.append(job_id)
    supervisors(e2e_env)
    doc = wait_for(lambda: job_in(e2e_env, job_id), 60, "the job to end")
    assert doc["state"] == "succeeded"
    cleared = [e for e in doc["events"] if e["event"] == "lock.cleared"]
    assert cleared and cleared[0]["model_prefix"].endswith("attempt-1")
    prefix = f"models/{job_id}/attempt-1/model/"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}
    assert prefix + ".lock" not in keys
    # nothing the trainer made is lost: attempt 1's complete checkpoints are still there
    assert prefix + "2_Step-2000.ckpt.index" in keys and prefix + "model_2.pb" in keys
    assert doc["attempts"][1]["pretrained_checkpoint"] == "2_Step-2000.ckpt"


@pytest.mark.slow
def test_s3_unreachable_is_never_a_stall(e2e_env, supervisors, moto_server) -> None:
    from tests.servers import TcpProxy

    proxy = TcpProxy(moto_server.port)
    try:
        env = {**e2e_env, "PITSTOP_S3_ENDPOINT_URL": proxy.endpoint}  # supervisor AND trainer
        job_id = submit(e2e_env, "outage", {"checkpoint_interval_s": 0.3, "checkpoints": 6})
        supervisors.job_ids.append(job_id)
        sup = supervisors(env)
        wait_for(lambda: job(e2e_env, job_id)["state"] == "running", 30, "the job to run")
        proxy.cut()
        wait_for(lambda: "heartbeat.unknown" in sup.names(), 10, "the supervisor to notice")
        outage_start = sup.events()[-1]
        del outage_start
        # longer than the stall timeout with S3 unreachable (3 x on a fake clock:
        # tests/supervisor/test_fake_clock.py)
        deadline = time.monotonic() + 1.5 * STALL_TIMEOUT_S
        while time.monotonic() < deadline:
            assert "run.stalled" not in sup.names()
            time.sleep(0.2)
        proxy.restore()
        wait_for(lambda: "heartbeat.restored" in sup.names(), 20, "monitoring to resume")
        doc = wait_for(lambda: job_in(e2e_env, job_id), 60, "the job to end")
        assert doc["state"] == "succeeded"
        assert len(doc["attempts"]) == 1, [a["outcome"] for a in doc["attempts"]]
        assert "run.stalled" not in sup.names()
    finally:
        proxy.close()


def test_sigkilled_supervisor_resumes_same_job_without_duplicates(e2e_env, supervisors) -> None:
    first = submit(e2e_env, "first", {"checkpoint_interval_s": 0.3, "checkpoints": 10})
    second = submit(e2e_env, "second", {"checkpoint_interval_s": 0.2, "checkpoints": 2})
    supervisors.job_ids.extend([first, second])
    sup = supervisors(e2e_env, name="a")
    wait_for(lambda: job(e2e_env, first)["state"] == "running", 30, "the first job to run")
    trainer = trainer_pids(first)
    assert len(trainer) == 1
    sup.kill(signal.SIGKILL)
    sup.wait()
    again = supervisors(e2e_env, name="a-again")
    wait_for(
        lambda: "run.adopted" in again.names(), 20, "the restarted supervisor to adopt its trainer"
    )
    assert trainer_pids(first) == trainer  # the same trainer: no duplicate
    assert job(e2e_env, second)["state"] == "pending"  # no second job claimed meanwhile
    doc = wait_for(lambda: job_in(e2e_env, first), 60, "the first job to end")
    assert doc["state"] == "succeeded" and len(doc["attempts"]) == 1
    wait_for(lambda: job_in(e2e_env, second), 60, "the second job, claimed only afterwards")


def test_sigterm_stops_trainer_records_and_exits_zero(e2e_env, supervisors) -> None:
    job_id = submit(e2e_env, "sigterm", {"checkpoint_interval_s": 0.3, "checkpoints": 50})
    supervisors.job_ids.append(job_id)
    sup = supervisors(e2e_env)
    wait_for(lambda: job(e2e_env, job_id)["state"] == "running", 30, "the job to run")
    # logs reach S3 while training runs, not only when the attempt ends
    jobs = jobs_store(e2e_env)

    def live_log() -> bool:
        keys = [k for k in jobs.logs(job_id) if jobs.layout.parse_log_name(k) == (1, "trainer.log")]
        return bool(keys) and b"checkpoint 2_Step" in jobs.store.get(keys[0]).body

    wait_for(live_log, 20, "the running attempt's log in S3")
    sup.kill(signal.SIGTERM)
    assert sup.wait(30) == 0
    assert trainer_pids(job_id) == []
    doc = job(e2e_env, job_id)
    assert doc["state"] == "preempted"
    assert doc["attempts"][0]["outcome"] == "interrupted" and doc["attempts"][0]["last_checkpoint"]
