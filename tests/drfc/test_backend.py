"""pitstop's DRfC backend against the real scripts, one behaviour at a time (``drive.py``).

Each test runs the backend in an emulated instance's namespace, as the unit would, and
checks what Docker (the stand-in) and the logs say afterwards.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.drfc.sandbox import Instance, drive
from tests.e2e.harness import submit

pytestmark = pytest.mark.e2e

V5, V6 = "v5.3.3", "v6.0.4"
SIM = {"checkpoint_interval_s": 0.3, "checkpoints": 200}


def _text(paths: list[str]) -> str:
    return "".join(Path(p).read_text(errors="replace") for p in paths if Path(p).exists())


def test_sourcing_v6_activate_under_set_e_fails_silently_and_the_backend_does_not(
    instances, drfc_env, tmp_path: Path
) -> None:
    inst = instances(V6)
    # what DRfC v6 does (the reason for the backend's way): `set -e; source` exits 1, no word
    inst.sh("sed -i 's/^DR_CLOUD=.*/DR_CLOUD=aws/' system.env")  # as pitstop sets it
    r = inst.sh("set -e; source bin/activate.sh >/dev/null; echo defined")
    assert r.returncode == 1 and "defined" not in r.stdout and r.stderr.strip() == ""
    r = inst.sh("source bin/activate.sh >/dev/null; declare -F dr-start-training")
    assert r.returncode == 0 and "dr-start-training" in r.stdout
    # an activation that does define nothing (no run.env) is one clear line, and exit 90
    (inst.drfc_home / "run.env").unlink()
    (inst.drfc_home / "system.env").unlink()
    job_id = submit(drfc_env, "no-config", SIM)
    # (the backend writes run.env/system.env itself: break activate.sh's reading of them)
    (inst.drfc_home / "bin" / "activate.sh").write_text(
        "echo 'File run.env does not exist.'\nreturn 1\n"
    )
    _, exited, logs = drive(inst, drfc_env, job_id, [["start"], ["wait_exited", 60]])
    assert exited == [True, 90]
    log = _text(logs)
    assert "File run.env does not exist." in log
    assert "did not define the dr-* commands" in log


def test_status_follows_sagemaker_and_stop_leaves_no_sagemaker_behind(instances, drfc_env) -> None:
    # the supervisor with a private /tmp (PrivateTmp=true, as the unit once had): the host's
    # /tmp/sagemaker exists (bin/init.sh made it at boot), so SageMaker starts, but
    # dr-stop-training looks for it in the wrong /tmp and cannot stop it
    # (v5.3.3: its activate.sh works even under set -e, so only this defect shows)
    inst = instances(V5, private_tmp=True)
    job_id = submit(drfc_env, "leak", SIM)
    steps = [
        ["start"],
        ["wait_sagemaker", 60],
        # the stack goes (rl_coach, robomaker); SageMaker trains on, outside the stack
        ["sh", "docker stack rm deepracer-0"],
        ["wait_gone", "deepracer-0_", 30],
        ["status"],
        ["stop", 5],
    ]
    _, sagemaker_up, _, gone, status, stopped, logs = drive(inst, drfc_env, job_id, steps)
    assert sagemaker_up and gone
    assert status == ["running", None]  # SageMaker is the trainer: still running
    assert stopped is True
    assert inst.sagemaker(running=True) == []  # its GPU memory is free
    assert "SageMaker still running after dr-stop-training" in _text(logs)


def test_a_task_swarm_rejects_is_a_crash_with_swarms_reason(instances, drfc_env) -> None:
    # a boot emptied the host's /tmp and the supervisor's /tmp is private: dr-start-training
    # creates /tmp/sagemaker where Docker does not look, and swarm will not create it
    inst = instances(V5, private_tmp=True)
    inst.reboot()
    job_id = submit(drfc_env, "rejected", SIM)
    _, exited, logs = drive(inst, drfc_env, job_id, [["start"], ["wait_exited", 60]])
    assert exited == [True, None]
    log = _text(logs)
    assert "rl_coach.1: rejected" in log
    assert "bind source path does not exist: /tmp/sagemaker" in log
    assert inst.sagemaker() == []


def test_the_standin_refuses_calls_it_does_not_model(instances) -> None:
    inst = instances(V6, init=False)
    r = inst.docker("buildx", "build", "-t", "local/gputest", "-")
    assert r.returncode == 125 and "unsupported call: docker buildx build" in r.stderr
    assert inst.unsupported() == [r.stderr.strip()]
    (inst.docker_state / "unsupported.log").unlink()  # (or the fixture fails this test)
    r = subprocess.run(
        ["service", "nginx", "restart"], env=inst.env(), capture_output=True, text=True
    )
    assert r.returncode == 125
    (inst.docker_state / "unsupported.log").unlink()


def test_swarm_refuses_to_deploy_onto_a_live_stack(instances, drfc_env) -> None:
    inst: Instance = instances(V5)
    job_id = submit(drfc_env, "twice", SIM)
    drive(inst, drfc_env, job_id, [["start"], ["wait_sagemaker", 60]])
    # DRfC's own guard: dr-start-training refuses while stack deepracer-0 has tasks
    r = inst.sh("source bin/activate.sh >/dev/null 2>&1; dr-start-training -q")
    assert r.returncode == 1 and "Processes running in stack deepracer-0" in r.stdout
