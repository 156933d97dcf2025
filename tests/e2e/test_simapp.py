"""simapp's own habits, end to end with the simulated trainer (REFERENCE.md section 1).

- ``model/.finished`` is uploaded from a ``finally:`` block: after an exception too.
- An initial checkpoint (the model as loaded) appears as soon as training starts, long
  before the first trained one.
- ``deepracer_checkpoints.json`` names what ``last``/``best`` resume from.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import (
    STALL_TIMEOUT_S,
    STARTUP_GRACE_S,
    checkpoint_numbers,
    job_in,
    jobs_store,
    submit,
)
from tests.helpers import scaled, wait_for

pytestmark = pytest.mark.e2e


def test_finished_after_an_exception_is_a_crash_and_the_run_resumes(e2e_env, supervisors) -> None:
    sim = {
        "checkpoint_interval_s": 0.25,
        "checkpoints": 6,
        "faults": [{"kind": "exception", "attempt": 1, "after_checkpoint": 2, "exit_code": 1}],
    }
    job_id = submit(e2e_env, "finally", sim)
    supervisors.job_ids.append(job_id)
    supervisors(e2e_env)
    doc = wait_for(lambda: job_in(e2e_env, job_id), 60, "the job to end")
    store = jobs_store(e2e_env).store
    # attempt 1 did leave the marker a success leaves
    assert store.head(f"models/{job_id}/attempt-1/model/.finished") is not None
    assert doc["state"] == "succeeded", doc["reason"]
    assert [a["outcome"] for a in doc["attempts"]] == ["crashed", "succeeded"]
    crashed = [e for e in doc["events"] if e["event"] == "run.crashed"]
    assert "without evidence of success" in crashed[0]["reason"]
    assert "exit code 1" in crashed[0]["reason"]
    # and the job trained every planned iteration, resuming where the exception hit
    assert doc["attempts"][1]["pretrained_checkpoint"] == "2_Step-2000.ckpt"
    assert checkpoint_numbers(e2e_env, job_id) == list(range(1, 7))


def test_slow_first_iteration_after_the_initial_checkpoint_is_not_a_stall(
    e2e_env, supervisors
) -> None:
    # between the initial and the first trained checkpoint: longer than the stall timeout,
    # within the first-checkpoint grace (the grace's edges on a fake clock:
    # tests/supervisor/test_fake_clock.py)
    slow = (STALL_TIMEOUT_S + STARTUP_GRACE_S) / 2 - scaled(0.5)
    assert STALL_TIMEOUT_S < slow < STARTUP_GRACE_S
    sim = {
        "checkpoint_interval_s": 0.25,
        "checkpoints": 3,
        "faults": [{"kind": "slow_start", "seconds": slow}],
    }
    job_id = submit(e2e_env, "slow-first", sim)
    supervisors.job_ids.append(job_id)
    sup = supervisors(e2e_env)
    wait_for(
        lambda: jobs_store(e2e_env).store.head(f"models/{job_id}/attempt-1/model/model_0.pb"),
        20,
        "the initial checkpoint",
    )
    doc = wait_for(lambda: job_in(e2e_env, job_id), 60, "the job to end")
    assert doc["state"] == "succeeded" and len(doc["attempts"]) == 1, doc["attempts"]
    assert "run.stalled" not in sup.names()
    checkpointed = [e["checkpoint"] for e in doc["events"] if e["event"] == "run.checkpointed"]
    assert "0_Step-0.ckpt" not in checkpointed and checkpointed[0] == "1_Step-1000.ckpt"


def test_metrics_are_in_simapps_format_and_checkpoints_json_names_last_and_best(
    e2e_env, supervisors
) -> None:
    job_id = submit(e2e_env, "format", {"checkpoint_interval_s": 0.2, "checkpoints": 6})
    supervisors.job_ids.append(job_id)
    supervisors(e2e_env)
    doc = wait_for(lambda: job_in(e2e_env, job_id), 60, "the job to end")
    assert doc["state"] == "succeeded"
    store = jobs_store(e2e_env).store
    prefix = f"models/{job_id}/attempt-1"
    metrics = json.loads(store.get(f"{prefix}/metrics/TrainingMetrics.json").body)
    assert metrics["version"] == 2.0 and metrics["best_model_metric"] == "progress"
    fields = {
        "reward_score",
        "metric_time",
        "start_time",
        "elapsed_time_in_milliseconds",
        "episode",
        "trial",
        "phase",
        "completion_percentage",
        "episode_status",
    }
    assert all(set(row) == fields for row in metrics["metrics"])
    training = [r for r in metrics["metrics"] if r["phase"] == "training"]
    assert len(training) == 6 * 20  # num_episodes_between_training (DRfC default 20) each
    # as simapp counts: training episodes 1..N in a row; an evaluation row keeps the
    # (episode, trial) of the training episode before it
    assert [r["episode"] for r in training] == list(range(1, len(training) + 1))
    last = None
    for row in metrics["metrics"]:
        if row["phase"] == "training":
            last = (row["episode"], row["trial"])
        else:
            assert last is not None and (row["episode"], row["trial"]) == last
    ckpts = json.loads(store.get(f"{prefix}/model/deepracer_checkpoints.json").body)
    assert ckpts["last_checkpoint"]["name"] == "6_Step-6000.ckpt"
    best = ckpts["best_checkpoint"]["name"]
    # the last 4 plus the best are kept; the initial checkpoint was pruned with the others
    kept = sorted(
        {i.key.rsplit("/", 1)[-1].split(".ckpt")[0] for i in store.list(f"{prefix}/model/")}
        - {"deepracer_checkpoints.json", "model_metadata.json", ".coach_checkpoint", ".ready"}
    )
    names = sorted(k for k in kept if "_Step-" in k)
    assert names == sorted({"3_Step-3000", "4_Step-4000", "5_Step-5000", "6_Step-6000", best[:-5]})
