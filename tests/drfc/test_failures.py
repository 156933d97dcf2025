"""Why a run stopped (issue 26), through deepracer-for-cloud's real scripts (v5.3.3, v6.0.4).

The supervisor drives a copy of a DRfC release as in ``test_e2e.py``; only ``docker`` is a
stand-in. Each failure class and hang signature is produced the way it happens on an
instance, and read the way pitstop reads it there (``docker ps -a``, one ``docker inspect``,
the containers' logs):

- the simulated trainer (SageMaker's container) prints simapp's reward-function traceback,
  its ``simapp_exception`` JSON line and ``FAULT_CODE``: a user error, the job fails at once;
- it prints a GPU Xid and exits: infrastructure, restarted on its own budget;
- SageMaker's container exits while RoboMaker runs: ``sagemaker_exited``;
- with ``DR_WORKERS=2`` one RoboMaker dies (``docker __exit``): ``worker_exited``, found in a
  poll or two, long before the stall timeout;
- a container in docker's restart loop (``docker __restarting``): ``restart_loop``;
- SageMaker stuck while worker 0 keeps evaluating (``freeze``): ``endless_evaluation``;
- with ``DR_WORKERS=2`` worker 1 running but writing nothing (``silent_worker``): named
  from the workers' metrics files, while docker shows every container running.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.drfc.sandbox import VERSIONS, Instance
from tests.drfc.test_e2e import assert_nothing_left, container_log
from tests.e2e.harness import at, jobs_store, recorded_end, submit
from tests.helpers import scaled, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# the hang tests: a stall timeout far beyond the poll (DRFC_FAST polls every 0.5 s), so a
# stop that comes from the stall timeout cannot pass for a signature's
HANG_STALL_TIMEOUT_S = scaled(24.0)


# these exercise pitstop's reading of docker and of the containers' logs rather than the
# scripts, so they run on the newest release only (the suite's time budget); both releases'
# start, stop, resume and evaluation scripts run in test_e2e.py and test_evaluation.py
NEWEST_ONLY = pytest.mark.parametrize("version", [VERSIONS[-1]])


def ended(env: dict[str, str], job_id: str) -> dict[str, Any]:
    """The job document once it ended and its ending event is recorded."""
    return wait_for(lambda: recorded_end(env, job_id), 120, "the job to end", interval=0.5)


def start(
    supervisors_on: Any,
    inst: Instance,
    env: dict[str, str],
    name: str,
    sim: dict[str, Any],
    **fields: Any,
) -> str:
    """Submit a job with the simulated trainer's ``sim`` and start a supervisor on ``inst``."""
    job_id = submit(env, name, sim, **fields)
    supervisors_on.job_ids.append(job_id)
    supervisors_on(inst, env)
    return job_id


def events_named(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in doc["events"] if e["event"] == name]


def trained(env: dict[str, str], job_id: str, n: int) -> int:
    """Trained checkpoints (not the initial one) in attempt ``n``'s model prefix."""
    keys = [i.key for i in jobs_store(env).store.list(f"models/{job_id}/attempt-{n}/model/")]
    return len([k for k in keys if re.search(r"/[1-9]\d*_Step-\d+\.ckpt\.index$", k)])


def hang_env(drfc_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**drfc_env, "PITSTOP_STALL_TIMEOUT_S": f"{HANG_STALL_TIMEOUT_S:g}", **extra}


def control(inst: Instance, *args: str) -> str:
    """A docker stand-in test control (``__exit``, ``__restarting``): the container it hit."""
    r = inst.docker(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def stalled_by(doc: dict[str, Any], signature: str) -> dict[str, Any]:
    """The one ``run.stalled`` event, named by ``signature``; the attempt it stopped."""
    (stalled,) = events_named(doc, "run.stalled")
    assert stalled.get("signature") == signature, stalled
    first = doc["attempts"][0]
    assert first["outcome"] == "stalled"
    assert first["signature"] == signature, first
    assert first["failure"] == "unknown"  # a hang's cause is not known: it counts
    assert doc["restarts"] == 1 and doc["infra_restarts"] == 0
    return stalled


def assert_stopped_soon_and_resumed(
    inst: Instance, doc: dict[str, Any], stalled: dict[str, Any]
) -> None:
    """A metrics hang after checkpoint 1: stopped far inside the stall timeout (from that
    checkpoint), the next attempt succeeded, nothing left running."""
    (checkpointed,) = [
        e for e in events_named(doc, "run.checkpointed") if e.get("checkpoint", "").startswith("1_")
    ]
    took = at(stalled["at"]) - at(checkpointed["at"])
    assert took < HANG_STALL_TIMEOUT_S / 2, f"{stalled['signature']} took {took:.1f} s"
    assert doc["attempts"][1]["outcome"] == "succeeded"
    assert_nothing_left(inst)


@NEWEST_ONLY
def test_a_reward_error_fails_the_job_after_one_attempt(
    version, instances, drfc_env, supervisors_on
) -> None:
    inst = instances(version)
    sim = {
        "checkpoint_interval_s": 0.3,
        "checkpoints": 6,
        "faults": [{"kind": "reward_error", "after_checkpoint": 1, "step": 200}],
    }
    job_id = start(supervisors_on, inst, drfc_env, f"reward-error-{version}", sim)
    doc = ended(drfc_env, job_id)
    assert doc["state"] == "failed", doc["reason"]
    reason = doc["reason"] or ""
    assert reason.startswith("user_error:"), reason
    assert "Reward function exception 'closest_objects'" in reason, reason
    assert "reward_function.py line 2" in reason, reason  # the job's own return line
    assert doc["restarts"] == 0 and doc["infra_restarts"] == 0
    (attempt,) = doc["attempts"]  # no second attempt: every restart would fail the same way
    assert attempt["outcome"] == "crashed"
    assert attempt["failure"] == "user_error" and attempt["signature"] == "reward_error"
    (failed,) = events_named(doc, "run.failed")
    assert failed["failure"] == "user_error" and failed["reward_line"] == 2
    assert not events_named(doc, "run.restarted") and not events_named(doc, "run.backing_off")
    # what the supervisor read is what SageMaker's container printed, kept with the job
    logged = container_log(drfc_env, job_id, 1)
    assert '{"simapp_exception": {' in logged and "ERROR: FAULT_CODE: 41" in logged
    assert_nothing_left(inst)  # RoboMaker (still up when SageMaker died) stopped too


@NEWEST_ONLY
def test_sagemaker_exiting_while_robomaker_runs_is_named_and_restarted(
    version, instances, drfc_env, supervisors_on
) -> None:
    inst = instances(version)
    sim = {
        "checkpoint_interval_s": 0.3,
        "checkpoints": 4,
        "faults": [{"kind": "crash", "attempt": 1, "after_checkpoint": 1, "exit_code": 5}],
    }
    job_id = start(supervisors_on, inst, drfc_env, f"sagemaker-exited-{version}", sim)
    doc = ended(drfc_env, job_id)
    assert doc["state"] == "succeeded", doc["reason"]
    first, second = doc["attempts"]
    assert first["outcome"] == "crashed"
    assert first["signature"] == "sagemaker_exited", first
    assert first["failure"] == "unknown"
    assert "SageMaker exited with code 5, RoboMaker still runs" in first["failure_reason"]
    (crashed,) = events_named(doc, "run.crashed")
    assert crashed["signature"] == "sagemaker_exited" and "code 5" in crashed["reason"]
    assert doc["restarts"] == 1 and doc["infra_restarts"] == 0
    assert second["outcome"] == "succeeded"
    assert second["pretrained_checkpoint"] == first["last_checkpoint"]
    assert_nothing_left(inst)


@NEWEST_ONLY
def test_a_gpu_xid_restarts_on_the_infrastructure_budget(
    version, instances, drfc_env, supervisors_on
) -> None:
    inst = instances(version)
    sim = {
        "checkpoint_interval_s": 0.3,
        "checkpoints": 4,
        "faults": [{"kind": "gpu_error", "variant": "xid", "attempt": 1, "after_checkpoint": 1}],
    }
    # max_restarts 0: only the infrastructure budget can restart it
    env = {**drfc_env, "PITSTOP_MAX_RESTARTS": "0"}
    job_id = start(supervisors_on, inst, env, f"gpu-xid-{version}", sim)
    doc = ended(env, job_id)
    assert doc["state"] == "succeeded", doc["reason"]
    assert doc["restarts"] == 0 and doc["infra_restarts"] == 1
    first, second = doc["attempts"]
    assert first["outcome"] == "crashed"
    assert first["failure"] == "infrastructure" and first["signature"] == "gpu_xid"
    assert "GPU has fallen off the bus" in (first["failure_reason"] or "")
    (crashed,) = events_named(doc, "run.crashed")
    assert crashed["failure"] == "infrastructure" and crashed["signature"] == "gpu_xid"
    assert second["outcome"] == "succeeded" and second["failure"] is None
    assert second["pretrained_checkpoint"] == first["last_checkpoint"]  # resumed, not redone
    assert_nothing_left(inst)


@pytest.mark.parametrize(("version", "style"), [(VERSIONS[-1], "swarm"), (VERSIONS[-1], "compose")])
def test_one_of_two_workers_exiting_stops_the_run_within_a_poll_or_two(
    version, style, instances, drfc_env, supervisors_on
) -> None:
    inst = instances(version)
    if style == "compose":
        r = inst.sh("sed -i 's/^DR_DOCKER_STYLE=.*/DR_DOCKER_STYLE=compose/' system.env")
        assert r.returncode == 0, r.stderr
    env = hang_env(drfc_env)
    sim = {"checkpoint_interval_s": 0.3, "checkpoints": 30}
    job_id = start(supervisors_on, inst, env, f"worker-exited-{version}-{style}", sim, workers=2)
    wait_for(lambda: trained(env, job_id, 1) >= 1, 90, "attempt 1 to train", interval=0.3)
    workers = sorted(c["name"] for c in inst.containers(running=True) if "robomaker" in c["name"])
    assert len(workers) == 2, workers  # DR_WORKERS=2: DRfC started two RoboMaker workers
    second = "_robomaker.2." if style == "swarm" else "-robomaker-2"
    t0 = time.time()
    hit = control(inst, "__exit", second, "1")
    doc = ended(env, job_id)
    assert doc["state"] == "succeeded", doc["reason"]
    stalled = stalled_by(doc, "worker_exited")
    assert hit in stalled["reason"] and "1 of 2 still run" in stalled["reason"], stalled
    took = at(stalled["at"]) - t0
    # a poll or two (0.5 s each) and the docker calls of each: far inside the stall timeout
    assert took < HANG_STALL_TIMEOUT_S / 4, f"worker_exited took {took:.1f} s"
    second_attempt = doc["attempts"][1]
    assert second_attempt["outcome"] == "succeeded"
    assert second_attempt["pretrained_checkpoint"] == doc["attempts"][0]["last_checkpoint"]
    assert_nothing_left(inst)


@NEWEST_ONLY
def test_a_container_in_a_restart_loop_stops_the_run(
    version, instances, drfc_env, supervisors_on
) -> None:
    inst = instances(version)
    env = hang_env(drfc_env)
    sim = {"checkpoint_interval_s": 0.3, "checkpoints": 30}
    job_id = start(supervisors_on, inst, env, f"restart-loop-{version}", sim)
    wait_for(lambda: trained(env, job_id, 1) >= 1, 90, "attempt 1 to train", interval=0.3)
    t0 = time.time()
    hit = control(inst, "__restarting", "robomaker", "3")
    doc = ended(env, job_id)
    assert doc["state"] == "succeeded", doc["reason"]
    stalled = stalled_by(doc, "restart_loop")
    # docker shows the looping container restarting or, between two restarts, running: which
    # one a poll catches depends on the machine's load; the count is what names the loop
    assert re.search(
        rf"container {re.escape(hit)} (restarting|running), restarted 3 times", stalled["reason"]
    ), stalled
    took = at(stalled["at"]) - t0
    assert took < HANG_STALL_TIMEOUT_S / 4, f"restart_loop took {took:.1f} s"
    assert doc["attempts"][1]["outcome"] == "succeeded"
    assert_nothing_left(inst)


@NEWEST_ONLY
def test_the_endless_evaluation_stops_the_run_before_the_stall_timeout(
    version, instances, drfc_env, supervisors_on
) -> None:
    inst = instances(version)
    # an iteration ends with 2-4 evaluation episodes (up to ~6 training-episode lengths):
    # 15 is past any of those, and a frozen SageMaker's worker passes it in a few seconds
    env = hang_env(drfc_env, PITSTOP_HANG_EVALUATION_LENGTHS="15")
    sim = {
        "checkpoint_interval_s": 0.3,
        "checkpoints": 4,
        "faults": [{"kind": "freeze", "attempt": 1, "after_checkpoint": 1}],
    }
    job_id = start(supervisors_on, inst, env, f"endless-evaluation-{version}", sim)
    doc = ended(env, job_id)
    assert doc["state"] == "succeeded", doc["reason"]
    stalled = stalled_by(doc, "endless_evaluation")
    assert "with no training episode or checkpoint" in stalled["reason"], stalled
    assert doc["attempts"][0]["last_checkpoint"].startswith("1_Step-")
    assert_stopped_soon_and_resumed(inst, doc, stalled)


@NEWEST_ONLY
def test_a_silent_rollout_worker_stops_the_run_before_the_stall_timeout(
    version, instances, drfc_env, supervisors_on
) -> None:
    inst = instances(version)
    env = hang_env(drfc_env, PITSTOP_HANG_EVALUATION_LENGTHS="15")
    sim = {
        "checkpoint_interval_s": 0.3,
        "checkpoints": 4,
        "workers": 2,
        "faults": [{"kind": "silent_worker", "worker": 1, "attempt": 1, "after_checkpoint": 1}],
    }
    job_id = start(supervisors_on, inst, env, f"silent-worker-{version}", sim, workers=2)
    wait_for(lambda: trained(env, job_id, 1) >= 1, 90, "attempt 1 to train", interval=0.3)
    # DRfC started two RoboMaker workers, and both still run: docker shows nothing wrong
    workers = [c["name"] for c in inst.containers(running=True) if "robomaker" in c["name"]]
    assert len(workers) == 2, workers
    doc = ended(env, job_id)
    assert doc["state"] == "succeeded", doc["reason"]
    stalled = stalled_by(doc, "silent_worker")
    assert "RoboMaker worker 1 runs but wrote no new episode" in stalled["reason"], stalled
    assert_stopped_soon_and_resumed(inst, doc, stalled)
