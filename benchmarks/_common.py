"""What the benchmark scripts share: a bucket of jobs, settings for a supervisor, starting one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

from pitstop.intake import Submission, build_spec, defaults  # noqa: E402
from pitstop.store.jobs import JobStore  # noqa: E402
from pitstop.store.layout import Layout  # noqa: E402
from pitstop.store.objects import S3Store  # noqa: E402

REWARD = b"def reward_function(params):\n    return 1.0\n"


def make_jobs(
    endpoint: str, bucket: str, n: int, simulation: dict[str, object] | None = None
) -> tuple[JobStore, list[str]]:
    """A new bucket holding ``n`` pending jobs (distinct content, so distinct ids)."""
    store = S3Store(bucket, region="us-east-1", endpoint_url=endpoint)
    store._s3.create_bucket(Bucket=bucket)
    jobs = JobStore(store, Layout("pitstop"))
    ids = []
    for i in range(n):
        sub = Submission(
            name=f"job{i:03d}",
            files={"reward_function.py": REWARD + f"#{i}".encode(), **defaults()},
            fields={"simulation": simulation} if simulation else {},
        )
        spec = build_spec(sub)
        jobs.create(spec, sub.files)
        ids.append(spec.id)
    return jobs, ids


def supervisor_env(endpoint: str, bucket: str, state_dir: Path, **settings: str) -> dict[str, str]:
    """Environment for a simulated-trainer supervisor that can never stop this machine."""
    env = {
        **os.environ,
        "PITSTOP_BUCKET": bucket,
        "PITSTOP_S3_ENDPOINT_URL": endpoint,
        "PITSTOP_TRAINER": "simulated",
        "PITSTOP_STATE_DIR": str(state_dir),
        "PITSTOP_INSTANCE_ID": "i-bench",
        "PITSTOP_IMDS_ENDPOINT": "http://127.0.0.1:9",
        "PITSTOP_REBOOT_COMMAND": "true",
        "PITSTOP_SHUTDOWN_COMMAND": "true",
    }
    env.update({f"PITSTOP_{k.upper()}": v for k, v in settings.items()})
    return env


def start_supervisor(env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    out = log.open("wb") if log else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "pitstop.cli.main", "supervise", "--log-format", "json"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
