"""The supervisor end to end through deepracer-for-cloud's real scripts (v5.3.3 and v6.0.4).

Real supervisor processes with ``trainer = "drfc"`` drive a copy of a DRfC release: its
``bin/init.sh`` set the instance up, its ``bin/activate.sh``, ``dr-upload-custom-files``,
``dr-start-training`` and ``dr-stop-training`` run for real, with the real AWS CLI against
moto's S3 server, in a mount namespace whose ``/tmp`` is what ``systemd/pitstop-supervisor.service``
gives the supervisor. Docker is the stand-in (``standin/``); its SageMaker container is the
simulated trainer, told where to write by the environment DRfC's compose files give it.
"""

from __future__ import annotations

import re
import signal
import time
from typing import Any

import pytest

from tests.drfc.sandbox import VERSIONS, Instance
from tests.e2e.harness import ENDED, job, jobs_store, submit, trainer_pids
from tests.helpers import scaled, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def state_in(env: dict[str, str], job_id: str, *states: str) -> bool:
    """One read of state.json (the whole job document costs a read per event)."""
    return jobs_store(env).status(job_id)[0].state.value in states


def ended(env: dict[str, str], job_id: str, timeout: float = 120) -> dict[str, Any]:
    wait_for(lambda: state_in(env, job_id, *ENDED), timeout, "the job to end", interval=0.5)
    return job(env, job_id)


def container_log(env: dict[str, str], job_id: str, n: int) -> str:
    """The containers' output of attempt ``n``, as the supervisor kept it in the job's logs."""
    jobs = jobs_store(env)
    keys = [k for k in jobs.logs(job_id) if k.endswith(f"attempt-{n}/containers.log")]
    assert keys, f"no container log of attempt {n}"
    return jobs.store.get(keys[0]).body.decode()


def loaded(env: dict[str, str], job_id: str, n: int) -> str | None:
    """What attempt ``n``'s SageMaker really loaded as pretrained (its own log line)."""
    m = re.search(r"loaded pretrained (\S+)/(\d+_Step-\d+\.ckpt)", container_log(env, job_id, n))
    return f"{m.group(1)}/{m.group(2)}" if m else None


def checkpoints_in(log: str) -> list[int]:
    return [int(n) for n in re.findall(r"\] checkpoint (\d+)_Step", log)]


def assert_nothing_left(inst: Instance) -> None:
    assert [c["name"] for c in inst.containers(running=True)] == []
    assert inst.docker("stack", "ps", "deepracer-0").returncode == 1  # no stack


def test_freeze_then_exception_resume_from_checkpoint_and_succeed(
    version, instances, drfc_env, supervisors_on
) -> None:
    inst = instances(version)
    sim = {
        "checkpoint_interval_s": 0.3,
        "checkpoints": 6,
        "faults": [
            {"kind": "freeze", "attempt": 1, "after_checkpoint": 2},
            # raised evaluating checkpoint 4 (uploaded; `last` still names 3): simapp writes
            # model/.finished all the same, and SageMaker exits with 3
            {"kind": "exception", "attempt": 2, "after_checkpoint": 1, "exit_code": 3},
        ],
    }
    job_id = submit(drfc_env, f"freeze-exception-{version}", sim)
    supervisors_on.job_ids.append(job_id)
    supervisors_on(inst, drfc_env)
    doc = ended(drfc_env, job_id)
    assert doc["state"] == "succeeded", doc["reason"]
    assert [a["outcome"] for a in doc["attempts"]] == ["stalled", "crashed", "succeeded"]
    # .finished is no proof: SageMaker's own exit code, through docker, says it failed
    assert jobs_store(drfc_env).store.head(f"models/{job_id}/attempt-2/model/.finished")
    crashed = [e for e in doc["events"] if e["event"] == "run.crashed"]
    assert "without evidence of success" in crashed[0]["reason"]
    assert "exit code 3" in crashed[0]["reason"]
    for n in (2, 3):
        attempt, prev = doc["attempts"][n - 1], doc["attempts"][n - 2]
        # the recorded pretrained checkpoint is the one DRfC made SageMaker load
        assert attempt["pretrained_checkpoint"] == prev["last_checkpoint"]
        recorded = f"{attempt['pretrained_prefix']}/{attempt['pretrained_checkpoint']}"
        assert loaded(drfc_env, job_id, n) == recorded
    assert doc["attempts"][2]["pretrained_checkpoint"] == "3_Step-3000.ckpt"
    # no iteration lost but the one in progress: 1 2 | 3 (4 unevaluated) | 4 5 6
    trained = [checkpoints_in(container_log(drfc_env, job_id, n)) for n in (1, 2, 3)]
    assert trained == [[1, 2], [3], [4, 5, 6]]
    assert_nothing_left(inst)


# one release (the newest): the spot path is the supervisor's, not DRfC's; both releases'
# start, stop and resume scripts run in the freeze-then-exception test above
@pytest.mark.parametrize("version", [VERSIONS[-1]])
def test_spot_notice_then_another_instance_resumes_through_a_reboot(
    version, instances, drfc_env, supervisors_on, tmp_path
) -> None:
    from tests.servers import FakeImds

    a, b = instances(version, "a"), instances(version, "b")
    imds = FakeImds("i-aaaa")
    try:
        # room on both instances: a slow poll of the test may see a far past 2 checkpoints,
        # and b must still be training when it loses power (24 were too few beside two CPU
        # burners: b finished the job first)
        sim = {"checkpoint_interval_s": 0.3, "checkpoints": 60}
        # HEAD_TO_BOT is a race type simapp trains: DRfC writes its bot-car settings
        job_id = submit(drfc_env, f"spot-{version}", sim, race_type="HEAD_TO_BOT")
        supervisors_on.job_ids.append(job_id)
        power = tmp_path / "a-power.log"
        sup_a = supervisors_on(
            a,
            drfc_env,
            name="a",
            PITSTOP_INSTANCE_ID=imds.instance_id,
            PITSTOP_IMDS_ENDPOINT=imds.endpoint,
            PITSTOP_SHUTDOWN_COMMAND=f"sh -c 'echo shutdown >> {power}'",
        )
        wait_for(lambda: _trained(drfc_env, job_id, 1) >= 2, 90, "2 checkpoints on a", interval=0.5)
        imds.notice("terminate")
        t0 = time.monotonic()
        wait_for(lambda: state_in(drfc_env, job_id, "preempted"), 30, "preempted", interval=0.2)
        assert time.monotonic() - t0 <= scaled(15)  # well within the 2-minute notice
        assert sup_a.wait(30) == 0 and power.read_text().split() == ["shutdown"]
        assert_nothing_left(a)  # SageMaker stopped with the stack: its GPU is free
    finally:
        imds.close()
    sup_b = supervisors_on(b, drfc_env, name="b", PITSTOP_INSTANCE_ID="i-bbbb")
    wait_for(lambda: _trained(drfc_env, job_id, 2) >= 2, 90, "2 checkpoints on b", interval=0.5)
    # b loses power: the supervisor and every container die; swarm keeps stack deepracer-0,
    # which makes dr-start-training refuse until it is stopped
    sup_b.kill(signal.SIGKILL)
    sup_b.wait()
    b.reboot()
    assert b.docker("stack", "ps", "deepracer-0").returncode == 0  # still there
    assert trainer_pids(job_id) == []
    supervisors_on(b, drfc_env, name="b-again", PITSTOP_INSTANCE_ID="i-bbbb")
    doc = ended(drfc_env, job_id)
    assert doc["state"] == "succeeded", doc["reason"]
    # neither the notice nor the reboot was the run's fault, and the old stack cost nothing
    assert [a["outcome"] for a in doc["attempts"]] == ["preempted", "interrupted", "succeeded"]
    assert doc["restarts"] == 0
    assert [a["instance_id"] for a in doc["attempts"]] == ["i-aaaa", "i-bbbb", "i-bbbb"]
    for n in (2, 3):
        attempt, prev = doc["attempts"][n - 1], doc["attempts"][n - 2]
        assert attempt["pretrained_checkpoint"] == prev["last_checkpoint"]
    # what each SageMaker loaded: attempt 2's exited container (b's supervisor died with the
    # instance) was kept by attempt 3 before it was removed
    jobs = jobs_store(drfc_env)
    second, third = doc["attempts"][1], doc["attempts"][2]
    kept = [k for k in jobs.logs(job_id) if k.endswith("attempt-3/earlier-containers.log")]
    text = jobs.store.get(kept[0]).body.decode()
    assert (
        f"loaded pretrained {second['pretrained_prefix']}/{second['pretrained_checkpoint']}" in text
    )
    assert (
        loaded(drfc_env, job_id, 3)
        == f"{third['pretrained_prefix']}/{third['pretrained_checkpoint']}"
    )
    params = jobs_store(drfc_env).store.get(f"models/{job_id}/attempt-3/training_params.yaml")
    text = params.body.decode()
    assert "'RACE_TYPE': 'HEAD_TO_BOT'" in text and "NUMBER_OF_BOT_CARS" in text, text
    assert_nothing_left(b)


def _trained(env: dict[str, str], job_id: str, n: int) -> int:
    """Trained checkpoints (not the initial one) in attempt ``n``'s model prefix."""
    keys = [i.key for i in jobs_store(env).store.list(f"models/{job_id}/attempt-{n}/model/")]
    return len([k for k in keys if re.search(r"/[1-9]\d*_Step-\d+\.ckpt\.index$", k)])


def test_a_job_directory_named_like_a_command_never_reaches_run_env(
    instances, drfc_env, supervisors_on, s3, bucket, tmp_path
) -> None:
    """Issue 13, path 1: ``jobs/x;touch${IFS}INJECTED;/`` would run as root through DRfC's
    ``eval export`` of run.env. It is reported and never claimed; a good job still runs."""
    import json

    inst = instances("v6.0.4")
    bad = "x;touch${IFS}INJECTED;"
    spec = {"id": "any", "name": "x", "submitted_at": "2020-01-01T00:00:00.000Z"}
    state = {"id": "any", "state": "pending", "created_at": "2020-01-01T00:00:00.000Z"}
    s3.put_object(Bucket=bucket, Key=f"pitstop/jobs/{bad}/spec.json", Body=json.dumps(spec))
    s3.put_object(Bucket=bucket, Key=f"pitstop/jobs/{bad}/state.json", Body=json.dumps(state))
    # a well-named directory whose spec names another job: never claimed either
    liar_spec, liar_state = {**spec, "id": "someone-else"}, {**state, "id": "liar-1"}
    s3.put_object(Bucket=bucket, Key="pitstop/jobs/liar-1/spec.json", Body=json.dumps(liar_spec))
    s3.put_object(Bucket=bucket, Key="pitstop/jobs/liar-1/state.json", Body=json.dumps(liar_state))
    good = submit(drfc_env, "drfc-good", {"checkpoint_interval_s": 0.3, "checkpoints": 2})
    supervisors_on.job_ids.append(good)
    sup = supervisors_on(inst, drfc_env)

    def injected() -> list[str]:
        return [str(p) for root in (inst.root, tmp_path) for p in root.rglob("INJECTED")]

    doc = ended(drfc_env, good)
    assert doc["state"] == "succeeded", doc["reason"]

    def judged() -> bool:  # the full scan (every lease TTL) lists the bad directories
        dirs = {e.get("job_dir") for e in sup.events() if e.get("event") == "job.invalid"}
        return bool(injected()) or {bad, "liar-1"} <= dirs

    wait_for(judged, 30, "the bad job directories to be judged")
    assert injected() == []
    reported = {e["job_dir"]: e["reason"] for e in sup.events() if e.get("event") == "job.invalid"}
    assert "not a valid job id" in reported[bad] and "'someone-else'" in reported["liar-1"]
    run_env = (inst.drfc_home / "run.env").read_text()
    assert "INJECTED" not in run_env and "liar-1" not in run_env and good in run_env
    objs = s3.list_objects_v2(Bucket=bucket, Prefix="pitstop/jobs/liar-1/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[-1] for o in objs) == ["spec.json", "state.json"]
