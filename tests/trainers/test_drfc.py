"""The DRfC backend against a fake DRfC tree: dr-* functions that record their calls and
start the simulated trainer; a fake ``docker`` that lists the stack while it runs."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from pitstop.store.jobs import JobSpec, Simulation
from pitstop.store.layout import model_prefix
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.drfc import merge_env, render_env_files
from tests.e2e.harness import submit

FAKE = Path(__file__).parent / "fake_drfc"
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def drfc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "deepracer-for-cloud"
    shutil.copytree(FAKE, home)
    (home / "system.env").write_text(
        "DR_CLOUD=local\nDR_DOCKER_STYLE=compose\nDR_SIMAPP_VERSION=5.3.3-gpu\n"
    )
    (home / "run.env").write_text(
        "DR_RUN_ID=0\nDR_WORLD_NAME=reInvent2019_track\nDR_EVAL_NUMBER_OF_TRIALS=3\n"
    )
    monkeypatch.setenv("PATH", f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHON", sys.executable)
    monkeypatch.setenv("DR_DIR", str(home))
    return home


def plan(tmp_path: Path, attempt: int = 2) -> AttemptPlan:
    spec = JobSpec(
        id="oval-abc123",
        name="oval",
        submitted_at="2026-11-21T00:00:00Z",
        world="Oval_track",
        simulation=Simulation(),
    )
    return AttemptPlan(
        job_id=spec.id,
        attempt=attempt,
        spec=spec,
        model_prefix=model_prefix(spec.id, attempt),
        pretrained_prefix=model_prefix(spec.id, attempt - 1),
        pretrained_checkpoint="4_Step-4000.ckpt",
        bucket="my-bucket",
        region="eu-west-1",
        endpoint_url=None,
        custom_files_prefix="pitstop/jobs/oval-abc123/custom_files/",
        work_dir=tmp_path,
    )


def test_rendered_env_files_match_golden(tmp_path: Path) -> None:
    files = render_env_files(plan(tmp_path))
    for name, text in files.items():
        golden = GOLDEN / f"{name}.golden"
        if os.environ.get("PITSTOP_UPDATE_GOLDEN"):
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), (
            f"{name} differs from {golden} (PITSTOP_UPDATE_GOLDEN=1 rewrites it)"
        )


def test_merge_keeps_user_lines_and_replaces_managed_keys() -> None:
    merged = merge_env(
        "DR_WORLD_NAME=old\nDR_EVAL_NUMBER_OF_TRIALS=3\n# comment\n",
        "DR_WORLD_NAME=new\nDR_LOCAL_S3_MODEL_PREFIX=m/1\n",
    )
    assert merged.splitlines() == [
        "DR_WORLD_NAME=new",
        "DR_EVAL_NUMBER_OF_TRIALS=3",
        "# comment",
        "# --- pitstop ---",
        "DR_LOCAL_S3_MODEL_PREFIX=m/1",
    ]


def test_values_with_spaces_are_refused(tmp_path: Path) -> None:
    from pitstop.errors import TrainerError

    p = plan(tmp_path)
    bad = AttemptPlan(**{**p.__dict__, "custom_files_prefix": "pitstop/jobs/a b/"})
    with pytest.raises(TrainerError, match="DR_LOCAL_S3_CUSTOM_FILES_PREFIX='pitstop/jobs/a b'"):
        render_env_files(bad)


@pytest.mark.e2e
def test_supervisor_drives_drfc_through_a_crash(
    drfc_home: Path, settings_env: dict[str, str], tmp_path: Path
) -> None:
    from tests.e2e.harness import FAST, supervise_until_ended

    env = {
        **settings_env,
        **FAST,
        "PITSTOP_TRAINER": "drfc",
        "PITSTOP_DRFC_HOME": str(drfc_home),
        "PATH": os.environ["PATH"],
        "PYTHON": sys.executable,
        "DR_DIR": str(drfc_home),
    }
    sim = {
        "checkpoint_interval_s": 0.25,
        "checkpoints": 5,
        "faults": [{"kind": "crash", "attempt": 1, "after_checkpoint": 2, "exit_code": 5}],
    }
    job_id = submit(env, "drfc-crash", sim, world="Oval_track")
    doc = supervise_until_ended(env, job_id, tmp_path / "sup.log")
    assert doc["state"] == "succeeded", doc["reason"]
    assert [a["outcome"] for a in doc["attempts"]] == ["crashed", "succeeded"]
    calls = (drfc_home / "calls.log").read_text().splitlines()
    starts = [c for c in calls if c.startswith("dr-start-training")]
    assert len(starts) == 2 and all(" -q " in c and " -w" not in c for c in starts)
    assert f"model={model_prefix(job_id, 1)} pretrained=False::" in starts[0]
    assert (
        f"model={model_prefix(job_id, 2)} pretrained=True:{model_prefix(job_id, 1)}:last world=Oval_track"
        in starts[1]
    )
    assert any(c.startswith("dr-upload-custom-files") for c in calls)
    # every ended attempt is cleaned up with dr-stop-training, the crashed one included
    assert len([c for c in calls if c.startswith("dr-stop-training")]) >= 2
    assert sorted((drfc_home / "custom_files.seen").read_text().split()) == [
        "hyperparameters.json",
        "model_metadata.json",
        "reward_function.py",
    ]
    # the user's own settings survive; the original files are backed up
    assert "DR_EVAL_NUMBER_OF_TRIALS=3" in (drfc_home / "run.env").read_text()
    assert "DR_SIMAPP_VERSION=5.3.3-gpu" in (drfc_home / "system.env").read_text()
    assert (drfc_home / "run.env.pitstop-orig").read_text().startswith("DR_RUN_ID=0")
    # logs copied into the job's logs
    from tests.e2e.harness import jobs_store

    logs = list(jobs_store(env).logs(job_id))
    assert any("containers" in k for k in logs)


@pytest.mark.e2e
def test_a_job_directory_named_like_a_command_never_reaches_run_env(
    drfc_home: Path, settings_env: dict[str, str], tmp_path: Path, s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    """Issue 13, path 1: ``jobs/x;touch${IFS}INJECTED;/`` would run as root via ``eval export``."""
    import json

    from tests.e2e.harness import FAST, SupervisorProc, job_in, kill_trainers
    from tests.helpers import wait_for

    env = {
        **settings_env,
        **FAST,
        "PITSTOP_TRAINER": "drfc",
        "PITSTOP_DRFC_HOME": str(drfc_home),
        "PATH": os.environ["PATH"],
        "PYTHON": sys.executable,
        "DR_DIR": str(drfc_home),
    }
    bad = "x;touch${IFS}INJECTED;"
    spec = {"id": "any", "name": "x", "submitted_at": "2020-01-01T00:00:00.000Z"}
    state = {"id": "any", "state": "pending", "created_at": "2020-01-01T00:00:00.000Z"}
    s3.put_object(Bucket=bucket, Key=f"pitstop/jobs/{bad}/spec.json", Body=json.dumps(spec))
    s3.put_object(Bucket=bucket, Key=f"pitstop/jobs/{bad}/state.json", Body=json.dumps(state))
    # a well-named directory whose spec names another job: never claimed either
    liar_spec = {**spec, "id": "someone-else"}
    liar_state = {**state, "id": "liar-1"}
    s3.put_object(Bucket=bucket, Key="pitstop/jobs/liar-1/spec.json", Body=json.dumps(liar_spec))
    s3.put_object(Bucket=bucket, Key="pitstop/jobs/liar-1/state.json", Body=json.dumps(liar_state))
    good = submit(env, "drfc-good", {"checkpoint_interval_s": 0.2, "checkpoints": 2})

    def injected() -> list[Path]:
        return [p for root in (drfc_home, tmp_path, Path.cwd()) for p in root.rglob("INJECTED")]

    sup = SupervisorProc(env, tmp_path / "sup.log").start()
    try:
        wait_for(lambda: job_in(env, good), 60, "the good job to end")

        # the full scan (every lease TTL) lists the bad directory: it is reported, not claimed
        def judged() -> bool:
            dirs = {e.get("job_dir") for e in sup.events() if e.get("event") == "job.invalid"}
            return bool(injected()) or {bad, "liar-1"} <= dirs

        wait_for(judged, 30, "the bad job dirs to be judged")
    finally:
        sup.close()
        kill_trainers([good])
    assert injected() == []
    assert job_in(env, good, "succeeded")
    reported = {e["job_dir"]: e["reason"] for e in sup.events() if e.get("event") == "job.invalid"}
    assert "not a valid job id" in reported[bad] and "'someone-else'" in reported["liar-1"]
    calls = (drfc_home / "calls.log").read_text()
    assert "INJECTED" not in calls and "models/x" not in calls and "liar-1" not in calls
    objs = s3.list_objects_v2(Bucket=bucket, Prefix="pitstop/jobs/liar-1/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[-1] for o in objs) == ["spec.json", "state.json"]
    assert "DR_LOCAL_S3_MODEL_PREFIX=models/x" not in (drfc_home / "run.env").read_text()
    objs = s3.list_objects_v2(Bucket=bucket, Prefix=f"pitstop/jobs/{bad}/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[-1] for o in objs) == ["spec.json", "state.json"]
