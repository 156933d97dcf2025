"""Crash-only, end to end: real supervisor processes killed at awkward moments, S3 replies
lost on the way, objects garbled; after each, exactly one trainer per job, every attempt
closed, nothing trained lost. Each test names the defect of issue 12 it pins."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pitstop.store.checkpoints import read_progress
from pitstop.store.layout import model_prefix
from tests.e2e.harness import job, job_in, jobs_store, kill_trainers, submit, trainer_pids
from tests.faults.chaos import records_attempt, unclosed
from tests.faults.proxy import FaultProxy, Rule
from tests.helpers import scaled, wait_for

pytestmark = pytest.mark.e2e


def _running(env: dict[str, str], job_id: str) -> bool:
    return job(env, job_id)["state"] == "running"


def _watch_one_trainer(env: dict[str, str], job_id: str, timeout: float) -> dict:  # type: ignore[type-arg]
    """Poll until the job ends; at no poll may two trainers of the job be alive."""
    most = 0

    def ended() -> dict | None:  # type: ignore[type-arg]
        nonlocal most
        most = max(most, len(trainer_pids(job_id)))
        return job_in(env, job_id)

    doc = wait_for(ended, timeout, f"job {job_id} to end")
    assert most <= 1, f"{most} trainers of {job_id} alive at once"
    assert trainer_pids(job_id) == []
    assert all(a["ended_at"] for a in doc["attempts"]), doc["attempts"]
    return doc


# -- defect 1 -----------------------------------------------------------------------------
def test_a_lost_reply_to_a_lease_renewal_is_not_a_lost_lease(
    e2e_env, supervisors, moto_server
) -> None:
    proxy = FaultProxy(moto_server.port).start()
    try:
        env = {**e2e_env, "PITSTOP_S3_ENDPOINT_URL": proxy.endpoint}
        job_id = submit(e2e_env, "lostreply", {"checkpoint_interval_s": 0.3, "checkpoints": 8})
        supervisors.job_ids.append(job_id)
        sup = supervisors(env)
        wait_for(lambda: _running(e2e_env, job_id), 30, "the job to run")
        proxy.add(Rule("drop_reply", method="PUT", key=r"/lease\.json$", times=2))
        wait_for(lambda: proxy.injected["drop_reply"] == 2, 20, "two renewal replies lost")
        doc = wait_for(lambda: job_in(e2e_env, job_id), 60, "the job to end")
        assert doc["state"] == "succeeded" and len(doc["attempts"]) == 1, doc["attempts"]
        assert "lease.lost" not in sup.names()
    finally:
        proxy.close()


# -- defect 2 -----------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["garbled state.json", "missing spec.json"])
def test_an_unreadable_held_job_is_failed_and_the_queue_goes_on(
    e2e_env, supervisors, damage: str
) -> None:
    bad = submit(e2e_env, "damaged", {"checkpoint_interval_s": 0.3, "checkpoints": 1000})
    supervisors.job_ids.append(bad)
    first = supervisors(e2e_env, "first")
    wait_for(lambda: _running(e2e_env, bad), 30, "the job to run")
    first.kill()
    first.wait()
    jobs = jobs_store(e2e_env)
    if damage == "garbled state.json":
        key = jobs.layout.state(bad)
        jobs.store.put(key, b"\x00garbage{")
    else:
        key = jobs.layout.spec(bad)
        jobs.store.delete(key)
    good = submit(e2e_env, "after", {"checkpoint_interval_s": 0.2, "checkpoints": 2})
    supervisors.job_ids.append(good)
    second = supervisors(e2e_env, "second")  # same instance, same state dir: it holds `bad`
    doc = wait_for(lambda: job_in(e2e_env, good), 60, "the next job to end")
    assert doc["state"] == "succeeded"
    assert second.alive()  # never a crash loop
    failed, _ = jobs.status(bad)
    assert failed.state.value == "failed" and key.rsplit("/", 1)[-1] in (failed.reason or "")
    assert trainer_pids(bad) == []  # its trainer was stopped
    if damage == "garbled state.json":
        kept = [i.key for i in jobs.store.list(key + ".corrupt-")]
        assert [jobs.store.get(k).body for k in kept] == [b"\x00garbage{"]


# -- defect 4 -----------------------------------------------------------------------------
def test_killed_while_stopping_a_stalled_run_leaves_no_orphan(e2e_env, supervisors) -> None:
    sim = {
        "checkpoint_interval_s": 0.3,
        "checkpoints": 5,
        "faults": [
            {"kind": "freeze", "attempt": 1, "after_checkpoint": 2},
            {"kind": "ignore_sigterm", "attempt": 1},
        ],
    }
    job_id = submit(e2e_env, "stopkill", sim)
    supervisors.job_ids.append(job_id)
    # a long stop: a wide window to die in (shorter than the lease)
    env = {**e2e_env, "PITSTOP_STOP_TIMEOUT_S": f"{scaled(2.5):g}"}
    first = supervisors(env, "first")
    wait_for(lambda: "run.stalled" in first.names(), 30, "the stall")
    first.kill()
    first.wait()
    assert len(trainer_pids(job_id)) == 1  # the frozen, SIGTERM-deaf trainer outlived it
    supervisors(env, "second")
    doc = _watch_one_trainer(e2e_env, job_id, 60)
    assert doc["state"] == "succeeded"
    assert [a["outcome"] for a in doc["attempts"]] == ["stalled", "succeeded"]


def test_killed_before_saving_the_trainer_handle_leaves_no_orphan(
    e2e_env, supervisors, tmp_path: Path
) -> None:
    job_id = submit(e2e_env, "nohandle", {"checkpoint_interval_s": 0.3, "checkpoints": 10})
    supervisors.job_ids.append(job_id)
    first = supervisors(e2e_env, "first")
    wait_for(lambda: _running(e2e_env, job_id), 30, "the job to run")
    (old,) = trainer_pids(job_id)
    first.kill()
    first.wait()
    # as if it died between starting the trainer and saving its handle
    (Path(e2e_env["PITSTOP_STATE_DIR"]) / "current.json").unlink()
    supervisors(e2e_env, "second")
    doc = _watch_one_trainer(e2e_env, job_id, 60)
    assert old not in trainer_pids(job_id)
    assert doc["state"] == "succeeded" and doc["attempts"][0]["outcome"] == "interrupted"


# -- defect 5 -----------------------------------------------------------------------------
def test_a_trainer_that_finished_while_its_supervisor_was_down_gets_no_extra_attempt(
    e2e_env, supervisors
) -> None:
    job_id = submit(e2e_env, "finished", {"checkpoint_interval_s": 0.3, "checkpoints": 4})
    supervisors.job_ids.append(job_id)
    first = supervisors(e2e_env, "first")
    wait_for(lambda: _running(e2e_env, job_id), 30, "the job to run")
    first.kill()
    first.wait()
    store = jobs_store(e2e_env).store
    wait_for(lambda: read_progress(store, model_prefix(job_id, 1)).finished, 30, ".finished")
    supervisors(e2e_env, "second")
    doc = wait_for(lambda: job_in(e2e_env, job_id), 30, "the job to end")
    assert doc["state"] == "succeeded"
    assert [a["outcome"] for a in doc["attempts"]] == ["succeeded"]


# -- defect 8 -----------------------------------------------------------------------------
def test_max_hours_holds_across_a_takeover(e2e_env, supervisors, tmp_path: Path) -> None:
    budget_s = scaled(6.0)
    job_id = submit(
        e2e_env,
        "budget",
        {"checkpoint_interval_s": 0.3, "checkpoints": 1000},
        max_hours=budget_s / 3600,
    )
    supervisors.job_ids.append(job_id)
    a = supervisors(e2e_env, "a")
    wait_for(lambda: len(job(e2e_env, job_id)["attempts"]) == 1, 30, "attempt 1")
    store = jobs_store(e2e_env).store

    def trained_checkpoints() -> int:
        name = read_progress(store, model_prefix(job_id, 1)).checkpoint or "0_"
        return int(name.split("_")[0])

    wait_for(lambda: trained_checkpoints() >= 4, 30, "attempt 1 to train a while (4 x 0.3 s)")
    a.kill(signal.SIGKILL)  # the instance vanishes, with its trainer
    kill_trainers([job_id])
    other = {
        **e2e_env,
        "PITSTOP_INSTANCE_ID": "i-test0002",
        "PITSTOP_STATE_DIR": str(tmp_path / "b-state"),
    }
    supervisors(other, "b")
    doc = wait_for(lambda: job_in(e2e_env, job_id), 60, "the job to end")
    first = doc["attempts"][0]
    assert first["outcome"] == "preempted"
    assert first["training_s"] >= 1.0 and first["last_checkpoint"], first
    total = sum(a["training_s"] for a in doc["attempts"])
    # (the budget to the second on a fake clock: tests/supervisor/test_fake_clock.py)
    assert doc["state"] == "succeeded" and total <= budget_s + scaled(2.0), doc["attempts"]


# -- issue 23, item 3 ---------------------------------------------------------------------
def test_killed_after_recording_an_attempt_before_its_handle_leaves_no_attempt_open(
    e2e_env, supervisors, moto_server
) -> None:
    proxy = FaultProxy(moto_server.port).start()
    try:
        env = {**e2e_env, "PITSTOP_S3_ENDPOINT_URL": proxy.endpoint}
        job_id = submit(e2e_env, "recorded", {"checkpoint_interval_s": 0.3, "checkpoints": 4})
        supervisors.job_ids.append(job_id)
        # the write that records attempt 1 lands in S3, its reply is held: the supervisor
        # waits for it before it launches the trainer and saves the trainer's handle
        me = e2e_env["PITSTOP_INSTANCE_ID"]
        rule = proxy.add(
            Rule("hold", method="PUT", key=r"/state\.json$", seconds=60, body=records_attempt(me))
        )
        first = supervisors(env, "first")
        wait_for(lambda: rule.hits == 1, 30, "attempt 1 to be recorded")
        first.kill()
        first.wait()
        assert [a["outcome"] for a in job(e2e_env, job_id)["attempts"]] == ["running"]
        supervisors(e2e_env, "second")  # same instance and state dir
        doc = _watch_one_trainer(e2e_env, job_id, 60)
    finally:
        proxy.close()
    assert doc["state"] == "succeeded"
    assert [a["outcome"] for a in doc["attempts"]] == ["interrupted", "succeeded"]
    assert unclosed(doc["attempts"]) == []
    # its time is measured (its start until the restart closed it) and counted
    assert doc["attempts"][0]["training_s"] > 0
