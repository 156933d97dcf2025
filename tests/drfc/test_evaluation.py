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

import pytest

from tests.drfc.sandbox import Instance
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
