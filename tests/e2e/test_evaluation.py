"""Evaluation jobs end to end: real supervisor processes, the simulated trainer, moto's S3.

A training job asks for an evaluation (``evaluate_on``); the supervisor queues it when
training succeeds; the evaluation runs on a copy of the checkpoint, records laps, results
and a leaderboard entry; the CLI reads them back. An evaluation interrupted by a crash runs
again from the start. Export's tarball holds the chosen checkpoint's files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ENDED, job, jobs_store, submit
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e

SIM = {"checkpoint_interval_s": 0.15, "checkpoints": 3}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", *args],
        env={**env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def ended(env: dict[str, str], job_id: str, timeout: float = 90) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        state, _ = jobs_store(env).status(job_id)
        return job(env, job_id) if state.state.value in ENDED else None

    return wait_for(done, timeout, f"job {job_id} to end", interval=0.3)


def test_training_then_its_evaluation_results_leaderboard_models_and_export(
    e2e_env, supervisors, s3, bucket, tmp_path: Path
) -> None:
    import os

    env = {**os.environ, **e2e_env}
    train = submit(e2e_env, "evalme", SIM, evaluate_on=["Oval_track"])
    supervisors.job_ids.append(train)
    supervisors(e2e_env)
    doc = ended(e2e_env, train)
    assert doc["state"] == "succeeded", doc["reason"]
    queued = [e for e in doc["events"] if e["event"] == "evaluation.queued"]
    assert len(queued) == 1 and queued[0]["world"] == "Oval_track"
    eval_id = queued[0]["evaluation"]
    supervisors.job_ids.append(eval_id)
    edoc = ended(e2e_env, eval_id)
    assert edoc["state"] == "succeeded", edoc["reason"]
    spec = jobs_store(e2e_env).spec(eval_id)
    assert spec.kind == "evaluation" and spec.world == "Oval_track"
    assert spec.evaluation is not None and spec.evaluation.model_job == train
    # the model was only read: the evaluation's laps are in its own prefix
    model_keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"models/{train}/")["Contents"]
    ]
    assert not any("/metrics/evaluation/" in k for k in model_keys)
    # results: three laps, a summary that matches them
    r = cli(env, "results", eval_id, "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [lap["trial"] for lap in res["laps"]] == [1, 2, 3]
    complete = sorted(lap["time_ms"] for lap in res["laps"] if lap["status"] == "Lap complete")
    assert res["summary"]["best_ms"] == complete[0] and res["summary"]["complete"] == len(complete)
    assert res["checkpoint"] == doc["attempts"][-1]["last_checkpoint"]
    table = cli(env, "results", eval_id)
    assert table.returncode == 0 and "best" in table.stdout and "Oval_track" in table.stdout
    # the leaderboard and the registry
    board = json.loads(cli(env, "leaderboard", "Oval_track", "--json").stdout)
    assert board[0]["job_id"] == eval_id and board[0]["model"] == train
    assert board[0]["lap_ms"] == complete[0]
    models = json.loads(cli(env, "models", "--json").stdout)
    mine = [m for m in models if m["job_id"] == train]
    assert mine and mine[0]["best_laps"] == {"Oval_track": complete[0]}
    # a training job has no results; a typo'd world is one line naming the nearest
    r = cli(env, "results", train)
    assert r.returncode != 0 and "training job" in r.stderr and "Traceback" not in r.stderr
    r = cli(env, "leaderboard", "Oval_trak")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    check_export(env, train, doc["attempts"][-1]["model_prefix"], tmp_path, s3, bucket)


def test_an_interrupted_evaluation_runs_again_from_the_start(e2e_env, supervisors) -> None:
    import os

    env = {**os.environ, **e2e_env}
    train = submit(e2e_env, "evalcrash", SIM)
    supervisors.job_ids.append(train)
    supervisors(e2e_env)
    assert ended(e2e_env, train)["state"] == "succeeded"
    sim = {
        "checkpoint_interval_s": 0.15,
        "faults": [{"kind": "crash", "attempt": 1, "after_checkpoint": 1}],
    }
    r = cli(
        env,
        "evaluate",
        train,
        "--world",
        "reInvent2019_track",
        "--laps",
        "4",
        "--simulation",
        json.dumps(sim),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    eval_id = json.loads(r.stdout)["id"]
    supervisors.job_ids.append(eval_id)
    doc = ended(e2e_env, eval_id)
    assert doc["state"] == "succeeded", doc["reason"]
    assert [a["outcome"] for a in doc["attempts"]] == ["crashed", "succeeded"]
    res = json.loads(cli(env, "results", eval_id, "--json").stdout)
    assert [lap["trial"] for lap in res["laps"]] == [1, 2, 3, 4]  # all from the second run

    # a checkpoint the model does not have: refused at submit, one line, exit 2
    r = cli(env, "evaluate", train, "--world", "Oval_track", "--checkpoint", "99_Step-99.ckpt")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "99_Step-99.ckpt" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    # one that vanished after the submit: that evaluation fails with the reason, at once
    from pitstop.core.records import Evaluation
    from pitstop.evaluation.jobs import evaluation_spec, submit_evaluation

    store = jobs_store(e2e_env)
    prefix = store.status(train)[0].attempts[-1].model_prefix
    ev = Evaluation(model_prefix=prefix, model_job=train, checkpoint="99_Step-99.ckpt")
    spec = evaluation_spec("gone", "Oval_track", ev, simulation={"checkpoint_interval_s": 0.15})
    assert submit_evaluation(store, spec)
    supervisors.job_ids.append(spec.id)
    doc = ended(e2e_env, spec.id)
    assert doc["state"] == "failed", doc
    assert "99_Step-99.ckpt" in (doc["reason"] or ""), doc["reason"]
    assert [a["outcome"] for a in doc["attempts"]] == ["refused"]
    events = [e["event"] for e in doc["events"]]
    assert "instance.rebooting" not in events and "run.crashed" not in events, events


def check_export(env: dict[str, str], train: str, prefix: str, tmp_path: Path, s3, bucket) -> None:  # type: ignore[no-untyped-def]
    """The car's tarball holds the chosen checkpoint's graph and files; DRoA's layout."""
    ckpts = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{prefix}/model/deepracer_checkpoints.json")[
            "Body"
        ].read()
    )
    best = ckpts["best_checkpoint"]["name"]
    out = tmp_path / "car.tar.gz"
    r = cli(env, "export", train, "--checkpoint", "best", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["checkpoint"] == best
    with tarfile.open(out) as tar:
        names = sorted(tar.getnames())
        body = {n: tar.extractfile(n).read() for n in names}  # type: ignore[union-attr]
    assert names == sorted(
        [
            "model.pb",
            "model_metadata.json",
            "checkpoint",
            f"{best}.index",
            f"{best}.meta",
            f"{best}.data-00000-of-00001",
        ]
    )
    n = best.split("_", 1)[0]
    pb = s3.get_object(Bucket=bucket, Key=f"{prefix}/model/model_{n}.pb")["Body"].read()
    assert body["model.pb"] == pb  # the graph of the chosen checkpoint, not another
    meta = s3.get_object(Bucket=bucket, Key=f"{prefix}/model/model_metadata.json")["Body"].read()
    assert body["model_metadata.json"] == meta
    assert f'model_checkpoint_path: "{best}"' in body["checkpoint"].decode()
    droa = tmp_path / "droa"
    r = cli(env, "export", train, "--checkpoint", "last", "--droa", str(droa))
    assert r.returncode == 0, r.stderr
    last = ckpts["last_checkpoint"]["name"]
    assert (droa / "model" / ".coach_checkpoint").read_text().strip() == last
    assert (droa / "reward_function.py").is_file() and (droa / "model" / f"{last}.index").is_file()
    # refusing to overwrite, a missing checkpoint: one line, nothing written
    r = cli(env, "export", train, "--droa", str(droa))
    assert r.returncode == 2 and "not empty" in r.stderr
    r = cli(
        env, "export", train, "--checkpoint", "1_Step-1.ckpt", "--out", str(tmp_path / "x.tar.gz")
    )
    assert r.returncode != 0 and "not complete" in r.stderr and not (tmp_path / "x.tar.gz").exists()
