"""Reading a model prefix against moto's S3 server: success evidence and resume points."""

from __future__ import annotations

import json

import pytest

from pitstop.core import verdicts
from pitstop.store import metrics
from pitstop.store.checkpoints import ResumePoint, is_initial_checkpoint, resume_point
from pitstop.store.layout import ModelKeys
from pitstop.store.objects import S3Store

PREFIX = "models/job-1/attempt-1"


@pytest.fixture
def store(bucket: str, s3_endpoint: str) -> S3Store:
    return S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)


def _episodes(training: int, evaluation: int) -> bytes:
    rows = [{"episode": i, "phase": "training"} for i in range(training)]
    rows += [{"episode": i, "phase": "evaluation"} for i in range(evaluation)]
    return json.dumps({"metrics": rows, "version": 2.0}).encode()


def _checkpoint(store: S3Store, name: str, *, complete: bool = True) -> None:
    files = ModelKeys(PREFIX).checkpoint_files(name)
    for key in files if complete else files[:2]:
        store.put(key, b"x")


def test_training_episodes_count_every_worker_and_only_training(store: S3Store) -> None:
    keys = ModelKeys(PREFIX)
    assert metrics.training_episodes(store, PREFIX) is None  # nothing written yet
    store.put(keys.metrics, _episodes(30, 10))
    store.put(f"{PREFIX}/metrics/TrainingMetrics_2.json", _episodes(25, 0))
    store.put(f"{PREFIX}/metrics/evaluation/evaluation-1.json", _episodes(99, 0))
    assert metrics.training_episodes(store, PREFIX) == 55


def test_evidence_compares_with_the_jobs_term_cond_max_episodes(store: S3Store) -> None:
    store.put(ModelKeys(PREFIX).metrics, _episodes(60, 5))
    store.put(
        "pitstop/jobs/job-1/custom_files/hyperparameters.json", b'{"term_cond_max_episodes": 60}'
    )
    found = metrics.read_evidence(
        store, PREFIX, "pitstop/jobs/job-1/custom_files/hyperparameters.json"
    )
    assert found == verdicts.Evidence(60, 60) and found.complete
    short = metrics.read_evidence(store, PREFIX, "pitstop/jobs/job-1/custom_files/none.json")
    assert short == verdicts.Evidence(60, 1000) and not short.complete  # DRfC's default target
    assert "60 of 1000 training episodes" in short.describe()


@pytest.mark.parametrize(
    ("episodes", "exited", "code", "verdict"),
    [
        (1000, False, None, True),  # enough episodes: success, whatever the exit
        (1000, True, 1, True),
        (40, False, None, None),  # too few, still running: cannot tell yet
        (40, True, 0, True),  # a clean exit
        (40, True, 1, False),  # simapp's finally: after an exception
        (40, True, None, False),  # gone, and no exit code: no evidence
        (None, True, 137, False),
    ],
)
def test_finished_ok(
    episodes: int | None, exited: bool, code: int | None, verdict: bool | None
) -> None:
    assert verdicts.finished_ok(verdicts.Evidence(episodes, 1000), exited, code) is verdict


def test_resume_point_is_what_deepracer_loads_not_the_newest_checkpoint(store: S3Store) -> None:
    keys = ModelKeys(PREFIX)
    assert resume_point(store, PREFIX) is None
    for name in ("0_Step-0.ckpt", "1_Step-1000.ckpt", "2_Step-2000.ckpt", "3_Step-3000.ckpt"):
        _checkpoint(store, name)
    store.put(keys.coach_checkpoint, b"3_Step-3000.ckpt")
    # no deepracer_checkpoints.json yet: simapp falls back to .coach_checkpoint
    assert resume_point(store, PREFIX) == ResumePoint("3_Step-3000.ckpt", "last")
    # the json is written after each evaluation, so it lags the newest checkpoint
    doc = {
        "best_checkpoint": {"name": "1_Step-1000.ckpt"},
        "last_checkpoint": {"name": "2_Step-2000.ckpt"},
    }
    store.put(keys.checkpoints_json, json.dumps(doc).encode())
    assert resume_point(store, PREFIX) == ResumePoint("2_Step-2000.ckpt", "last")
    # last incomplete (files missing): DRfC can still be told to load best
    store.delete(keys.checkpoint_files("2_Step-2000.ckpt")[3])
    assert resume_point(store, PREFIX) == ResumePoint("1_Step-1000.ckpt", "best")
    store.delete(keys.checkpoint_files("1_Step-1000.ckpt")[0])
    assert resume_point(store, PREFIX) is None


def test_initial_checkpoint_is_the_model_as_loaded() -> None:
    assert is_initial_checkpoint("0_Step-0.ckpt", None)
    assert not is_initial_checkpoint("1_Step-1000.ckpt", None)
    assert is_initial_checkpoint("5_Step-5000.ckpt", "5_Step-5000.ckpt")
    assert not is_initial_checkpoint("6_Step-6000.ckpt", "5_Step-5000.ckpt")
    assert not is_initial_checkpoint(None, None) and not is_initial_checkpoint("junk", None)


def test_worker_files_read_a_workers_file_only_when_it_changed(store: S3Store) -> None:
    from pitstop.core.hangs import WorkerMark, evaluation_tail, mark_workers

    keys = ModelKeys(PREFIX)
    store.put(keys.metrics, _episodes(4, 2))
    store.put(keys.training_metrics(2), _episodes(3, 0))
    store.put(keys.training_metrics(5), _episodes(9, 0))  # not a worker of a 3-worker job
    store.requests.clear()
    files = metrics.worker_files(store, PREFIX, 3)
    # worker 1 wrote nothing yet; worker 2 trained 3 episodes (evaluations are worker 0's)
    assert files[1] == (None, 0) and files[2][1] == 3 and set(files) == {1, 2}
    assert dict(store.requests) == {"list_objects_v2": 1, "get_object": 1}
    marks = mark_workers((), files, evaluation_tail([]))
    # unchanged: one LIST, nothing read
    store.requests.clear()
    assert metrics.worker_files(store, PREFIX, 3, marks) == files
    assert dict(store.requests) == {"list_objects_v2": 1}
    # worker 2 writes again (a new ETag): read once more; garbage counts no episode
    store.put(keys.training_metrics(2), _episodes(4, 0))
    store.put(keys.training_metrics(1), b"{not json")
    again = metrics.worker_files(store, PREFIX, 3, marks)
    assert again[2][1] == 4 and again[1][1] == 0 and again[1][0] is not None
    # a single-worker job lists nothing to mark
    assert metrics.worker_files(store, PREFIX, 1) == {}
    assert WorkerMark(2, files[2][0], 3, -1) in marks
