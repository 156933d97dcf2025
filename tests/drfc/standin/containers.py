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
- ``robomaker_eval`` (``evaluation.launch``, ``dr-start-evaluation``): simapp's evaluation
  worker. It reads the evaluation yaml DRfC's ``prepare-config.py`` uploaded
  (``MODEL_S3_PREFIX/S3_YAML_NAME``), loads ``EVAL_CHECKPOINT`` from the model's
  ``deepracer_checkpoints.json`` and its ``model_metadata.json``, drives ``NUMBER_OF_TRIALS``
  laps (pitstop's lap model), rewriting ``METRICS_S3_OBJECT_KEY`` after each lap (simapp's
  evaluation metrics rows), writes the simtrace under ``SIMTRACE_S3_PREFIX`` at the end and
  exits 0, as simapp's evaluation launch does (its agent node ends the launch).
- ``coach_idle`` (the evaluation stack's rl_coach: ``echo No work for coach``): exits 0.

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


def coach_idle() -> int:
    _say("No work for coach in Evaluation Mode")
    return 0


def robomaker_eval() -> int:
    import random
    import time

    import boto3
    import yaml

    from pitstop.core.records import Simulation
    from pitstop.evaluation.laps import LAP_COMPLETE, simulate
    from pitstop.evaluation.results import metrics_doc
    from pitstop.trainers import simapp_files as simapp

    e = os.environ
    bucket, prefix = e["MODEL_S3_BUCKET"], e["MODEL_S3_PREFIX"].rstrip("/")
    endpoint = e.get("S3_ENDPOINT_URL") or e.get("AWS_ENDPOINT_URL") or None
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=e.get("APP_REGION") or None)

    def read(key: str) -> bytes | None:
        try:
            return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    params_key = f"{prefix}/{e.get('S3_YAML_NAME') or 'eval_params.yaml'}"
    raw = read(params_key)
    if raw is None:
        _say(f"robomaker: no evaluation parameters at s3://{bucket}/{params_key}")
        return 1
    params = yaml.safe_load(raw)
    which = str(params.get("EVAL_CHECKPOINT", "last"))
    ckpts = read(f"{prefix}/model/deepracer_checkpoints.json")
    metadata = read(f"{prefix}/model/model_metadata.json")
    if ckpts is None or metadata is None:
        _say(f"robomaker: no checkpoint or model_metadata.json in s3://{bucket}/{prefix}/model")
        return 1
    name = json.loads(ckpts)[f"{which}_checkpoint"]["name"]
    meta = json.loads(metadata)
    actions = simapp.actions_of(meta)
    speeds = [s for _, s in actions.discrete] or list(actions.speed)
    world = str(params.get("WORLD_NAME") or e.get("WORLD_NAME") or "reInvent2019_track")
    trials = int(params["NUMBER_OF_TRIALS"])
    laps = simulate(
        world,
        speeds,
        trials,
        seed=e.get("PITSTOP_JOB_ID") or prefix,
        penalty_s=float(params.get("OFF_TRACK_PENALTY", 5.0)),
        max_resets=int(params.get("NUMBER_OF_RESETS", 100)),
    )
    pace = Simulation.model_validate_json(e.get("PITSTOP_SIMULATION") or "{}").checkpoint_interval_s
    metrics_key = params["METRICS_S3_OBJECT_KEY"][0]
    _say(f"robomaker: evaluating {name} of s3://{bucket}/{prefix} on {world}: {trials} laps")
    started_ms = int(time.time() * 1000)
    for i in range(len(laps)):
        time.sleep(pace)
        body = json.dumps(metrics_doc(laps[: i + 1], started_ms)).encode()
        s3.put_object(Bucket=params["METRICS_S3_BUCKET"][0], Key=metrics_key, Body=body)
        _say(f"robomaker: lap {i + 1}: {laps[i].time_ms} ms, {laps[i].status}")
    runs = [
        simapp.LapRun(x.time_ms, x.completion, x.off_tracks, x.status == LAP_COMPLETE) for x in laps
    ]
    trace = simapp.evaluation_trace(
        simapp.load_course(world),
        actions,
        random.Random(f"{prefix}/trace"),
        runs,
        start_ms=0,
        wall=time.time,
    )
    trace_key = f"{params['SIMTRACE_S3_PREFIX'][0]}/evaluation-simtrace/0-iteration.csv"
    s3.put_object(
        Bucket=params["SIMTRACE_S3_BUCKET"][0],
        Key=trace_key,
        Body=simapp.simtrace_csv(trace).encode(),
    )
    _say("robomaker: evaluation finished")
    return 0


if __name__ == "__main__":
    roles = {
        "rl_coach": rl_coach,
        "sagemaker": sagemaker,
        "robomaker": robomaker,
        "robomaker_eval": robomaker_eval,
        "coach_idle": coach_idle,
    }
    sys.exit(roles[sys.argv[1]]())
