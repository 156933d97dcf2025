"""Why a run stopped, end to end (issue 26): real supervisor and simulated-trainer processes,
moto's S3 over HTTP, a local instance metadata service for the spot notice.

- a reward function that raises is the job's own error: the job fails after one attempt,
  no restart spent, with simapp's message and the reward function's line;
- a GPU Xid is the machine's fault: restarted on the infrastructure budget, not
  ``max_restarts``;
- one rollout worker of two silent (running, writing no episode) while worker 0 evaluates:
  ``silent_worker``, found in worker 0's episode lengths, long before the stall timeout;
- ``on_interruption: stop``: a spot notice ends the job (``cancelled``), never resumed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import at, job, job_in, recorded_end, submit
from tests.helpers import scaled, wait_for
from tests.servers import FakeImds

pytestmark = pytest.mark.e2e


def events_named(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in doc["events"] if e["event"] == name]


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    server = FakeImds()
    yield server
    server.close()


def test_a_reward_error_fails_the_job_after_one_attempt(e2e_env, supervisors) -> None:
    sim = {
        "checkpoint_interval_s": 0.25,
        "checkpoints": 6,
        "faults": [{"kind": "reward_error", "after_checkpoint": 1, "step": 200}],
    }
    job_id = submit(e2e_env, "reward-error", sim)
    supervisors.job_ids.append(job_id)
    supervisors(e2e_env)
    doc = wait_for(lambda: recorded_end(e2e_env, job_id), 60, "the job to end, its event recorded")
    assert doc["state"] == "failed", doc["reason"]
    reason = doc["reason"] or ""
    assert reason.startswith("user_error:"), reason
    assert "Reward function exception 'closest_objects'" in reason, reason
    assert "reward_function.py line 2" in reason, reason  # the job's own return line
    assert doc["restarts"] == 0 and doc["infra_restarts"] == 0
    (attempt,) = doc["attempts"]  # no second attempt: every restart would fail the same way
    assert attempt["outcome"] == "crashed"
    assert attempt["failure"] == "user_error" and attempt["signature"] == "reward_error"
    assert "closest_objects" in (attempt["failure_reason"] or "")
    assert attempt["last_checkpoint"] and attempt["last_checkpoint"].startswith("1_Step-")
    (failed,) = events_named(doc, "run.failed")
    assert failed["failure"] == "user_error" and failed["signature"] == "reward_error"
    assert failed["reward_line"] == 2
    assert not events_named(doc, "run.restarted")


def test_a_gpu_xid_restarts_without_spending_a_restart(e2e_env, supervisors) -> None:
    sim = {
        "checkpoint_interval_s": 0.25,
        "checkpoints": 5,
        "faults": [{"kind": "gpu_error", "variant": "xid", "attempt": 1, "after_checkpoint": 2}],
    }
    job_id = submit(e2e_env, "gpu-xid", sim)
    supervisors.job_ids.append(job_id)
    supervisors(e2e_env)
    doc = wait_for(lambda: recorded_end(e2e_env, job_id), 60, "the job to end, its event recorded")
    assert doc["state"] == "succeeded", doc["reason"]
    assert doc["restarts"] == 0 and doc["infra_restarts"] == 1
    first, second = doc["attempts"]
    assert first["outcome"] == "crashed"
    assert first["failure"] == "infrastructure" and first["signature"] == "gpu_xid"
    assert "GPU has fallen off the bus" in (first["failure_reason"] or "")
    assert second["outcome"] == "succeeded" and second["failure"] is None
    assert second["pretrained_checkpoint"] == first["last_checkpoint"]  # resumed, not redone
    (crashed,) = events_named(doc, "run.crashed")
    assert crashed["failure"] == "infrastructure" and crashed["signature"] == "gpu_xid"


def test_a_silent_rollout_worker_stops_the_run_before_the_stall_timeout(
    e2e_env, supervisors
) -> None:
    # the stall timeout far past what the hang needs: a stop it made cannot pass for one
    stall = scaled(60.0)
    env = {**e2e_env, "PITSTOP_STALL_TIMEOUT_S": f"{stall:g}", "PITSTOP_HANG_EVALUATION_LENGTHS": "30"}  # fmt: skip
    sim = {
        "checkpoint_interval_s": 0.25,
        "checkpoints": 4,
        "workers": 2,
        "faults": [{"kind": "silent_worker", "worker": 1, "attempt": 1, "after_checkpoint": 1}],
    }
    job_id = submit(env, "silent-worker", sim, workers=2)
    supervisors.job_ids.append(job_id)
    supervisors(env)
    doc = wait_for(lambda: recorded_end(env, job_id), 120, "the job to end, its event recorded")
    assert doc["state"] == "succeeded", doc["reason"]
    (stalled,) = events_named(doc, "run.stalled")
    assert stalled.get("signature") == "silent_worker", stalled
    assert "RoboMaker worker 1 runs but wrote no new episode" in stalled["reason"], stalled
    first, second = doc["attempts"]
    assert first["outcome"] == "stalled" and first["signature"] == "silent_worker", first
    assert first["failure"] == "unknown" and doc["restarts"] == 1
    assert first["last_checkpoint"].startswith("1_Step-")
    assert second["outcome"] == "succeeded"
    assert second["pretrained_checkpoint"] == first["last_checkpoint"]
    (checkpointed,) = [
        e for e in events_named(doc, "run.checkpointed") if e.get("checkpoint", "").startswith("1_")
    ]
    took = at(stalled["at"]) - at(checkpointed["at"])
    assert took < stall / 2, f"silent_worker took {took:.1f} s"


def test_on_interruption_stop_ends_the_job_at_a_spot_notice(
    e2e_env, supervisors, imds: FakeImds, tmp_path: Path
) -> None:
    env = {**e2e_env, "PITSTOP_IMDS_ENDPOINT": imds.endpoint}
    sim = {"checkpoint_interval_s": 0.25, "checkpoints": 400}
    job_id = submit(env, "stop-at-notice", sim, on_interruption="stop")
    supervisors.job_ids.append(job_id)
    first = supervisors(env, "first")
    wait_for(lambda: job_in(env, job_id, "running"), 60, "the job to run")
    imds.notice("terminate")
    doc = wait_for(lambda: recorded_end(env, job_id), 60, "the job to end at the notice")
    assert doc["state"] == "cancelled", doc["reason"]
    assert "spot interruption notice (terminate)" in (doc["reason"] or "")
    assert "on_interruption: stop" in (doc["reason"] or "")
    (attempt,) = doc["attempts"]
    assert attempt["outcome"] == "preempted" and attempt["last_checkpoint"]
    assert events_named(doc, "run.cancelled") and not events_named(doc, "run.preempted")
    wait_for(lambda: "shutdown" in _power_log(tmp_path), 30, "the instance to power off")

    # never resumed: another instance (no notice) takes the next job, never this one
    first.close()
    other = submit(env, "after-the-notice", {"checkpoint_interval_s": 0.1, "checkpoints": 2})
    supervisors.job_ids.append(other)
    calm = {**env, "PITSTOP_IMDS_ENDPOINT": "http://127.0.0.1:9"}
    supervisors(calm, "second", PITSTOP_INSTANCE_ID="i-second", PITSTOP_STATE_DIR=f"{env['PITSTOP_STATE_DIR']}-second")  # fmt: skip
    done = wait_for(lambda: job_in(env, other), 60, "the next job to end")
    assert done["state"] == "succeeded" and done["attempts"][0]["instance_id"] == "i-second"
    again = job(env, job_id)
    assert again["state"] == "cancelled" and len(again["attempts"]) == 1
    assert len(events_named(again, "lease.claimed")) == 1  # by the first instance only
    assert not events_named(again, "run.restarted")


def _power_log(tmp_path: Path) -> str:
    path = tmp_path / "power.log"
    return path.read_text() if path.exists() else ""
