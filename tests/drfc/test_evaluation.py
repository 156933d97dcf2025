"""Evaluation jobs through deepracer-for-cloud's real evaluation scripts (v5.3.3 and v6.0.4).

A training job on the drfc backend asks for an evaluation (``evaluate_on``); the supervisor
queues it when training succeeds, stages the checkpoint into the evaluation's own prefix, and
the backend runs DRfC's ``dr-start-evaluation -q`` for real (``prepare-config.py`` uploads
the evaluation yaml through the real AWS CLI/boto3 to moto's S3; ``docker stack deploy``
of ``deepracer-eval-0``) and ``dr-stop-evaluation``. Docker is the stand-in
(``standin/``): the stack's rl_coach echoes and exits, its robomaker drives the yaml's
NUMBER_OF_TRIALS laps, rewriting the metrics file at the yaml's METRICS_S3_OBJECT_KEY after
each lap and the simtrace under SIMTRACE_S3_PREFIX at the end, then exits 0, as simapp's
evaluation worker does. The laps pitstop records are the ones DRfC's keys led it to.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.drfc.sandbox import Instance, drive
from tests.drfc.test_e2e import assert_nothing_left, container_log, ended
from tests.e2e.harness import jobs_store, submit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STAMP = r"[0-9]{14}"


def test_an_evaluation_job_runs_through_dr_start_evaluation(
    version, instances, drfc_env, supervisors_on
) -> None:
    inst: Instance = instances(version)
    sim = {"checkpoint_interval_s": 0.3, "checkpoints": 2}
    train = submit(drfc_env, f"drfc-evalme-{version}", sim, evaluate_on=["Oval_track"])
    supervisors_on.job_ids.append(train)
    supervisors_on(inst, drfc_env)
    doc = ended(drfc_env, train)
    assert doc["state"] == "succeeded", doc["reason"]
    queued = [e for e in doc["events"] if e["event"] == "evaluation.queued"]
    assert len(queued) == 1
    eval_id = queued[0]["evaluation"]
    supervisors_on.job_ids.append(eval_id)
    edoc = ended(drfc_env, eval_id)
    assert edoc["state"] == "succeeded", edoc["reason"]
    assert [a["outcome"] for a in edoc["attempts"]] == ["succeeded"]
    jobs = jobs_store(drfc_env)
    spec = jobs.spec(eval_id)
    assert spec.evaluation is not None
    laps = spec.evaluation.laps

    # results.json: every lap, as pitstop's evaluation jobs record them
    results = json.loads(jobs.store.get(jobs.layout.results(eval_id)).body)
    assert [lap["trial"] for lap in results["laps"]] == list(range(1, laps + 1))
    assert results["world"] == "Oval_track" and results["model_job"] == train
    assert results["checkpoint"] == doc["attempts"][-1]["last_checkpoint"]

    # DRfC wrote where its run.env pointed it: the evaluation's own prefix, its metrics under
    # DR_LOCAL_S3_METRICS_PREFIX/evaluation/ and the simtrace with the same stamp
    prefix = edoc["attempts"][0]["model_prefix"]
    keys = sorted(i.key for i in jobs.store.list(f"{prefix}/"))
    metrics = [
        k for k in keys if re.fullmatch(rf"{prefix}/metrics/evaluation/evaluation-{STAMP}\.json", k)
    ]
    assert len(metrics) == 1, keys
    stamp = metrics[0][-19:-5]
    simtrace = f"{prefix}/evaluation-{stamp}/evaluation-simtrace/0-iteration.csv"
    assert simtrace in keys
    assert f"{prefix}/evaluation_params.yaml" in keys  # prepare-config.py's upload
    params = jobs.store.get(f"{prefix}/evaluation_params.yaml").body.decode()
    assert f"'NUMBER_OF_TRIALS': '{laps}'" in params and "'WORLD_NAME': 'Oval_track'" in params
    rows = json.loads(jobs.store.get(metrics[0]).body)["metrics"]
    assert len(rows) == laps
    # the model evaluated was only read
    trained = doc["attempts"][-1]["model_prefix"]
    assert not [i.key for i in jobs.store.list(f"{trained}/metrics/evaluation/")]

    # the robomaker container ran the laps and ended by itself; the stack was stopped after
    log = container_log(drfc_env, eval_id, 1)
    assert f"robomaker: lap {laps}:" in log and "robomaker: evaluation finished" in log
    assert "No work for coach in Evaluation Mode" in log
    assert_nothing_left(inst)
    assert inst.docker("stack", "ps", "deepracer-eval-0").returncode == 1  # dr-stop-evaluation
    run_env = (inst.drfc_home / "run.env").read_text()
    assert f"DR_LOCAL_S3_MODEL_PREFIX={prefix}\n" in run_env
    assert f"DR_EVAL_NUMBER_OF_TRIALS={laps}\n" in run_env


# -- the backend, one behaviour at a time (drive.py) -------------------------------------------

V5, V6 = "v5.3.3", "v6.0.4"


def _text(paths: list[str]) -> str:
    return "".join(Path(p).read_text(errors="replace") for p in paths if Path(p).exists())


def _model(s3: Any, bucket: str, prefix: str, name: str = "2_Step-2000.ckpt") -> None:
    """A trained model to evaluate: one complete checkpoint, last and best."""
    from pitstop.intake import defaults
    from pitstop.store.layout import ModelKeys

    keys = ModelKeys(prefix)
    for key in keys.checkpoint_files(name):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 64)
    s3.put_object(Bucket=bucket, Key=keys.coach_checkpoint, Body=name.encode())
    entry = {"name": name, "avg_eval_metric": 1.0, "time_stamp": 1.0}
    doc = {"best_checkpoint": entry, "last_checkpoint": entry}
    s3.put_object(Bucket=bucket, Key=keys.checkpoints_json, Body=json.dumps(doc).encode())
    s3.put_object(Bucket=bucket, Key=keys.metadata, Body=defaults()["model_metadata.json"])


def _evaluation(env: dict[str, str], s3: Any, bucket: str, name: str, laps: int) -> str:
    source = f"models/{name}-source/attempt-1"
    _model(s3, bucket, source)
    sim = {"checkpoint_interval_s": 0.2}
    ev = {"model_prefix": source, "laps": laps}
    return submit(env, name, sim, kind="evaluation", evaluation=ev, world="Oval_track")


def _metrics_rows(env: dict[str, str], job_id: str) -> list[int]:
    jobs = jobs_store(env)
    prefix = f"models/{job_id}/attempt-1"
    keys = [i.key for i in jobs.store.list(f"{prefix}/metrics/evaluation/")]
    return [len(json.loads(jobs.store.get(k).body)["metrics"]) for k in keys]


def test_swarm_keeps_an_ended_evaluation_stack_and_the_next_start_stops_it_first(
    instances, drfc_env, s3, bucket
) -> None:
    inst: Instance = instances(V6)
    job_id = _evaluation(drfc_env, s3, bucket, "drfc-eval-twice", laps=2)
    steps = [
        ["stage"],
        ["start"],
        ["wait_exited", 60],
        # the robomaker ended by itself; its Complete task keeps the stack, which makes
        # dr-start-evaluation refuse ("Processes running in stack")
        ["sh", "docker stack ps deepracer-eval-0 | grep -q Complete"],
        ["start"],
        ["wait_exited", 60],
        ["stop", 5],
    ]
    staged, _, first, stack_stays, _, second, stopped, logs = drive(inst, drfc_env, job_id, steps)
    assert staged == "2_Step-2000.ckpt"
    assert first == [True, 0] and stack_stays == 0
    assert second == [True, 0] and stopped is True
    text = _text(logs)
    assert "an earlier run was still up" in text and "stack deepracer-eval-0" in text
    assert "Processes running in stack" not in text
    assert inst.docker("stack", "ps", "deepracer-eval-0").returncode == 1  # stopped
    assert [c["name"] for c in inst.containers(running=True)] == []
    assert _metrics_rows(drfc_env, job_id) in ([2], [2, 2])  # (one stamp a second)


def test_compose_style_runs_and_downs_the_evaluation_project(
    instances, drfc_env, s3, bucket
) -> None:
    inst: Instance = instances(V5)
    r = inst.sh("sed -i 's/^DR_DOCKER_STYLE=.*/DR_DOCKER_STYLE=compose/' system.env")
    assert r.returncode == 0
    job_id = _evaluation(drfc_env, s3, bucket, "drfc-eval-compose", laps=3)
    steps = [["stage"], ["start"], ["status"], ["wait_exited", 60], ["stop", 5]]
    _, _, status, exited, stopped, logs = drive(inst, drfc_env, job_id, steps)
    assert status[0] in ("running", "exited")
    assert exited == [True, 0] and stopped is True
    # compose names: <project>-<service>-1; dr-stop-evaluation's `docker compose down`
    # removed them
    assert not [c for c in inst.containers() if c["name"].startswith("deepracer-eval-0")]
    log = _text(logs)
    assert "deepracer-eval-0-robomaker-1" in log  # its output was kept before the down
    assert _metrics_rows(drfc_env, job_id) == [3]
