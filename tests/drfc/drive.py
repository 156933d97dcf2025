"""Drive pitstop's DRfC backend step by step, inside an instance's namespace.

``python -m tests.drfc.drive SCRIPT.json`` with the instance's environment (``Instance.sh``,
``PITSTOP_*`` settings included). SCRIPT: ``{"job_id": ..., "steps": [...]}`` (a first attempt);
each step is a list: ``["start"]``, ``["status"]``, ``["stop", timeout_s]``,
``["wait_sagemaker", timeout_s]`` (until a SageMaker container runs), ``["wait_exited",
timeout_s]`` (until ``status()`` says EXITED), ``["sh", "command"]``, ``["wait_gone", pattern,
timeout_s]`` (until no running container's name contains it), ``["stage"]`` (an evaluation
job: copy its checkpoint into the attempt's prefix, as the supervisor does before a start).
One JSON line per step on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pitstop.config import load_settings
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, model_prefix
from pitstop.store.objects import S3Store
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.drfc import DrfcTrainer


def main() -> int:
    script = json.loads(Path(sys.argv[1]).read_text())
    settings = load_settings(None)
    store = S3Store.from_settings(settings)
    layout = Layout(settings.prefix)
    job_id, n = script["job_id"], 1  # a first attempt: nothing pretrained
    plan = AttemptPlan(
        job_id=job_id,
        attempt=n,
        spec=JobStore(store, layout).spec(job_id),
        model_prefix=model_prefix(job_id, n),
        pretrained_prefix=None,
        pretrained_checkpoint=None,
        bucket=settings.bucket,
        region=settings.region,
        endpoint_url=settings.s3_endpoint_url,
        custom_files_prefix=layout.custom_files(job_id),
        work_dir=Path(settings.state_dir) / "jobs" / job_id,
    )
    trainer = DrfcTrainer(settings, store, layout)
    for step in script["steps"]:
        what, args = step[0], step[1:]
        result: Any
        if what == "start":
            result = trainer.start(plan)
        elif what == "stage":
            from pitstop.evaluation.staging import stage

            assert plan.spec.evaluation is not None, "stage: not an evaluation job"
            result = stage(store, plan.spec.evaluation, plan.model_prefix)
        elif what == "status":
            state, code = trainer.status()
            result = [state.value, code]
        elif what == "stop":
            result = trainer.stop(float(args[0]))
        elif what == "wait_sagemaker":
            result = _until(lambda: _running("-algo-"), args[0])
        elif what == "wait_exited":
            result = _until(lambda: trainer.status()[0].value == "exited", args[0])
            result = [result, trainer.status()[1]]
        elif what == "wait_gone":
            result = _until(lambda p=args[0]: not _running(p), args[1])
        elif what == "sh":
            result = subprocess.run(args[0], shell=True, capture_output=True, text=True).returncode
        else:
            raise SystemExit(f"unknown step {what!r}")
        print(json.dumps({"step": what, "result": result}), flush=True)
    print(json.dumps({"step": "logs", "result": [str(p) for p in trainer.log_files()]}), flush=True)
    return 0


def _running(pattern: str) -> bool:
    """A running container whose name contains ``pattern`` (docker ps, not the backend's view)."""
    r = subprocess.run(["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True)
    return any(pattern in name for name in r.stdout.split())


def _until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + float(timeout)
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


if __name__ == "__main__":
    sys.exit(main())
