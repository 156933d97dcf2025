"""An evaluation job on the DRfC backend: the ``run.env`` it renders and how the evaluation
stack's state maps to the trainer's status (``trainers/drfc_eval.py``).

The keys are the ones DRfC's ``scripts/evaluation/prepare-config.py`` (v5.3.3 and v6.0.4)
reads; that the real scripts run with them is tests/drfc/test_evaluation.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitstop.core.records import Evaluation, JobSpec
from pitstop.core.states import TrainerStatus
from pitstop.store.layout import ModelKeys, model_prefix
from pitstop.trainers import drfc_eval
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.drfc import EVAL_STACK, env_value, render_env_files
from pitstop.trainers.drfc_eval import Seen

RELEASES = Path(__file__).resolve().parents[2].parent / "shared" / "drfc"


def eval_plan(tmp_path: Path, ev: Evaluation) -> AttemptPlan:
    spec = JobSpec(
        id="ev-abc123",
        name="ev",
        submitted_at="2026-11-21T00:00:00Z",
        world="Oval_track",
        kind="evaluation",
        evaluation=ev,
    )
    return AttemptPlan(
        job_id=spec.id,
        attempt=1,
        spec=spec,
        model_prefix=model_prefix(spec.id, 1),
        pretrained_prefix=None,
        pretrained_checkpoint=None,
        bucket="my-bucket",
        region="eu-west-1",
        endpoint_url=None,
        custom_files_prefix="pitstop/jobs/ev-abc123/custom_files/",
        work_dir=tmp_path,
    )


def test_an_evaluation_renders_its_dr_eval_keys_into_run_env(tmp_path: Path) -> None:
    ev = Evaluation(
        model_prefix="models/train-1/attempt-2",
        checkpoint="best",
        laps=5,
        continuous=True,
        max_resets=7,
        off_track_penalty_s=2.5,
        reverse=True,
    )
    plan = eval_plan(tmp_path, ev)
    run_env = render_env_files(plan)["run.env"]
    values = {
        key: env_value(run_env, key)
        for key in (
            "DR_LOCAL_S3_MODEL_PREFIX",
            "DR_LOCAL_S3_METRICS_PREFIX",
            "DR_LOCAL_S3_PRETRAINED",
            "DR_EVAL_NUMBER_OF_TRIALS",
            "DR_EVAL_IS_CONTINUOUS",
            "DR_EVAL_MAX_RESETS",
            "DR_EVAL_OFF_TRACK_PENALTY",
            "DR_EVAL_REVERSE_DIRECTION",
            "DR_EVAL_CHECKPOINT",
            "DR_EVAL_SAVE_MP4",
        )
    }
    assert values == {
        # the attempt's own prefix: the supervisor staged the checkpoint there
        "DR_LOCAL_S3_MODEL_PREFIX": plan.model_prefix,
        "DR_LOCAL_S3_METRICS_PREFIX": f"{plan.model_prefix}/metrics",
        "DR_LOCAL_S3_PRETRAINED": "False",
        "DR_EVAL_NUMBER_OF_TRIALS": "5",
        "DR_EVAL_IS_CONTINUOUS": "True",
        "DR_EVAL_MAX_RESETS": "7",
        "DR_EVAL_OFF_TRACK_PENALTY": "2.5",
        "DR_EVAL_REVERSE_DIRECTION": "True",
        # staging names the chosen checkpoint (here: best) as both best and last
        "DR_EVAL_CHECKPOINT": "last",
        "DR_EVAL_SAVE_MP4": "False",
    }
    # DRfC reads the collision penalty from DR_COLLISION_PENALTY; a job sets none
    assert "COLLISION_PENALTY" not in run_env


def test_the_metrics_key_drfc_derives_from_run_env_is_the_one_pitstop_reads(
    tmp_path: Path,
) -> None:
    """prepare-config.py: ``'{}/evaluation/evaluation-{}.json'.format(DR_LOCAL_S3_METRICS_PREFIX,
    eval_time)``, eval_time ``%Y%m%d%H%M%S``; SIMTRACE_S3_PREFIX ``<model prefix>/evaluation-<ts>``."""
    plan = eval_plan(tmp_path, Evaluation(model_prefix="models/t/attempt-1"))
    run_env = render_env_files(plan)["run.env"]
    metrics_prefix = env_value(run_env, "DR_LOCAL_S3_METRICS_PREFIX")
    prefix = env_value(run_env, "DR_LOCAL_S3_MODEL_PREFIX")
    stamp = "20261204223000"
    keys = ModelKeys(plan.model_prefix)
    metrics = f"{metrics_prefix}/evaluation/evaluation-{stamp}.json"
    assert keys.parse_evaluation_metrics(metrics) == f"evaluation-{stamp}.json"
    assert metrics.startswith(keys.evaluation_dir)
    simtrace = f"{prefix}/evaluation-{stamp}/evaluation-simtrace/0-iteration.csv"
    assert keys.parse_evaluation_simtrace(simtrace) == (stamp, 0)


@pytest.mark.parametrize("version", ["v5.3.3", "v6.0.4"])
def test_every_key_rendered_is_one_drfcs_evaluation_reads(tmp_path: Path, version: str) -> None:
    config = RELEASES / version / "scripts" / "evaluation" / "prepare-config.py"
    if not config.is_file():
        pytest.skip(f"no DRfC release at {RELEASES / version}")
    source = config.read_text()
    for key in drfc_eval.eval_keys(Evaluation(model_prefix="m/1")):
        read = f"'{key}'" in source or f'"{key}"' in source
        assert read, f"{version}'s prepare-config.py does not read {key}"
    assert "'DR_LOCAL_S3_METRICS_PREFIX'" in source


def test_a_training_job_renders_no_evaluation_keys_and_its_own_metrics_prefix(
    tmp_path: Path,
) -> None:
    """DRfC's template says ``DR_LOCAL_S3_METRICS_PREFIX=$DR_LOCAL_S3_MODEL_PREFIX/metrics``;
    rendered as a value, so a training attempt after an evaluation never writes its metrics
    into the evaluation's prefix."""
    from tests.trainers.test_drfc import plan

    p = plan(tmp_path)
    run_env = render_env_files(p)["run.env"]
    assert "DR_EVAL_" not in run_env
    assert env_value(run_env, "DR_LOCAL_S3_METRICS_PREFIX") == f"{p.model_prefix}/metrics"


def test_the_evaluation_stack_and_its_containers() -> None:
    assert EVAL_STACK == "deepracer-eval-0"
    swarm = "deepracer-eval-0_robomaker.1.abcdefghijklmnopqrstuvwxy"
    compose = "deepracer-eval-0-robomaker-1"
    assert drfc_eval.is_robomaker(swarm, EVAL_STACK) and drfc_eval.is_robomaker(compose, EVAL_STACK)
    for other in ("deepracer-eval-0_rl_coach.1.x", "deepracer-0_robomaker.1.x", "robomaker"):
        assert not drfc_eval.is_robomaker(other, EVAL_STACK)
    assert drfc_eval.in_stack("deepracer-eval-0-rl_coach-1", EVAL_STACK)
    assert not drfc_eval.in_stack("deepracer-0_rl_coach.1.x", EVAL_STACK)


RUNNING, EXITED = TrainerStatus.RUNNING, TrainerStatus.EXITED
ROBO = "deepracer-eval-0_robomaker.1.t"


@pytest.mark.parametrize(
    ("robomaker", "tasks", "swarm", "expected"),
    [
        # the worker drives its laps
        ([Seen(ROBO, True)], [], True, (RUNNING, None)),
        # it ended after its laps (the stack stays under swarm): its exit code
        ([Seen(ROBO, False, 0)], [], True, (EXITED, 0)),
        ([Seen(ROBO, False, 1)], [], False, (EXITED, 1)),
        # swarm has not started the task yet
        ([], [("deepracer-eval-0_robomaker.1", "preparing", "")], True, (RUNNING, None)),
        # swarm did not answer: unknown, not a crash
        ([], None, True, (RUNNING, None)),
        # swarm rejected it (no container ever ran): ended, no exit code
        ([], [("deepracer-eval-0_robomaker.1", "rejected", "No such image")], True, (EXITED, None)),
        # rl_coach's task alone (it echoes and exits) says nothing about the evaluation
        ([], [("deepracer-eval-0_rl_coach.1", "running", "")], True, (EXITED, None)),
        # compose: no container, no stack
        ([], [], False, (EXITED, None)),
    ],
)
def test_status_follows_the_robomaker_container(
    robomaker: list[Seen],
    tasks: list[tuple[str, str, str]] | None,
    swarm: bool,
    expected: tuple[TrainerStatus, int | None],
) -> None:
    assert drfc_eval.status(robomaker, tasks, swarm) == expected
