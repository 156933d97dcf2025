"""The script backend: run.sh fetched from the configured bucket, the attempt in PITSTOP_* vars."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pitstop.core.records import JobSpec
from pitstop.errors import NotFound, RunScriptRefused, TrainerError
from pitstop.store.layout import Layout
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.script import ScriptTrainer
from tests.e2e.harness import FAST, jobs_store, submit, supervise_until_ended

RUN_SH = """#!/usr/bin/env bash
echo "attempt=$PITSTOP_ATTEMPT model=$PITSTOP_MODEL_PREFIX pretrained=$PITSTOP_PRETRAINED_PREFIX/$PITSTOP_PRETRAINED_CHECKPOINT bucket=$PITSTOP_BUCKET"
exec "$PYTHON" -m pitstop.trainers.simulated_run
"""


@pytest.mark.parametrize(
    "key",
    [
        "pitstop/inbox/processed/payload-0123456789/run.sh",  # a rejected drop, kept
        "pitstop/inbox/run.sh",
        "pitstop/jobs/j/custom_files/run.sh",
        "pitstop/run.sh",
        "elsewhere/run.sh",
        "pitstop/../x.sh",
        "pitstop/scripts/../inbox/run.sh",
        "pitstop/scripts/sub/run.sh",
        "pitstop/scripts/",
        "s3://other-bucket/pitstop/scripts/run.sh",
        "other/scripts/run.sh",
    ],
)
def test_run_script_must_live_under_scripts(key: str, tmp_path: Path) -> None:
    # model_construct: a spec as someone could write it by hand, past every intake check
    spec = JobSpec.model_construct(id="j", name="j", submitted_at="t", run_script=key)
    plan = AttemptPlan("j", 1, spec, "m/1", None, None, "b-1", "us-east-1", None, "p/", tmp_path)
    with pytest.raises(RunScriptRefused, match=r"only from s3://b-1/pitstop/scripts/") as e:
        ScriptTrainer(store=None, layout=Layout("pitstop")).script_key(plan)  # type: ignore[arg-type]
    assert isinstance(e.value, TrainerError) and "\n" not in str(e.value)


@pytest.mark.parametrize("key", [None, "pitstop/scripts/run.sh", "pitstop/scripts/train-v2.sh"])
def test_run_scripts_under_scripts_are_accepted(key: str | None, tmp_path: Path) -> None:
    spec = JobSpec(id="j", name="j", submitted_at="t", run_script=key)
    plan = AttemptPlan("j", 1, spec, "m/1", None, None, "b-1", "us-east-1", None, "p/", tmp_path)
    got = ScriptTrainer(store=None, layout=Layout("pitstop")).script_key(plan)  # type: ignore[arg-type]
    assert got == (key or "pitstop/scripts/run.sh")


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
    log2 = next(k for k in jobs.logs(job_id) if jobs.layout.parse_log_name(k) == (2, "trainer.log"))
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


@pytest.mark.e2e
def test_a_run_script_dropped_in_the_inbox_is_never_run(
    settings_env: dict[str, str], s3, bucket: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Issue 13, path 2: a rejected drop's run.sh is kept under inbox/processed/; a second drop
    naming that key as its run_script must be rejected, and the script never run."""
    from tests.e2e.harness import REWARD, SupervisorProc, job_in
    from tests.helpers import wait_for

    marker = tmp_path / "RAN-AS-ROOT"
    env = {**settings_env, **FAST, "PITSTOP_TRAINER": "script", "PITSTOP_MAX_RESTARTS": "0"}
    s3.put_object(
        Bucket=bucket, Key="pitstop/inbox/payload/run.sh", Body=f"touch {marker}\n".encode()
    )
    jobs = jobs_store(env)
    sup = SupervisorProc(env, tmp_path / "sup.log").start()
    try:

        def kept() -> str | None:
            for o in s3.list_objects_v2(Bucket=bucket, Prefix="pitstop/inbox/processed/").get(
                "Contents", []
            ):
                if o["Key"].endswith("/run.sh"):
                    return str(o["Key"])
            return None

        payload_key = wait_for(kept, 30, "the first drop to be rejected and kept")
        job = json.dumps({"run_script": payload_key, "simulation": {"checkpoints": 2}})
        s3.put_object(Bucket=bucket, Key="pitstop/inbox/second/job.json", Body=job.encode())
        s3.put_object(Bucket=bucket, Key="pitstop/inbox/second/reward_function.py", Body=REWARD)

        def second() -> dict | None:  # type: ignore[type-arg]
            ids = [j for j in jobs.job_ids() if j.startswith("second-")]
            try:
                return job_in(env, ids[0]) if ids else None
            except NotFound:  # listed between its spec and its state being written
                return None

        doc = wait_for(lambda: marker.exists() or second(), 60, "the second drop to be judged")
    finally:
        sup.close()
    assert not marker.exists(), "the dropped run.sh ran"
    assert isinstance(doc, dict) and doc["state"] == "rejected", doc
    reason = doc["reason"]
    assert "run_script" in reason and payload_key in reason and "\n" not in reason
    assert f"s3://{bucket}/pitstop/scripts/" in reason
    assert doc["attempts"] == []
