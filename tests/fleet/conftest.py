"""Fixtures of the fleet tests: AWS clients on moto's server, an AMI in SSM, a real sshd."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from pitstop.config import Settings, load_settings
from pitstop.core.records import Attempt, JobStatus
from pitstop.core.states import JobState
from pitstop.fleet.aws import AwsClients
from pitstop.store.layout import ModelKeys
from tests.e2e.harness import jobs_store, submit
from tests.servers import MotoServer, free_port, wait_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@pytest.fixture
def aws(moto_server: MotoServer) -> AwsClients:
    return AwsClients(region="us-east-1", endpoint_url=moto_server.endpoint)


@pytest.fixture
def fleet_name() -> str:
    return f"fleet-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ami(aws: AwsClients) -> str:
    """A registered AMI published under /pitstop/ami-id, as `pitstop image build` leaves it."""
    images = aws.ec2.describe_images(Owners=["amazon"])["Images"]
    image = next(i for i in images if i.get("RootDeviceName"))
    aws.ssm.put_parameter(
        Name="/pitstop/ami-id", Value=image["ImageId"], Type="String", Overwrite=True
    )
    return str(image["ImageId"])


@pytest.fixture
def settings(settings_env: dict[str, str]) -> Settings:
    return load_settings(None)


@dataclass
class Sshd:
    port: int
    host_key: Path
    user_key: Path
    user: str
    proc: subprocess.Popen[bytes]
    dir: Path


def _keygen(path: Path, kind: str = "ed25519") -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)


def start_sshd(tmp: Path, host_key: Path | None = None) -> Sshd:
    tmp.mkdir(parents=True, exist_ok=True)
    if host_key is None:
        host_key = tmp / "host_ed25519"
        _keygen(host_key)
    user_key = tmp / "user_ed25519"
    if not user_key.exists():
        _keygen(user_key)
    auth = tmp / "authorized_keys"
    auth.write_text((tmp / "user_ed25519.pub").read_text())
    auth.chmod(0o600)
    port = free_port()
    cfg = tmp / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {auth}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        f"PidFile {tmp / 'sshd.pid'}\nMaxStartups 50\nMaxSessions 50\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    with (tmp / "sshd.log").open("wb") as log:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stderr=log)
    wait_port(port, 10)
    import getpass

    return Sshd(port, host_key, user_key, getpass.getuser(), proc, tmp)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    if not os.path.exists(SSHD):
        pytest.skip("sshd is not installed (apt-get install openssh-server)")
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.proc.terminate()
    server.proc.wait(10)


@pytest.fixture
def ec2_client(moto_server: MotoServer):  # type: ignore[no-untyped-def]
    return boto3.client("ec2", endpoint_url=moto_server.endpoint, region_name="us-east-1")


def _metrics(n_episodes: int, start: float) -> bytes:
    return json.dumps(
        {
            "version": 2.0,
            "best_model_metric": "progress",
            "metrics": [
                {
                    "reward_score": start + 3 * i,
                    "phase": "evaluation" if i % 5 == 4 else "training",
                    "completion_percentage": min(100, 5 * i + start / 10),
                    "episode": i,
                    "trial": 1,
                    "metric_time": 0,
                    "start_time": 0,
                    "elapsed_time_in_milliseconds": 1,
                    "episode_status": "x",
                }
                for i in range(n_episodes)
            ],
        }
    ).encode()


@pytest.fixture
def history(settings_env: dict[str, str]) -> str:
    """A job with three attempts: crashed, preempted, running; metrics in each prefix."""
    jobs = jobs_store(settings_env)
    job_id = submit(settings_env, "curvy", {"checkpoints": 3}, max_hours=4)
    outcomes = [
        ("crashed", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"),
        ("preempted", "2026-01-01T11:05:00Z", "2026-01-01T12:05:00Z"),
        (None, "2026-01-01T12:10:00Z", None),
    ]
    attempts = []
    for n, (outcome, start, end) in enumerate(outcomes, 1):
        a = Attempt(
            n=n,
            instance_id="i-abc",
            model_prefix=f"models/{job_id}/attempt-{n}",
            started_at=start,
            ended_at=end,
            outcome=outcome or "running",
            last_checkpoint=f"{n * 4}_Step-{n * 400}.ckpt",
            training_s=3600.0 if end else 0.0,
        )
        attempts.append(a)
        jobs.store.put(ModelKeys(a.model_prefix).metrics, _metrics(30, 10.0 * n))

    def change(s: JobStatus) -> JobStatus:
        s.attempts, s.state, s.instance_id, s.restarts = attempts, JobState.RUNNING, "i-abc", 1
        return s

    jobs.update(job_id, change)
    jobs.event(job_id, "run.crashed", attempt=1, state="restarting", reason="exit 3")
    jobs.event(job_id, "run.preempted", attempt=2, state="preempted", reason="spot notice")
    jobs.put_log(job_id, "attempt-1-trainer.log", b"loading\ncheckpoint 1\n")
    return job_id
