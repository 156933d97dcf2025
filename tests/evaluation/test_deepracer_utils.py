"""pitstop's files load in deepracer-utils itself, the community's log analysis library
(a dev dependency): a job's attempts, through ``pitstop analysis``'s one-folder view, give
the training trace, ``simulation_agg``, ``TrainingMetrics`` and an evaluation trace, from a
folder and straight from S3 (issue 25).

The method is proven first on genuine simapp output: deepracer-utils' own DRfC sample folder
(tests/data/sample-drfc-1-logs, MIT-0, its README names the source) must give deepracer-utils'
own figures (its ``tests/deepracer/logs/test_logs.py``: ``test_episode_analysis_drfc1_local``,
``test_evaluation_analysis_drfc1_local``). The same calls then read:

- a simulated job whose attempts end in a freeze, a crash (after which simapp's exit upload
  leaves a partial iteration) and a preemption, then a success, plus an evaluation job of it:
  the real simulated trainer process against the moto server, as
  tests/trainers/test_simapp_formats.py runs it, the attempts recorded as the supervisor
  records them;
- the sample folder itself as two attempts of one job: genuine simapp files joined.

deepracer-utils' rules (issue 25's research, section 1, from ``deepracer/logs/log.py`` and
``metrics.py``): episodes per iteration = ``max(episode) + 1`` of ``0-iteration.csv``, every
iteration holding that many; a metrics row's iteration = ``(episode - 1) // max(trial)``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pitstop.action_space import default_hyperparameters, default_metadata
from pitstop.core.records import Attempt, Evaluation, JobSpec, JobStatus
from pitstop.errors import InvalidInput
from pitstop.evaluation import analysis
from pitstop.evaluation.jobs import evaluation_spec
from pitstop.evaluation.staging import stage
from pitstop.intake import Submission, build_spec
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, ModelKeys, model_prefix
from pitstop.store.objects import S3Store
from pitstop.trainers.base import AttemptPlan
from tests.helpers import wait_for

dru = pytest.importorskip("deepracer.logs", reason="deepracer-utils (the dev extra)")
AnalysisUtils, DeepRacerLog = dru.AnalysisUtils, dru.DeepRacerLog
S3FileHandler, TrainingMetrics = dru.S3FileHandler, dru.TrainingMetrics

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-drfc-1-logs"
WORLD = "reInvent2019_track"
PER = 4  # num_episodes_between_training
CHECKPOINTS = 12
REWARD = b"def reward_function(params):\n    return 1.0\n"
TRAIN_COLUMNS = 14  # deepracer-utils' Constants.TRAIN_COLUMNS
EVAL_COLUMNS = 12  # Constants.EVAL_COLUMNS


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    # deepracer-utils and pandas warn about their own internals (deprecations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def training(folder: Path | None = None, fh: Any = None) -> tuple[Any, Any]:
    """(the log, ``simulation_agg``) of a model folder or a file handler."""
    log = DeepRacerLog(model_folder=str(folder)) if folder else DeepRacerLog(filehandler=fh)
    log.load_training_trace()
    return log, AnalysisUtils.simulation_agg(log.dataframe())


def evaluations(folder: Path | None = None, fh: Any = None) -> Any:
    log = DeepRacerLog(model_folder=str(folder)) if folder else DeepRacerLog(filehandler=fh)
    log.load_evaluation_trace()
    return AnalysisUtils.simulation_agg(log.dataframe(), firstgroup="stream", is_eval=True)


def fastest(agg: Any) -> Any:
    return agg[agg["progress"] == 100].nsmallest(1, "time").iloc[0]


def check_sample(agg: Any) -> None:
    """deepracer-utils' own figures for the sample's training trace."""
    assert agg.shape == (540, TRAIN_COLUMNS)
    best = fastest(agg)
    assert (best["episode"], best["steps"]) == (385, 184.0)
    assert best["time"] == pytest.approx(12.212)


# -- the method, on genuine simapp output -----------------------------------------------------
def test_the_sample_gives_deepracer_utils_own_figures() -> None:
    log, agg = training(SAMPLE)
    check_sample(agg)
    assert len(log.hyperparameters()) == 13 and len(log.action_space()) == 14
    metrics = TrainingMetrics(None, fname=str(SAMPLE / "metrics" / "TrainingMetrics.json"))
    assert (len(metrics.getTraining()), len(metrics.getEvaluation())) == (541, 59)
    evaluation = evaluations(SAMPLE)
    assert evaluation.shape == (9, EVAL_COLUMNS)
    assert fastest(evaluation)["time"] == pytest.approx(13.405)


# -- the pure parts ---------------------------------------------------------------------------
def trace(episodes: list[int], done_last: bool = True, steps: int = 3) -> analysis.Trace:
    rows = []
    for i, e in enumerate(episodes):
        for s in range(steps):
            done = s == steps - 1 and (done_last or i < len(episodes) - 1)
            rows.append([str(e), str(s + 1), str(done)])
    return analysis.Trace(["episode", "steps", "done"], rows)


def test_an_iteration_is_complete_with_its_episodes_each_done() -> None:
    assert trace([0, 1, 2, 3]).complete(4)
    assert not trace([0, 1, 2]).complete(4)  # an attempt that ended mid-iteration
    assert not trace([0, 1, 2, 3], done_last=False).complete(4)  # its last episode cut
    traces = [trace([0, 1, 2, 3]), trace([4, 5, 6, 7]), trace([8, 9]), trace([0, 1, 2, 3])]
    assert analysis.episodes_per_iteration(traces) == 4
    assert analysis.kept_iterations(traces, 4) == 2  # the first incomplete one ends it
    assert analysis.kept_iterations([trace([0, 1])], 4) == 0  # not even 0-iteration.csv


def test_renumbering_changes_only_the_episode_column() -> None:
    body = b"episode,steps,done\n7,1,False\n7,2,True\n9,1,False\n9,2,True\n"
    t = analysis.parse_trace(body, "x")
    assert t.renumbered(40) == b"episode,steps,done\n40,1,False\n40,2,True\n41,1,False\n41,2,True\n"  # fmt: skip


def row(phase: str, episode: int, trial: int) -> dict[str, Any]:
    return {"phase": phase, "episode": episode, "trial": trial, "completion_percentage": 1}


def test_metrics_join_as_one_run() -> None:
    first = [row("training", 1, 1), row("training", 2, 2), row("evaluation", 2, 2),
             row("training", 3, 1), row("training", 4, 2), row("evaluation", 4, 2),
             row("training", 5, 1), row("evaluation", 5, 1)]  # fmt: skip
    second = [row("evaluation", 0, 0), row("training", 1, 1), row("training", 2, 2),
              row("evaluation", 2, 2), row("training", 3, 1)]  # fmt: skip
    # the first attempt kept 2 iterations of 2 (its episode 5 is in a left-out iteration)
    joined = analysis.join_metrics([(first, 2), (second, 1)], 2)
    got = [(r["phase"][0], r["episode"], r["trial"]) for r in joined]
    assert got == [
        ("t", 1, 1), ("t", 2, 2), ("e", 2, 2), ("t", 3, 1), ("t", 4, 2), ("e", 4, 2),
        ("e", 4, 2),  # an evaluation before the attempt's first episode keeps the last one's
        ("t", 5, 1), ("t", 6, 2), ("e", 6, 2),
        ("t", 7, 1),  # the last attempt keeps its rows past its simtrace, as simapp's run ahead
    ]  # fmt: skip


# -- a job -------------------------------------------------------------------------------------
@dataclass
class Rig:
    store: S3Store
    jobs: JobStore
    bucket: str
    endpoint: str
    tmp: Path

    def record(self, job_id: str, attempt: Attempt) -> None:
        """The attempt in state.json, as the supervisor records it."""

        def change(status: JobStatus) -> JobStatus:
            status.attempts = [a for a in status.attempts if a.n != attempt.n] + [attempt]
            return status

        self.jobs.update(job_id, change)

    def start(self, spec: JobSpec, n: int, pretrained: str | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
        plan = AttemptPlan(
            job_id=spec.id, attempt=n, spec=spec, model_prefix=model_prefix(spec.id, n),
            pretrained_prefix=pretrained, pretrained_checkpoint="last" if pretrained else None,
            bucket=self.bucket, region="us-east-1", endpoint_url=self.endpoint,
            custom_files_prefix=self.jobs.layout.custom_files(spec.id), work_dir=self.tmp,
        )  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("PITSTOP_")}
        log = (self.tmp / f"{spec.id}-{n}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "pitstop.trainers.simulated_run"],
            env={**env, **plan.env()},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def attempt(self, spec: JobSpec, n: int, outcome: str, pretrained: str | None = None, *, stop_when: Any = None) -> int | None:  # fmt: skip
        """Run attempt ``n`` to its end, or until ``stop_when()`` (then SIGTERM, as the
        supervisor stops a stalled or preempted trainer); record it."""
        proc = self.start(spec, n, pretrained)
        try:
            if stop_when is not None:
                wait_for(stop_when, 60, f"attempt {n} to get far enough")
                proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.record(spec.id, Attempt(n=n, model_prefix=model_prefix(spec.id, n), outcome=outcome))
        return code

    def get(self, key: str) -> bytes | None:
        return self.store.get(key).body if self.store.head(key) is not None else None

    def simtraces(self, prefix: str) -> int:
        keys, n = ModelKeys(prefix), 0
        while self.store.head(keys.simtrace(n)) is not None:
            n += 1
        return n


@pytest.fixture
def rig(settings_env: dict[str, str], bucket: str, s3_endpoint: str, tmp_path: Path) -> Rig:
    store = S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)
    return Rig(store, JobStore(store, Layout("pitstop")), bucket, s3_endpoint, tmp_path)


def run_analysis(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from pitstop.cli.main import main

    code = main(["analysis", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def training_job(rig: Rig) -> JobSpec:
    hyper = {**default_hyperparameters(), "num_episodes_between_training": PER}
    files = {
        "reward_function.py": REWARD,
        "model_metadata.json": json.dumps(default_metadata()).encode(),
        "hyperparameters.json": json.dumps(hyper).encode(),
    }
    faults = [
        {"kind": "freeze", "attempt": 1, "after_checkpoint": 2},
        {"kind": "crash", "attempt": 2, "after_checkpoint": 2, "exit_code": 3},
    ]
    simulation = {"checkpoint_interval_s": 0.2, "checkpoints": CHECKPOINTS, "faults": faults}
    fields = {"world": WORLD, "simulation": simulation}
    spec = build_spec(Submission(name="dru", files=files, fields=fields))
    rig.jobs.create(spec, files)
    return spec


def freeze_rows(rig: Rig, prefix: str) -> bool:
    """The freeze's evaluation rows are coming (after the iteration's own 2-4)."""
    body = rig.get(ModelKeys(prefix).metrics)
    rows = json.loads(body)["metrics"] if body else []
    training = [i for i, r in enumerate(rows) if r["phase"] == "training"]
    return len(training) == 2 * PER and len(rows) - training[-1] > 6


def exit_upload(rig: Rig, prefix: str) -> None:
    """What simapp uploads when it exits mid-iteration (``exit_if_trainer_done``): the
    iteration's simtrace so far (2 episodes and part of a third), and metrics rows for the
    episodes it finished."""
    keys = ModelKeys(prefix)
    n = rig.simtraces(prefix)
    last = analysis.parse_trace(rig.get(keys.simtrace(n - 1)) or b"", "last")
    ep = last.header.index("episode")
    firsts = [r for r in last.rows if r[ep] in last.episodes[:3]]
    partial = analysis.Trace(last.header, firsts[: len(firsts) - 2])  # the third one cut
    rig.store.put(keys.simtrace(n), partial.renumbered(n * PER))
    doc = json.loads(rig.get(keys.metrics) or b"")
    done = max(r["episode"] for r in doc["metrics"])
    doc["metrics"] += [{**doc["metrics"][0], "episode": done + t, "trial": t} for t in (1, 2)]
    rig.store.put(keys.metrics, json.dumps(doc).encode())


@pytest.mark.slow
def test_a_job_with_a_freeze_a_crash_and_a_preemption_reads_as_one_model(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = training_job(rig)
    p = [model_prefix(spec.id, n) for n in range(5)]  # p[n]: attempt n's prefix
    # 1: frozen after 2 checkpoints, stopped as a stall; 2: crashed after 2 more, its exit
    # upload a partial iteration; 3: preempted after 2 iterations; 4: trains to the end
    rig.attempt(spec, 1, "stalled", stop_when=lambda: freeze_rows(rig, p[1]))
    assert rig.attempt(spec, 2, "crashed", p[1]) == 3
    exit_upload(rig, p[2])
    rig.attempt(spec, 3, "preempted", p[2], stop_when=lambda: rig.simtraces(p[3]) >= 2)
    assert rig.attempt(spec, 4, "succeeded", p[3]) == 0
    # an evaluation job of it (evaluate_on, pitstop evaluate): 3 laps of the last checkpoint
    ev = Evaluation(model_prefix=p[4], model_job=spec.id, laps=3)
    ev_spec = evaluation_spec("dru-on-track", WORLD, ev, simulation={"checkpoint_interval_s": 0.05})  # fmt: skip
    rig.jobs.create(ev_spec, {})
    stage(rig.store, ev, model_prefix(ev_spec.id, 1))
    assert rig.attempt(ev_spec, 1, "succeeded") == 0

    kept = [2, 2, rig.simtraces(p[3]), rig.simtraces(p[4])]
    assert rig.simtraces(p[2]) == 3  # the partial one is there, and left out
    iterations = sum(kept)
    out = tmp_path / "view"
    said = run_analysis([spec.id, "--out", str(out), "--to", f"s3://{rig.bucket}/views/dru"], capsys)  # fmt: skip
    assert f"{iterations} iterations of {PER} episodes from 4 attempts" in said
    assert f"attempt 2: left out {ModelKeys(p[2]).simtrace(2)}" in said
    assert "(3 of 4 episodes, 1 unfinished: the attempt ended mid-iteration)" in said
    assert "1 evaluation" in said and "DeepRacerLog(model_folder=" in said

    # the training trace: every attempt's iterations, PER episodes each, numbered on
    log, agg = training(out)
    assert log.fh.type.name == "DRFC_MODEL_SINGLE_WORKERS"
    assert agg.shape == (iterations * PER, TRAIN_COLUMNS)
    assert sorted(agg["episode"]) == list(range(iterations * PER))
    assert set(agg.groupby("iteration").size()) == {PER}
    assert list(agg["iteration"].unique()) == list(range(iterations))
    assert (agg["progress"] == 100).any()
    assert log.hyperparameters()["num_episodes_between_training"] == PER
    actions = default_metadata()["action_space"]
    assert isinstance(actions, list) and len(log.action_space()) == len(actions)

    # the metrics: one run; a training row's iteration and outcome are its simtrace episode's
    metrics = TrainingMetrics(None, fname=str(out / "metrics" / "TrainingMetrics.json"))
    train, evaluation = metrics.getTraining(), metrics.getEvaluation()
    assert len(train) == iterations * PER and len(evaluation) > 0
    assert sorted(train["episode"]) == list(range(1, iterations * PER + 1))
    by_episode = agg.set_index("episode")
    for _, r in train.iterrows():
        step = by_episode.loc[r["episode"] - 1]
        assert r["iteration"] == step["iteration"]
        assert r["completion"] == int(step["progress"])
    assert set(evaluation["iteration"]) <= set(range(iterations))

    # the evaluation job's trace: one stream of 3 laps
    laps = evaluations(out)
    assert laps.shape == (3, EVAL_COLUMNS) and laps["stream"].nunique() == 1
    (stamp,) = laps["stream"].unique()  # its metrics file beside it, as DRfC names it
    lap_rows = json.loads((out / "metrics" / "evaluation" / f"evaluation-{stamp}.json").read_text())
    assert [r["trial"] for r in lap_rows["metrics"]] == [1, 2, 3]

    # straight from S3: the view written with --to reads the same
    fh = S3FileHandler(bucket=rig.bucket, prefix="views/dru", s3_endpoint_url=rig.endpoint)
    _, from_s3 = training(fh=fh)
    assert from_s3.shape == agg.shape
    assert list(from_s3.sort_values("episode")["time"]) == pytest.approx(list(agg.sort_values("episode")["time"]))  # fmt: skip
    fh = S3FileHandler(bucket=rig.bucket, prefix="views/dru", s3_endpoint_url=rig.endpoint)
    assert evaluations(fh=fh).shape == (3, EVAL_COLUMNS)
    s3_metrics = TrainingMetrics(rig.bucket, model_name="views/dru", s3_endpoint_url=rig.endpoint)
    assert len(s3_metrics.getTraining()) == iterations * PER


def upload_sample(rig: Rig, prefix: str) -> None:
    for path in sorted(SAMPLE.rglob("*")):
        if path.is_file() and path.name != "README.md":
            rig.store.put(f"{prefix}/{path.relative_to(SAMPLE).as_posix()}", path.read_bytes())


@pytest.mark.slow
def test_genuine_simapp_attempts_join_as_one_model(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An attempt that ended in its first iteration, then the sample as two attempts: 54
    iterations of 20 episodes (the first attempt's partial 0-iteration.csv would have sized
    them at 10), the third attempt's episodes numbered on by 540, its fastest the sample's
    (385 + 540)."""
    spec = build_spec(Submission(name="sample", files={"reward_function.py": REWARD}))
    rig.jobs.create(spec, {"reward_function.py": REWARD})
    first = ModelKeys(model_prefix(spec.id, 1))
    head, *rows = (SAMPLE / "training-simtrace" / "0-iteration.csv").read_text().splitlines()
    partial = [r for r in rows if int(r.split(",")[0]) < 10]  # simapp's exit upload
    rig.store.put(first.simtrace(0), "\n".join([head, *partial]).encode())
    doc = json.loads((SAMPLE / "metrics" / "TrainingMetrics.json").read_text())
    doc["metrics"] = [r for r in doc["metrics"] if r["episode"] <= 10]
    rig.store.put(first.metrics, json.dumps(doc).encode())
    rig.record(spec.id, Attempt(n=1, model_prefix=first.prefix, outcome="crashed"))
    for n in (2, 3):
        upload_sample(rig, model_prefix(spec.id, n))
        rig.record(spec.id, Attempt(n=n, model_prefix=model_prefix(spec.id, n), outcome="x"))
    out = tmp_path / "view"
    said = run_analysis([spec.id, "--out", str(out)], capsys)
    assert "54 iterations of 20 episodes from 3 attempts" in said
    assert "attempt 1: no iteration" in said
    assert "(10 of 20 episodes, 0 unfinished: the attempt ended mid-iteration)" in said
    assert "6 evaluations" in said  # the 3 of each sample, each its own stamp
    _, agg = training(out)
    assert agg.shape == (1080, TRAIN_COLUMNS)
    assert sorted(agg[agg["progress"] == 100].nsmallest(2, "time")["episode"]) == [385, 925]
    check_sample(agg[agg["episode"] < 540])
    metrics = TrainingMetrics(None, fname=str(out / "metrics" / "TrainingMetrics.json"))
    # rows past an attempt's simtrace go (the first's 10, the second's 541st), but the last
    # attempt's, as simapp's own metrics run ahead
    assert len(metrics.getTraining()) == 540 + 541
    assert len(metrics.getEvaluation()) == 2 * 59  # the 541st is the sample's last row
    assert evaluations(out).shape == (18, EVAL_COLUMNS)
    # a folder is written once: a second view into it is refused, and nothing is read
    from pitstop.cli.main import main

    assert main(["analysis", spec.id, "--out", str(out)]) != 0
    assert "not an empty directory" in capsys.readouterr().err


def test_what_a_view_refuses_and_what_it_says(rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    from pitstop.cli.main import main

    spec = build_spec(Submission(name="workers", files={"reward_function.py": REWARD}))
    rig.jobs.create(spec, {"reward_function.py": REWARD})
    prefix = model_prefix(spec.id, 1)
    body = (SAMPLE / "training-simtrace" / "0-iteration.csv").read_bytes()
    rig.store.put(ModelKeys(f"{prefix}/0").simtrace(0), body)  # DRfC with DR_WORKERS=2
    rig.record(spec.id, Attempt(n=1, model_prefix=prefix, outcome="running"))
    view = analysis.job_view(rig.jobs, spec.id)
    # worker 0's folder alone (worker 1 wrote nothing yet): one worker's run, at the top
    assert (view.workers, view.iterations, view.episodes_per_iteration) == (1, 1, 20)
    assert list(view.paths()).count("training-simtrace/0-iteration.csv") == 1
    # --to: never into the job's own prefixes, nor onto objects already there
    for to, why in [(f"{prefix}/view", "inside the attempt's own prefix"),
                    (prefix, "inside the attempt's own prefix"),
                    (f"s3://{rig.bucket}/models", "already holds objects"),
                    ("s3://another-bucket/view", "not in this bucket")]:  # fmt: skip
        assert main(["analysis", spec.id, "--to", to]) != 0
        assert why in capsys.readouterr().err
    # an evaluation job is not a model: its training job is named
    ev = Evaluation(model_prefix=prefix, model_job=spec.id)
    ev_spec = evaluation_spec("workers-eval", WORLD, ev)
    rig.jobs.create(ev_spec, {})
    assert main(["analysis", ev_spec.id, "--to", "views/x"]) != 0
    assert f"its training job is {spec.id}" in capsys.readouterr().err


def upload_two_workers(rig: Rig, prefix: str, *, worker_1_iterations: int = 27) -> None:
    """The sample as DRfC with ``DR_WORKERS=2`` writes it: each worker's simtrace in its own
    folder (worker 1 plays the same share: here the sample's files again), worker 0's metrics
    in ``TrainingMetrics.json`` and worker 1's training rows in ``TrainingMetrics_1.json``.
    Worker 1 stops after ``worker_1_iterations`` files, the last one cut mid-iteration."""
    keys = ModelKeys(prefix)
    traces = SAMPLE / "training-simtrace"
    for i in range(27):
        body = (traces / f"{i}-iteration.csv").read_bytes()
        rig.store.put(keys.worker_simtrace(0, i), body)
        if i < worker_1_iterations:
            rig.store.put(keys.worker_simtrace(1, i), body)
        elif i == worker_1_iterations:  # the exit upload of an iteration in progress
            head, *rows = body.decode().splitlines()
            partial = [r for r in rows if int(r.split(",")[0]) % 20 < 10]
            rig.store.put(keys.worker_simtrace(1, i), "\n".join([head, *partial]).encode())
    doc = json.loads((SAMPLE / "metrics" / "TrainingMetrics.json").read_text())
    rig.store.put(keys.metrics, json.dumps(doc).encode())
    doc["metrics"] = [r for r in doc["metrics"] if r["phase"] == "training"]  # worker 0 evaluates
    rig.store.put(keys.training_metrics(1), json.dumps(doc).encode())
    rig.store.put(keys.metadata, (SAMPLE / "model" / "model_metadata.json").read_bytes())


@pytest.mark.slow
def test_two_rollout_workers_join_as_one_model_in_step(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DR_WORKERS=2 over two attempts: the first ends with worker 1 mid-iteration 26, so
    iteration 26 goes for both workers (deepracer-utils numbers the workers' episodes of an
    iteration together); the second runs whole. deepracer-utils then reads 53 iterations of
    2 x 20 episodes, every (worker, episode) once, ``unique_episode`` 0..2119 without a gap,
    and each worker's metrics as one run."""
    spec = build_spec(Submission(name="workers", files={"reward_function.py": REWARD}))
    rig.jobs.create(spec, {"reward_function.py": REWARD})
    upload_two_workers(rig, model_prefix(spec.id, 1), worker_1_iterations=26)
    upload_two_workers(rig, model_prefix(spec.id, 2))
    for n in (1, 2):
        rig.record(spec.id, Attempt(n=n, model_prefix=model_prefix(spec.id, n), outcome="x"))
    out = tmp_path / "view"
    said = run_analysis([spec.id, "--out", str(out)], capsys)
    assert "53 iterations of 40 episodes (20 + 20 of 2 workers) from 2 attempts" in said
    assert "attempt 1: iterations 0-25, attempt 2: iterations 26-52" in said
    assert "complete, but another rollout worker's iteration is not" in said  # worker 0's 26
    assert "(10 of 20 episodes, 0 unfinished" in said  # worker 1's 26
    assert "addRound(PREFIX, training_round=1, workers=2)" in said
    assert not (out / "training-simtrace").exists()  # it would hide the workers' folders
    log, _ = training(out)
    df = log.dataframe()
    assert sorted(df["worker"].unique()) == [0, 1]
    assert df["iteration"].max() == 52
    unique = sorted(df["unique_episode"].unique())
    assert unique == list(range(53 * 40))
    # worker 1's episodes of iteration m are 20..39 of it: m*40+20 ...
    first_of_attempt_2 = df[(df["worker"] == 1) & (df["iteration"] == 26)]["unique_episode"]
    assert (first_of_attempt_2.min(), first_of_attempt_2.max()) == (26 * 40 + 20, 26 * 40 + 39)
    # by unique_episode, as deepracer-utils says to group several workers' episodes
    agg = AnalysisUtils.simulation_agg(df, secondgroup="unique_episode")
    assert agg.shape == (53 * 40, TRAIN_COLUMNS)
    metrics = TrainingMetrics(None)
    for w, name in enumerate(("TrainingMetrics.json", "TrainingMetrics_1.json")):
        metrics.addRound(None, fname=str(out / "metrics" / name), training_round=1, worker=w)
    training_rows = metrics.getTraining()
    # rows past attempt 1's kept iterations go (26 x 20 of 540 for each worker); attempt 2's stay
    assert len(training_rows) == 2 * (26 * 20 + 541)
    for w in (0, 1):
        episodes = training_rows[training_rows["worker"] == w]["episode"].tolist()
        assert episodes == list(range(1, 26 * 20 + 541 + 1))


def test_attempts_with_different_workers_are_refused_in_one_line(rig: Rig) -> None:
    spec = build_spec(Submission(name="mixed", files={"reward_function.py": REWARD}))
    rig.jobs.create(spec, {"reward_function.py": REWARD})
    upload_two_workers(rig, model_prefix(spec.id, 1))
    upload_sample(rig, model_prefix(spec.id, 2))  # one worker
    for n in (1, 2):
        rig.record(spec.id, Attempt(n=n, model_prefix=model_prefix(spec.id, n), outcome="x"))
    with pytest.raises(InvalidInput, match=r"ran with 1 and 2 rollout workers.*alone"):
        analysis.job_view(rig.jobs, spec.id)


def test_an_attempt_that_ended_before_worker_1_wrote_keeps_no_iteration(rig: Rig) -> None:
    """Two workers; the first attempt ended with worker 0's first file up and worker 1's not
    (one folder): its iteration 0 is not every worker's, so it keeps nothing, and the
    second attempt's 27 iterations are the view's 0..26."""
    spec = build_spec(Submission(name="early", files={"reward_function.py": REWARD}))
    rig.jobs.create(spec, {"reward_function.py": REWARD})
    first = ModelKeys(model_prefix(spec.id, 1))
    body = (SAMPLE / "training-simtrace" / "0-iteration.csv").read_bytes()
    rig.store.put(first.worker_simtrace(0, 0), body)
    upload_two_workers(rig, model_prefix(spec.id, 2))
    for n in (1, 2):
        rig.record(spec.id, Attempt(n=n, model_prefix=model_prefix(spec.id, n), outcome="x"))
    view = analysis.job_view(rig.jobs, spec.id)
    assert (view.workers, view.iterations, view.episodes_per_worker) == (2, 27, [20, 20])
    assert [(a.attempt, a.iterations, a.first_iteration) for a in view.attempts] == [
        (1, 0, 0),
        (2, 27, 0),
    ]
    assert any(first.worker_simtrace(0, 0) in note for note in view.notes)
