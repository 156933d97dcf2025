"""A job may start from a model made elsewhere: checked before a GPU is paid for, loaded by
its first attempt, and a model gone by then fails the job at once (no restarts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pitstop.action_space.compat import load_problem
from pitstop.action_space.io import parse_metadata
from pitstop.core.states import JobState
from pitstop.errors import InvalidInput
from pitstop.intake import Submission, defaults, submit
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, ModelKeys
from pitstop.store.objects import S3Store
from tests.supervisor.test_fake_clock import Rig

MODEL = "imported/console-model"
CHECKPOINT = "12_Step-3400.ckpt"
REWARD = b"def reward_function(params):\n    return 1.0\n"


def _meta(actions: int = 2, **extra: Any) -> dict[str, Any]:
    space = [
        {"steering_angle": 30.0 - 60.0 * i / max(1, actions - 1), "speed": 1.0}
        for i in range(actions)
    ]
    return {"action_space": space, "sensor": ["FRONT_FACING_CAMERA"],
            "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "version": "5", **extra}  # fmt: skip


def _model(
    store: S3Store, *, metadata: dict[str, Any] | None = None, complete: bool = True
) -> None:
    keys = ModelKeys(MODEL)
    files = keys.checkpoint_files(CHECKPOINT)
    for key in files if complete else files[:1]:
        store.put(key, b"weights")
    store.put(keys.coach_checkpoint, CHECKPOINT.encode())
    if metadata is not None:
        store.put(keys.metadata, json.dumps(metadata).encode())


def _submission(job_meta: dict[str, Any], **fields: Any) -> Submission:
    files = {
        **defaults(),
        "reward_function.py": REWARD,
        "model_metadata.json": json.dumps(job_meta).encode(),
    }
    return Submission(name="from-console", files=files, fields=fields, labels={"job.json": "job.json"})  # fmt: skip


@pytest.fixture
def jobs(bucket: str, s3_endpoint: str) -> JobStore:
    return JobStore(
        S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout("pitstop")
    )


# -- which models can start which jobs (pure) ---------------------------------------------
def _parsed(doc: dict[str, Any]) -> Any:
    return parse_metadata(json.dumps(doc), "test")


def test_speeds_may_change_but_not_the_network() -> None:
    faster = _meta(2)
    faster["action_space"] = [
        {"steering_angle": a["steering_angle"], "speed": 3.0} for a in faster["action_space"]
    ]
    assert load_problem(_parsed(_meta(2)), _parsed(faster)) is None  # speed tuning
    assert "3 actions in the model, 2 in the job" in (
        load_problem(_parsed(_meta(3)), _parsed(_meta(2))) or ""
    )
    other_net = _meta(2, neural_network="DEEP_CONVOLUTIONAL_NETWORK_DEEP")
    assert "neural network" in (load_problem(_parsed(other_net), _parsed(_meta(2))) or "")
    stereo = _meta(2, sensor=["STEREO_CAMERAS"])
    assert "sensors" in (load_problem(_parsed(stereo), _parsed(_meta(2))) or "")
    continuous = {**_meta(2), "action_space": {"steering_angle": {"low": -30, "high": 30},
                                               "speed": {"low": 1, "high": 2}},
                  "action_space_type": "continuous"}  # fmt: skip
    assert "action space type" in (load_problem(_parsed(continuous), _parsed(_meta(2))) or "")


# -- checked at submission ----------------------------------------------------------------
def test_a_good_model_is_accepted_and_its_checkpoint_pinned(jobs: JobStore) -> None:
    _model(jobs.store, metadata=_meta(2))
    spec, created = submit(
        jobs,
        _submission(_meta(2), pretrained={"model_prefix": MODEL}),
        jobs.store.bucket,
        dynamic=False,
    )
    assert created and spec.pretrained is not None
    # "last" resolved now: the job starts from this checkpoint whatever the model does later
    assert spec.pretrained.model_dump() == {"model_prefix": MODEL, "checkpoint": CHECKPOINT}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"metadata": None}, "model/model_metadata.json: missing"),
        ({"metadata": _meta(2), "complete": False}, "is not complete"),
        ({"metadata": _meta(5)}, "5 actions in the model, 2 in the job"),
        ({"metadata": {"action_space": "garbage"}}, "model_metadata.json"),
    ],
)
def test_a_model_that_cannot_start_the_job_is_refused_in_one_line(
    jobs: JobStore, setup: dict[str, Any], message: str
) -> None:
    _model(jobs.store, **setup)
    with pytest.raises(InvalidInput) as e:
        submit(
            jobs,
            _submission(_meta(2), pretrained={"model_prefix": MODEL}),
            jobs.store.bucket,
            dynamic=False,
        )
    text = str(e.value)
    assert "\n" not in text and text.startswith("job.json: pretrained") and message in text
    assert list(jobs.live_job_ids()) == []  # nothing queued


def test_an_unknown_prefix_shape_and_an_evaluation_with_a_model_are_refused(jobs: JobStore) -> None:
    for fields in (
        {"pretrained": {"model_prefix": "../etc"}},
        {"pretrained": {"model_prefix": MODEL, "x": 1}},
    ):
        with pytest.raises(InvalidInput, match="pretrained"):
            submit(jobs, _submission(_meta(2), **fields), jobs.store.bucket, dynamic=False)


def test_cli_submit_names_the_model_by_its_s3_url(
    jobs: JobStore, settings_env: dict[str, str], tmp_path: Path
) -> None:
    _model(jobs.store, metadata=_meta(2))
    (tmp_path / "reward.py").write_bytes(REWARD)
    (tmp_path / "meta.json").write_text(json.dumps(_meta(2)))
    argv = [sys.executable, "-m", "pitstop.cli.main", "submit", str(tmp_path / "reward.py"),
            "--metadata", str(tmp_path / "meta.json"), "--json",
            "--pretrained", f"s3://{jobs.store.bucket}/{MODEL}"]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **settings_env}, timeout=120
    )
    assert done.returncode == 0, done.stderr
    spec = jobs.spec(json.loads(done.stdout)["id"])
    assert spec.pretrained is not None and spec.pretrained.checkpoint == CHECKPOINT
    other = subprocess.run([*argv[:-1], "s3://another-bucket/x"], capture_output=True, text=True,
                           env={**os.environ, **settings_env}, timeout=120)  # fmt: skip
    assert other.returncode == 2 and "not in this bucket" in other.stderr
    assert "Traceback" not in other.stderr


# -- loaded by the first attempt ------------------------------------------------------------
def _rig_with_job(bucket: str, s3_endpoint: str, tmp_path: Path) -> tuple[Rig, str]:
    rig = Rig(bucket, s3_endpoint, tmp_path)
    _model(rig.jobs.store, metadata=_meta(2))
    job_id = rig.submit("pretrained", pretrained={"model_prefix": MODEL, "checkpoint": CHECKPOINT})
    return rig, job_id


def test_the_first_attempt_loads_the_model_and_later_ones_their_own(
    bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    rig, job_id = _rig_with_job(bucket, s3_endpoint, tmp_path)
    try:
        rig.start(job_id)
        first = rig.trainer.plan
        assert (first.pretrained_prefix, first.pretrained_checkpoint) == (MODEL, CHECKPOINT)
        assert rig.status(job_id).attempts[0].pretrained_checkpoint == CHECKPOINT
        assert rig.trainer.checkpoint() == "13_Step-13000.ckpt"  # numbered on from the model's
        rig.trainer.crash(1)
        rig.ticks_until(lambda: rig.status(job_id).state is JobState.RESTARTING, "the crash")
        rig.tick(advance=600)  # past the backoff
        rig.ticks_until(lambda: len(rig.trainer.plans) == 2, "the second attempt")
        second = rig.trainer.plan
        assert second.pretrained_prefix == first.model_prefix  # its own attempt, not the model
    finally:
        rig.store.release.set()


def test_a_model_gone_before_the_start_fails_the_job_without_restarts(
    bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    rig, job_id = _rig_with_job(bucket, s3_endpoint, tmp_path)
    try:
        for key in ModelKeys(MODEL).checkpoint_files(CHECKPOINT):
            rig.jobs.store.delete(key)
        status = rig.ticks_until(
            lambda: (s := rig.status(job_id)).state.is_terminal() and s, "the job to end"
        )
        assert status.state is JobState.FAILED and "pretrained model" in (status.reason or "")
        assert status.restarts == 0 and rig.trainer.plans == []  # never launched
        assert rig.outcomes(job_id) == ["refused"]
    finally:
        rig.store.release.set()
