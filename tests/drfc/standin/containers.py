"""What the docker stand-in's containers run: ``python containers.py ROLE``.

- ``rl_coach`` (simapp image, ``rl_coach/start.py``): like SageMaker's local mode, it writes
  ``/tmp/sagemaker/tmpXXXXXXXX/docker-compose.yaml`` (through its bind mount, i.e. on the
  host) with one service ``algo-1-xxxxx`` whose environment carries ``RUN_ID`` and the model
  prefix (what ``dr-stop-training`` greps for), runs ``docker compose -f FILE up`` through
  the docker socket and exits when that container does (0 if it succeeded, else 1).
- ``sagemaker`` (``train``): pitstop's simulated trainer, told where to write by the
  environment rl_coach gave it (``MODEL_S3_PREFIX``, ``PRETRAINED*``, ...): simapp's layout
  and semantics (REFERENCE.md section 1).
- ``robomaker`` (``distributed_training.launch``): runs until it is stopped.

Test code, standing in for images this machine cannot run.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import string
import subprocess
import sys
from pathlib import Path

SAGEMAKER_KEYS = (
    "RUN_ID",
    "AWS_REGION",
    "MODEL_S3_BUCKET",
    "MODEL_S3_PREFIX",
    "PRETRAINED",
    "PRETRAINED_S3_BUCKET",
    "PRETRAINED_S3_PREFIX",
    "PRETRAINED_CHECKPOINT",
    "HYPERPARAMETER_FILE_S3_KEY",
    "MODELMETADATA_FILE_S3_KEY",
    "S3_ENDPOINT_URL",
)


def _say(msg: str) -> None:
    print(msg, flush=True)


def rl_coach() -> int:
    binds = json.loads(os.environ.get("STANDIN_BINDS", "{}"))
    if "/tmp/sagemaker" not in binds:
        _say("rl_coach: /tmp/sagemaker is not mounted; SageMaker local mode cannot start")
        return 1
    alphabet = string.ascii_lowercase + string.digits
    tmpname = "tmp" + "".join(secrets.choice(alphabet) for _ in range(8))
    service = "algo-1-" + "".join(secrets.choice(alphabet) for _ in range(5))
    root = Path(binds["/tmp/sagemaker"]) / tmpname
    (root / service / "output").mkdir(parents=True)
    env = [f"{k}={os.environ[k]}" for k in SAGEMAKER_KEYS if os.environ.get(k)]
    lines = [
        "version: '2.3'",
        "services:",
        f"  {service}:",
        f"    image: {os.environ['SAGEMAKER_IMAGE']}",
        f"    container_name: {tmpname}-{service}",
        "    command: train",
        "    environment:",
        *[f"    - {json.dumps(e)}" for e in env],
        "    volumes:",
        f"    - /tmp/sagemaker/{tmpname}/{service}/output:/opt/ml/output",
        "    networks:",
        "      sagemaker-local:",
        f"        aliases: [{service}]",
        "networks:",
        "  sagemaker-local:",
        "    external: true",
        "    name: sagemaker-local",
    ]
    compose = root / "docker-compose.yaml"
    compose.write_text("\n".join(lines) + "\n")
    _say(f"rl_coach: starting SageMaker ({compose})")
    # the docker client runs in this container: it reads the file through the bind mount
    docker = os.environ["STANDIN_DOCKER"]
    up = [docker, "compose", "-f", str(compose), "up", "--abort-on-container-exit"]
    code = subprocess.run(up).returncode
    _say(f"rl_coach: SageMaker ended with code {code}")
    return 0 if code == 0 else 1


def sagemaker() -> int:
    e = os.environ
    pretrained = e.get("PRETRAINED", "").lower() == "true"
    hyper = e.get("HYPERPARAMETER_FILE_S3_KEY", "")
    env = {
        **e,
        "PITSTOP_MODEL_PREFIX": e["MODEL_S3_PREFIX"],
        "PITSTOP_BUCKET": e["MODEL_S3_BUCKET"],
        "PITSTOP_REGION": e.get("AWS_REGION", ""),
        "PITSTOP_S3_ENDPOINT_URL": e.get("S3_ENDPOINT_URL") or e.get("AWS_ENDPOINT_URL", ""),
        "PITSTOP_PRETRAINED_PREFIX": e.get("PRETRAINED_S3_PREFIX", "") if pretrained else "",
        "PITSTOP_PRETRAINED_CHECKPOINT": e.get("PRETRAINED_CHECKPOINT", "") if pretrained else "",
        "PITSTOP_CUSTOM_FILES_PREFIX": hyper.rsplit("/", 1)[0] + "/" if "/" in hyper else "",
        # pitstop's attempt n trains into .../attempt-n; anything else is a first attempt
        "PITSTOP_ATTEMPT": e.get("PITSTOP_ATTEMPT") or _attempt(e["MODEL_S3_PREFIX"]),
        "PITSTOP_JOB_ID": e.get("PITSTOP_JOB_ID") or "standalone",
    }
    os.execve(sys.executable, [sys.executable, "-m", "pitstop.trainers.simulated_run"], env)
    return 1  # pragma: no cover


def _attempt(prefix: str) -> str:
    tail = prefix.rstrip("/").rsplit("/", 1)[-1]
    return tail.removeprefix("attempt-") if tail.startswith("attempt-") else "1"


def robomaker() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _say("robomaker: simulating")
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit({"rl_coach": rl_coach, "sagemaker": sagemaker, "robomaker": robomaker}[sys.argv[1]]())
