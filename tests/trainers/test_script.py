"""The script backend: run.sh fetched from the configured bucket, the attempt in PITSTOP_* vars."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pitstop.errors import TrainerError
from pitstop.store.jobs import JobSpec
from pitstop.store.layout import Layout
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.script import ScriptTrainer
from tests.e2e.harness import FAST, jobs_store, submit, supervise_until_ended

RUN_SH = """#!/usr/bin/env bash
echo "attempt=$PITSTOP_ATTEMPT model=$PITSTOP_MODEL_PREFIX pretrained=$PITSTOP_PRETRAINED_PREFIX/$PITSTOP_PRETRAINED_CHECKPOINT bucket=$PITSTOP_BUCKET"
exec "$PYTHON" -m pitstop.trainers.simulated_run
"""


@pytest.mark.parametrize(
    "key", ["elsewhere/run.sh", "pitstop/../x.sh", "s3://other-bucket/pitstop/run.sh"]
)
def test_run_script_must_live_under_the_prefix(key: str, tmp_path: Path) -> None:
    spec = JobSpec(id="j", name="j", submitted_at="t", run_script=key)
    plan = AttemptPlan("j", 1, spec, "m/1", None, None, "b-1", "us-east-1", None, "p/", tmp_path)
    with pytest.raises(TrainerError, match="must be a key under pitstop/"):
        ScriptTrainer(store=None, layout=Layout("pitstop")).script_key(plan)  # type: ignore[arg-type]


@pytest.mark.e2e
def test_script_trainer_resumes_from_checkpoint(
    settings_env: dict[str, str], s3, bucket: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="pitstop/scripts/run.sh", Body=RUN_SH.encode())
    env = {**settings_env, **FAST, "PITSTOP_TRAINER": "script", "PYTHON": sys.executable}
    sim = {
        "checkpoint_interval_s": 0.2,
        "checkpoints": 4,
        "faults": [{"kind": "crash", "attempt": 1, "after_checkpoint": 2}],
    }
    job_id = submit(env, "scripted", sim)
    doc = supervise_until_ended(env, job_id, tmp_path / "sup.log")
    assert doc["state"] == "succeeded" and [a["outcome"] for a in doc["attempts"]] == [
        "crashed",
        "succeeded",
    ]
    jobs = jobs_store(env)
    log2 = next(k for k in jobs.logs(job_id) if "attempt-2-" in k)
    first_line = jobs.store.get(log2).body.decode().splitlines()[0]
    assert first_line == (
        f"attempt=2 model=models/{job_id}/attempt-2 "
        f"pretrained=models/{job_id}/attempt-1/2_Step-2000.ckpt bucket={bucket}"
    )


@pytest.mark.e2e
def test_missing_run_script_is_a_failed_start(settings_env: dict[str, str], tmp_path: Path) -> None:
    env = {**settings_env, **FAST, "PITSTOP_TRAINER": "script", "PITSTOP_MAX_RESTARTS": "1"}
    job_id = submit(env, "no-script", {"checkpoints": 2})
    doc = supervise_until_ended(env, job_id, tmp_path / "sup.log")
    assert doc["state"] == "failed"
    crashed = [e for e in doc["events"] if e["event"] == "run.crashed"]
    assert any("no run script at s3://" in (e.get("reason") or "") for e in crashed)
