"""The simulated trainer writes what simapp writes (issue 25): the training and evaluation
simtraces, TrainingMetrics.json, the evaluation metrics and ``ip/hyperparameters.json``, in
the formats deepracer-utils reads, under every fault.

The facts come from issue 25's research (/tmp/research25.md), from simapp v6.0.4's
sources: ``bundle/markov/metrics/constants.py`` (StepMetrics, the 19 simtrace columns),
``rollout_worker.py``/``simtrace_video.py`` (``{n}-iteration.csv``, ``n`` from 0 in each
process), ``s3_metrics.py`` (the metrics rows and their types), ``sagemaker_graph_manager``
(``json.dumps(params, indent=2, sort_keys=True)``), and DRfC's
``scripts/evaluation/prepare-config.py`` (one 14-digit stamp for an evaluation's files); and
from deepracer-utils 1.5.6 ``deepracer/logs`` (``log.py``: episodes per iteration from
``0-iteration.csv``; ``metrics.py``: iterations from ``max(trial)``).

Each test runs the real trainer process (``python -m pitstop.trainers.simulated_run``)
against the moto server, for a short job.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from pitstop import tracks
from pitstop.store.layout import ModelKeys
from pitstop.trainers import simapp_files as simapp
from tests.helpers import wait_for

COLUMNS = [
    "episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
    "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp",
    "episode_status", "pause_duration", "obstacle_crash_counter", "wall_clock",
]  # fmt: skip
STATUSES = {
    "prepare", "in_progress", "off_track", "crashed", "lap_complete", "immobilized",
    "time_up", "reversed", "pause", "park",
}  # fmt: skip
TERMINAL = STATUSES - {"prepare", "in_progress", "pause"}
LABELS = {
    "Lap complete", "Crashed", "Off track", "Immobilized", "In progress", "Pause", "Reversed",
    "Park", "Time Up", "Prepare",
}  # fmt: skip
METRIC_INTS = (
    "reward_score", "metric_time", "start_time", "elapsed_time_in_milliseconds", "episode",
    "trial", "completion_percentage",
)  # fmt: skip
PPO_KEYS = [
    "batch_size", "beta_entropy", "discount_factor", "e_greedy_value", "epsilon_steps",
    "exploration_type", "loss_type", "lr", "num_episodes_between_training", "num_epochs",
    "stack_size", "term_cond_avg_score", "term_cond_max_episodes",
]  # fmt: skip
WORLD = "reInvent2019_track"
PER_ITERATION = 4
CUSTOM = "pitstop/jobs/fmt/custom_files/"
TRACK = tracks.load(WORLD)


# -- running the trainer ----------------------------------------------------------------------
class Run:
    def __init__(self, bucket: str, endpoint: str, tmp_path: Path) -> None:
        self.bucket, self.endpoint, self.tmp = bucket, endpoint, tmp_path
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def put(self, key: str, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def env(self, prefix: str, attempt: int, sim: dict[str, Any], **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PITSTOP_")}
        env.update(
            PITSTOP_BUCKET=self.bucket,
            PITSTOP_S3_ENDPOINT_URL=self.endpoint,
            PITSTOP_REGION="us-east-1",
            PITSTOP_MODEL_PREFIX=prefix,
            PITSTOP_ATTEMPT=str(attempt),
            PITSTOP_JOB_ID="fmt-0123456789",
            PITSTOP_WORLD=WORLD,
            PITSTOP_CUSTOM_FILES_PREFIX=CUSTOM,
            PITSTOP_SIMULATION=json.dumps(sim),
            **extra,
        )
        return env

    def start(self, prefix: str, attempt: int, sim: dict[str, Any], **extra: str) -> subprocess.Popen[bytes]:  # fmt: skip
        log = (self.tmp / f"trainer-{attempt}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "pitstop.trainers.simulated_run"],
            env=self.env(prefix, attempt, sim, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def run(self, prefix: str, attempt: int, sim: dict[str, Any], **extra: str) -> int:
        proc = self.start(prefix, attempt, sim, **extra)
        try:
            return proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def run(bucket: str, s3_endpoint: str, tmp_path: Path) -> Run:
    r = Run(bucket, s3_endpoint, tmp_path)
    r.put(f"{CUSTOM}reward_function.py", "def reward_function(params):\n    return 1.0\n")
    r.put(
        f"{CUSTOM}hyperparameters.json",
        json.dumps({"num_episodes_between_training": PER_ITERATION, "lr": 0.001, "batch_size": 32}),
    )
    return r


def sim(checkpoints: int = 3, *faults: dict[str, Any]) -> dict[str, Any]:
    return {"checkpoint_interval_s": 0.05, "checkpoints": checkpoints, "faults": list(faults)}


# -- the format checks ------------------------------------------------------------------------
def read_simtrace(body: bytes) -> list[dict[str, str]]:
    text = body.decode()
    assert text.splitlines()[0].split(",") == COLUMNS
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, "a simtrace with no row"
    for r in rows:
        assert list(r) == COLUMNS and None not in r.values()
        int(r["episode"]), int(r["steps"]), int(r["closest_waypoint"])
        assert int(r["obstacle_crash_counter"]) == 0
        for col in ("X", "Y", "yaw", "steer", "throttle", "reward", "progress", "track_len"):
            assert math.isfinite(float(r[col])), (col, r)
        float(r["tstamp"]), float(r["pause_duration"]), float(r["wall_clock"])
        assert r["done"] in ("True", "False") and r["all_wheels_on_track"] in ("True", "False")
        assert r["episode_status"] in STATUSES
        assert 0.0 <= float(r["progress"]) <= 100.0
        assert 0 <= int(r["closest_waypoint"]) < len(TRACK.waypoints)
        assert float(r["track_len"]) == pytest.approx(TRACK.length, abs=0.01)
        x, y = float(r["X"]), float(r["Y"])
        assert TRACK.waypoints[:, 0::2].min() - 1 <= x <= TRACK.waypoints[:, 0::2].max() + 1
        assert TRACK.waypoints[:, 1::2].min() - 1 <= y <= TRACK.waypoints[:, 1::2].max() + 1
        assert int(r["action"]) in range(5)  # DRfC's default discrete space: an index
    return rows


def episodes_of(rows: list[dict[str, str]]) -> dict[int, list[dict[str, str]]]:
    out: dict[int, list[dict[str, str]]] = {}
    for r in rows:
        out.setdefault(int(r["episode"]), []).append(r)
    return out


def check_training_simtrace(run: Run, prefix: str, iterations: int, first_episode: int = 0) -> None:  # fmt: skip
    """``training-simtrace/0..iterations-1-iteration.csv``, nothing else; each holds
    ``PER_ITERATION`` episodes, numbered on from ``first_episode`` (cumulative, as simapp)."""
    keys = ModelKeys(prefix)
    found = [k for k in run.keys(prefix) if "/training-simtrace/" in k]
    assert found == sorted(keys.simtrace(i) for i in range(iterations))
    episode = first_episode
    for i in range(iterations):
        body = run.get(keys.simtrace(i))
        assert body is not None
        episodes = episodes_of(read_simtrace(body))
        assert sorted(episodes) == list(range(episode, episode + PER_ITERATION))
        for steps in episodes.values():
            assert steps[0]["episode_status"] == "prepare" and steps[0]["done"] == "False"
            assert [int(s["steps"]) for s in steps] == list(range(1, len(steps) + 1))
            assert all(s["done"] == "False" for s in steps[:-1])
            assert all(s["episode_status"] == "in_progress" for s in steps[1:-1])
            assert steps[-1]["done"] == "True" and steps[-1]["episode_status"] in TERMINAL
            stamps = [float(s["tstamp"]) for s in steps]
            assert stamps == sorted(stamps)
            if steps[-1]["episode_status"] == "lap_complete":
                assert float(steps[-1]["progress"]) == 100.0
        episode += PER_ITERATION


def check_training_metrics(body: bytes | None) -> list[dict[str, Any]]:
    """simapp's TrainingMetrics.json, every row complete and typed; evaluation rows keep the
    last training episode and trial; deepracer-utils' iteration of a training row
    (``(episode - 1) // max(trial)``) is the simtrace file that holds it."""
    assert body is not None
    doc = json.loads(body)
    assert list(doc) == ["metrics", "version", "best_model_metric"]
    assert doc["version"] == 2.0 and doc["best_model_metric"] == "progress"
    rows = doc["metrics"]
    last = (0, 0)
    for r in rows:
        assert set(r) == set(simapp.METRICS_FIELDS), r
        for field in METRIC_INTS:
            assert type(r[field]) is int, (field, r)
        assert r["phase"] in ("training", "evaluation") and r["episode_status"] in LABELS
        assert 0 <= r["completion_percentage"] <= 100
        assert r["metric_time"] == r["start_time"] + r["elapsed_time_in_milliseconds"]
        if r["phase"] == "training":
            assert r["episode"] == last[0] + 1
            assert r["trial"] == last[1] % PER_ITERATION + 1
            last = (r["episode"], r["trial"])
        else:
            assert (r["episode"], r["trial"]) == last
    trials = [r["trial"] for r in rows]
    if trials:
        assert max(trials) == PER_ITERATION
    return list(rows)


def check_hyperparameters(body: bytes | None) -> None:
    assert body is not None
    doc = json.loads(body)
    assert body.decode() == json.dumps(doc, indent=2, sort_keys=True)
    assert list(doc) == PPO_KEYS
    assert doc["num_episodes_between_training"] == PER_ITERATION  # the job's
    assert doc["lr"] == 0.001 and doc["batch_size"] == 32
    assert doc["discount_factor"] == 0.99 and doc["term_cond_max_episodes"] == 1000  # DRfC's
    for key in ("batch_size", "stack_size", "epsilon_steps", "num_epochs"):
        assert type(doc[key]) is int
    for key in ("lr", "discount_factor", "beta_entropy", "term_cond_avg_score"):
        assert type(doc[key]) is float


def check_uploaded(run: Run, prefix: str) -> list[dict[str, Any]]:
    """Whatever is uploaded under ``prefix`` is well-formed: every simtrace, the metrics."""
    keys = ModelKeys(prefix)
    for key in run.keys(prefix):
        if key.endswith("-iteration.csv"):
            read_simtrace(run.get(key) or b"")
    body = run.get(keys.metrics)
    return check_training_metrics(body) if body is not None else []


# -- training ---------------------------------------------------------------------------------
def test_a_run_writes_simapps_files(run: Run) -> None:
    prefix = "models/fmt/attempt-1"
    assert run.run(prefix, 1, sim(3)) == 0
    keys = ModelKeys(prefix)
    check_training_simtrace(run, prefix, 3)
    rows = check_training_metrics(run.get(keys.metrics))
    training = [r for r in rows if r["phase"] == "training"]
    assert len(training) == 3 * PER_ITERATION
    assert len(rows) > len(training)  # each checkpoint evaluated too
    check_hyperparameters(run.get(keys.ip("hyperparameters.json")))
    # the metrics and the simtrace tell one story: episode e's row is the simtrace's e - 1
    trace = episodes_of(read_simtrace(run.get(keys.simtrace(1)) or b""))
    for r in training[PER_ITERATION : 2 * PER_ITERATION]:
        steps = trace[r["episode"] - 1]
        assert (r["episode"] - 1) // max(x["trial"] for x in rows) == 1
        assert r["completion_percentage"] == int(float(steps[-1]["progress"]))
        assert simapp.STATUS_LABELS[steps[-1]["episode_status"]] == r["episode_status"]
        assert r["start_time"] == round(float(steps[0]["tstamp"]) * 1000)


def test_a_resumed_run_numbers_its_simtrace_from_zero(run: Run) -> None:
    first, second = "models/fmt/attempt-1", "models/fmt/attempt-2"
    assert run.run(first, 1, sim(2)) == 0
    code = run.run(
        second,
        2,
        sim(4),
        PITSTOP_PRETRAINED_PREFIX=first,
        PITSTOP_PRETRAINED_CHECKPOINT="last",
    )
    assert code == 0
    # checkpoints 3 and 4 of the job: this run's iterations 0 and 1, episodes from 0
    check_training_simtrace(run, second, 2)
    rows = check_training_metrics(run.get(ModelKeys(second).metrics))
    assert [r["episode"] for r in rows if r["phase"] == "training"] == list(range(1, 9))


@pytest.mark.parametrize(
    "fault, code, iterations",
    [
        ({"kind": "crash", "after_checkpoint": 1, "exit_code": 3}, 3, 1),
        ({"kind": "exception", "after_checkpoint": 1, "exit_code": 5}, 5, 1),
        ({"kind": "crash_during_upload", "after_checkpoint": 1, "exit_code": 7}, 7, 1),
        ({"kind": "slow_start", "seconds": 0.2}, 0, 3),
        ({"kind": "ignore_sigterm"}, 0, 3),
    ],
    ids=lambda v: v["kind"] if isinstance(v, dict) else None,
)
def test_what_a_fault_leaves_uploaded_is_well_formed(
    run: Run, fault: dict[str, Any], code: int, iterations: int
) -> None:
    prefix = "models/fmt/attempt-1"
    assert run.run(prefix, 1, sim(3, fault)) == code
    check_training_simtrace(run, prefix, iterations)
    rows = check_uploaded(run, prefix)
    assert sum(r["phase"] == "training" for r in rows) == iterations * PER_ITERATION
    check_hyperparameters(run.get(ModelKeys(prefix).ip("hyperparameters.json")))


def test_a_freeze_keeps_every_row_complete(run: Run) -> None:
    prefix = "models/fmt/attempt-1"
    keys = ModelKeys(prefix)
    proc = run.start(prefix, 1, sim(3, {"kind": "freeze", "after_checkpoint": 1}))
    try:

        def frozen_rows() -> list[dict[str, Any]] | None:
            body = run.get(keys.metrics)
            rows = check_training_metrics(body) if body else []
            after = len(rows) - max((i for i, r in enumerate(rows) if r["phase"] == "training"), default=0)  # fmt: skip
            return rows if after > 5 else None  # the iteration's 2-4, then the freeze's

        rows = wait_for(frozen_rows, 30, "the freeze's evaluation rows")
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    rows = check_uploaded(run, prefix)  # the last write, after the kill
    assert sum(r["phase"] == "training" for r in rows) == PER_ITERATION  # none dropped
    check_training_simtrace(run, prefix, 1)


# -- evaluation -------------------------------------------------------------------------------
def test_an_evaluation_writes_its_simtrace_once_with_the_metrics_stamp(run: Run) -> None:
    prefix = "models/fmt-eval/attempt-1"
    keys = ModelKeys(prefix)
    run.put(keys.coach_checkpoint, "3_Step-3000.ckpt")
    run.put(keys.metadata, json.dumps({"action_space": [{"steering_angle": 0.0, "speed": 1.0}] * 5,
                                       "action_space_type": "discrete"}))  # fmt: skip
    evaluation = json.dumps({"model_prefix": "models/fmt/attempt-1", "laps": 3})
    code = run.run(prefix, 1, sim(), PITSTOP_KIND="evaluation", PITSTOP_EVALUATION=evaluation)
    assert code == 0
    found = run.keys(prefix)
    metrics = [k for k in found if keys.parse_evaluation_metrics(k)]
    traces = [k for k in found if keys.parse_evaluation_simtrace(k)]
    assert len(metrics) == 1 and len(traces) == 1
    stamp, iteration = keys.parse_evaluation_simtrace(traces[0]) or ("", -1)
    assert re.fullmatch(r"[0-9]{14}", stamp) and iteration == 0
    assert keys.parse_evaluation_metrics(metrics[0]) == f"evaluation-{stamp}.json"
    # deepracer-utils' S3 regex for an evaluation simtrace
    pattern = prefix + "/" + r"evaluation-([0-9]{14})/evaluation-simtrace/(.*)-iteration\.csv"
    assert re.match(pattern, traces[0])
    # the metrics: simapp's EvalMetrics rows, no version key, ints
    doc = json.loads(run.get(metrics[0]) or b"")
    assert list(doc) == ["metrics"]
    assert [r["trial"] for r in doc["metrics"]] == [1, 2, 3]
    for r in doc["metrics"]:
        for field in ("completion_percentage", "elapsed_time_in_milliseconds", "trial",
                      "reset_count", "off_track_count", "crash_count"):  # fmt: skip
            assert type(r[field]) is int, (field, r)
    # the simtrace: one prepare row, episode = laps completed, only the last row done
    rows = read_simtrace(run.get(traces[0]) or b"")
    assert rows[0]["episode_status"] == "prepare"
    assert [r["episode_status"] for r in rows].count("prepare") == 1
    assert sorted(episodes_of(rows)) == [0, 1, 2]
    assert [int(r["steps"]) for r in rows] == list(range(1, len(rows) + 1))
    assert [r["done"] for r in rows] == ["False"] * (len(rows) - 1) + ["True"]
    assert rows[-1]["episode_status"] in ("lap_complete", "off_track")
    for lap, row in zip(doc["metrics"], [rs[-1] for rs in episodes_of(rows).values()], strict=True):
        assert int(float(row["progress"])) == lap["completion_percentage"]


def test_an_evaluation_that_crashes_uploads_no_simtrace(run: Run) -> None:
    prefix = "models/fmt-eval/attempt-1"
    keys = ModelKeys(prefix)
    run.put(keys.coach_checkpoint, "3_Step-3000.ckpt")
    run.put(keys.metadata, json.dumps({"action_space": [{"steering_angle": 0.0, "speed": 1.0}]}))
    evaluation = json.dumps({"model_prefix": "models/fmt/attempt-1", "laps": 3})
    crash = {"kind": "crash", "after_checkpoint": 1, "exit_code": 9}
    code = run.run(prefix, 1, sim(3, crash), PITSTOP_KIND="evaluation", PITSTOP_EVALUATION=evaluation)  # fmt: skip
    assert code == 9
    found = run.keys(prefix)
    assert not [k for k in found if keys.parse_evaluation_simtrace(k)]  # uploaded at the end
    (metrics,) = [k for k in found if keys.parse_evaluation_metrics(k)]
    assert [r["trial"] for r in json.loads(run.get(metrics) or b"")["metrics"]] == [1]


# -- the pure parts ---------------------------------------------------------------------------
def test_hyperparameters_take_the_jobs_values_and_drfcs_defaults() -> None:
    doc = json.loads(simapp.hyperparameters_json({"lr": "0.0005", "loss_type": "HUBER"}))
    assert list(doc) == PPO_KEYS and doc["lr"] == 0.0005 and doc["loss_type"] == "huber"
    assert doc["num_episodes_between_training"] == 20  # DRfC's default
    sac = json.loads(simapp.hyperparameters_json({"batch_size": "x"}, "sac"))
    assert "sac_alpha" in sac and "beta_entropy" not in sac and "num_epochs" not in sac
    assert sac["batch_size"] == 64  # a value of the wrong type: the default


def test_a_continuous_action_is_written_as_simapp_writes_it() -> None:
    import random

    space = {"steering_angle": {"low": -20, "high": 20}, "speed": {"low": 0.5, "high": 2}}
    actions = simapp.actions_of({"action_space": space, "action_space_type": "continuous"})
    steer, throttle, action = actions.pick(random.Random(1))
    assert -20 <= steer <= 20 and 0.5 <= throttle <= 2
    assert action == f"[{steer} {throttle}]"
    assert simapp.actions_of({"action_space": "junk"}) == simapp.DRFC_ACTIONS


def test_two_rollout_workers_write_simapps_per_worker_layout(run: Run) -> None:
    """DR_WORKERS=2: each worker's share of an iteration (2 of 4 episodes) in its own
    ``W/training-simtrace/`` (worker 0's too, nothing at the top), episodes numbered on per
    worker; deepracer-utils reads both workers from the prefix, every ``unique_episode`` once."""
    prefix = "models/fmt/attempt-1"
    assert run.run(prefix, 1, {**sim(3), "workers": 2}) == 0
    keys = ModelKeys(prefix)
    found = [k for k in run.keys(prefix) if "/training-simtrace/" in k]
    assert found == sorted(keys.worker_simtrace(w, i) for w in (0, 1) for i in range(3))
    for w in (0, 1):
        numbers = [
            sorted(episodes_of(read_simtrace(run.get(keys.worker_simtrace(w, i)) or b"")))
            for i in range(3)
        ]
        assert numbers == [[0, 1], [2, 3], [4, 5]]
    dru = pytest.importorskip("deepracer.logs", reason="deepracer-utils (the dev extra)")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' deprecations inside deepracer-utils
        fh = dru.S3FileHandler(bucket=run.bucket, prefix=prefix, s3_endpoint_url=run.endpoint)
        log = dru.DeepRacerLog(filehandler=fh)
        log.load_training_trace()
        df = log.dataframe()
    assert sorted(df["worker"].unique()) == [0, 1]
    assert sorted(df["unique_episode"].unique()) == list(range(12))
