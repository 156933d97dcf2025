"""The DRfC backend's files: rendered env files and how they merge into the user's.

How the backend drives the real DRfC scripts is tests/drfc (the conformance harness)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pitstop.core.records import JobSpec, Simulation
from pitstop.store.layout import model_prefix
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.drfc import merge_env, render_env_files

GOLDEN = Path(__file__).parent / "golden"


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
