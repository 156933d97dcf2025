"""Evaluation's pure parts and its S3 parts against moto's server: the lap model, metrics,
the tuning search, staging a checkpoint copy, the leaderboard keys, results."""

from __future__ import annotations

import json

import pytest

from pitstop.core.records import Attempt, Evaluation, JobSpec, JobStatus
from pitstop.errors import CorruptObject, InvalidInput, NotFound
from pitstop.evaluation import laps, results, tune
from pitstop.evaluation.board import entries, leaderboard
from pitstop.evaluation.jobs import (
    collect_results,
    evaluation_spec,
    record_results,
    resolve_model,
)
from pitstop.evaluation.staging import stage
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, ModelKeys, checkpoint_name
from pitstop.store.objects import S3Store

WORLD = "reInvent2019_track"


@pytest.fixture
def store(bucket: str, s3_endpoint: str) -> S3Store:
    return S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)


# -- the lap model ----------------------------------------------------------------------
def test_faster_actions_shorter_laps_until_the_corners_bite() -> None:
    base = [0.6] * 5
    clean = [laps.expected(WORLD, [v * s for v in base]) for s in (1.0, 1.5, 2.0, 3.0, 4.0)]
    times = [c[0] for c in clean]
    assert times == sorted(times, reverse=True)  # every scale-up shortens the clean lap
    rates = [c[1] for c in clean]
    assert rates[0] == 0.0 and rates[-1] > rates[-2] > 0  # off-tracks grow past a limit
    total = [t + r * (5.0 + laps.RESET_S) for t, r in clean]
    best = total.index(min(total))
    assert 0 < best < len(total) - 1  # an optimum inside the range, not at either end


def test_laps_are_seeded_and_differ_between_runs() -> None:
    a = laps.simulate(WORLD, [1.2] * 5, 5, "job-a")
    assert a == laps.simulate(WORLD, [1.2] * 5, 5, "job-a")
    assert [x.time_ms for x in a] != [
        x.time_ms for x in laps.simulate(WORLD, [1.2] * 5, 5, "job-b")
    ]
    assert [x.trial for x in a] == [1, 2, 3, 4, 5]


def test_the_reset_budget_ends_a_hopeless_lap() -> None:
    out = laps.simulate(WORLD, [4.0] * 5, 3, "s", max_resets=2)
    assert sum(x.resets for x in out) <= 2
    assert any(x.status == laps.OFF_TRACK and x.completion < 100 for x in out)


# -- metrics and results ----------------------------------------------------------------
def test_metrics_round_trip_and_summary() -> None:
    run = laps.simulate(WORLD, [1.0] * 5, 4, "x")
    doc = results.metrics_doc(run, 1000)
    rows = results.parse_metrics(json.dumps(doc).encode(), "k")
    assert [(r.trial, r.time_ms, r.resets) for r in rows] == [
        (x.trial, x.time_ms, x.resets) for x in run
    ]
    s = results.summarise(rows)
    done = sorted(r.time_ms for r in rows if r.complete)
    assert s.best_ms == done[0] and s.laps == 4 and s.complete == len(done)


@pytest.mark.parametrize("body", [b"", b"[]", b'{"metrics": 3}', b'{"metrics": [{"trial": 1}]}'])
def test_garbage_metrics_are_a_corrupt_object_naming_the_key(body: bytes) -> None:
    with pytest.raises(CorruptObject, match=r"models/x/metrics/evaluation/e\.json"):
        results.parse_metrics(body, "models/x/metrics/evaluation/e.json")


# -- the search -------------------------------------------------------------------------
def _model(scale: float, n: int) -> tune.Candidate:
    clean, rate = laps.expected(WORLD, [0.6 * scale] * 5)
    total = round((clean + rate * 6.5) * 1000)
    return tune.Candidate(scale, [total] * n, 3 * n, round(rate * 3 * n))


def test_tune_finds_the_optimum_of_a_noiseless_model_with_fewer_evaluations() -> None:
    history, best = tune.tune(tune.TunePolicy(evaluations=1), _model)
    grid = [_model(1 + 0.05 * i, 1) for i in range(41)]
    brute = tune.winner(grid)
    assert best is not None and brute is not None and best.best_ms is not None
    assert best.best_ms <= 1.1 * (brute.best_ms or 0)
    assert len(history) < len(grid)
    scales = [c.scale for c in history]
    assert scales[:3] == [1.0, 1.15, 1.322] and len(set(scales)) == len(scales)


def test_tune_stops_when_nothing_completes_and_refuses_bad_policies() -> None:
    history, best = tune.tune(tune.TunePolicy(), lambda s, n: tune.Candidate(s, [None] * n, 3, 9))
    assert best is None and len(history) == 1
    with pytest.raises(ValueError):
        tune.TunePolicy(start=4.0)


# -- staging, results, the leaderboard (moto) ------------------------------------------
def _train(store: S3Store, prefix: str, n: int = 3) -> list[str]:
    keys = ModelKeys(prefix)
    names = [checkpoint_name(i, i * 100) for i in range(1, n + 1)]
    for name in names:
        for k in keys.checkpoint_files(name):
            store.put(k, f"{k}".encode())
    store.put(keys.coach_checkpoint, names[-1].encode())
    entry = lambda name: {"name": name, "avg_eval_metric": 1.0, "time_stamp": 1.0}  # noqa: E731
    doc = {"best_checkpoint": entry(names[0]), "last_checkpoint": entry(names[-1])}
    store.put(keys.checkpoints_json, json.dumps(doc).encode())
    meta = {"action_space": [{"steering_angle": 0.0, "speed": 1.0}], "version": "5"}
    store.put(keys.metadata, json.dumps(meta).encode())
    return names


def test_staging_copies_exactly_the_chosen_checkpoint_with_scaled_speeds(store: S3Store) -> None:
    names = _train(store, "models/src/attempt-1")
    ev = Evaluation(model_prefix="models/src/attempt-1", checkpoint="best", speed_scale=1.5)
    assert stage(store, ev, "models/ev/attempt-1") == names[0]
    dst = ModelKeys("models/ev/attempt-1")
    copied = {i.key for i in store.list(dst.model_dir)}
    assert set(dst.checkpoint_files(names[0])) <= copied
    assert not any(names[-1] in k for k in copied)
    assert store.get(dst.coach_checkpoint).body.decode() == names[0]
    doc = json.loads(store.get(dst.checkpoints_json).body)
    assert doc["last_checkpoint"]["name"] == doc["best_checkpoint"]["name"] == names[0]
    assert json.loads(store.get(dst.metadata).body)["action_space"][0]["speed"] == 1.5
    # the source is untouched (metadata speed 1.0) and a missing checkpoint is NotFound
    assert (
        json.loads(store.get(ModelKeys("models/src/attempt-1").metadata).body)["action_space"][0][
            "speed"
        ]
        == 1.0
    )
    store.delete(ModelKeys("models/src/attempt-1").checkpoint_files(names[0])[2])
    with pytest.raises(NotFound, match="not complete"):
        stage(store, ev, "models/ev/attempt-2")


def test_results_and_leaderboard_rank_by_lap_then_resets_then_time(store: S3Store) -> None:
    jobs = JobStore(store, Layout("pitstop"))
    made = []
    for i, (lap_ms, resets) in enumerate([(20000, 0), (15000, 2), (15000, 1), (30000, 0)]):
        ev = Evaluation(model_prefix=f"models/m{i}/attempt-1")
        spec = evaluation_spec(f"e{i}", WORLD, ev)
        jobs.create(spec, {})
        prefix = f"models/{spec.id}/attempt-1"
        row = laps.Lap(1, lap_ms, laps.LAP_COMPLETE, resets, resets, 100.0)
        store.put(
            ModelKeys(prefix).evaluation_metrics(5),
            json.dumps(results.metrics_doc([row], 0)).encode(),
        )
        status = JobStatus(
            id=spec.id,
            attempts=[
                Attempt(n=1, model_prefix=prefix, ended_at=f"2026-01-0{i + 1}T00:00:00.000Z")
            ],
        )
        res = collect_results(jobs, spec, status, __import__("datetime").datetime.now())
        record_results(jobs, res)
        record_results(jobs, res)  # a retried action: the same entry, not a second one
        made.append(spec.id)
    keys = entries(jobs, WORLD)
    assert [k.job_id for k in keys] == [made[2], made[1], made[0], made[3]]
    board = leaderboard(jobs, WORLD)
    assert [e.rank for e in board] == [1, 2, 3, 4]
    assert board[0].model == "models/m2/attempt-1" and board[0].lap_ms == 15000


def test_a_model_that_is_not_a_job_or_a_prefix_is_refused(store: S3Store) -> None:
    jobs = JobStore(store, Layout("pitstop"))
    with pytest.raises(InvalidInput, match="no such job"):
        resolve_model(jobs, "no-such-job")
    with pytest.raises(InvalidInput, match="not in this bucket"):
        resolve_model(jobs, "s3://someone-else/models/x")
    assert resolve_model(jobs, f"s3://{store.bucket}/models/x/attempt-1/") == (
        "models/x/attempt-1",
        None,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"model_prefix": "../etc"},
        {"model_prefix": "a/../b"},
        {"model_prefix": "/abs"},
        {"model_prefix": "m", "checkpoint": "$(id)"},
        {"model_prefix": "m", "laps": 0},
        {"model_prefix": "m", "speed_scale": 9},
    ],
)
def test_hostile_or_bad_evaluation_fields_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Evaluation(**fields)  # type: ignore[arg-type]


def test_kind_and_evaluation_must_agree() -> None:
    base = {"id": "a1", "name": "a", "submitted_at": "t"}
    with pytest.raises(ValueError, match="needs an 'evaluation'"):
        JobSpec(**base, kind="evaluation")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="only for kind"):
        JobSpec(**base, evaluation=Evaluation(model_prefix="m"))  # type: ignore[arg-type]


def test_leaderboard_keys_round_trip_and_reject_junk() -> None:
    lay = Layout("pitstop")
    key = lay.leaderboard_key(WORLD, 12345, 2, 1_700_000_000_000, "job-1")
    parsed = lay.parse_leaderboard_key(key)
    assert parsed is not None and (parsed.lap_ms, parsed.resets, parsed.job_id) == (
        12345,
        2,
        "job-1",
    )
    assert lay.parse_leaderboard_key("pitstop/leaderboard/x/garbage") is None
    with pytest.raises(ValueError):
        lay.leaderboard("../x")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["evaluate", "no-such-job", "--world", "Oval_track"], "no such job"),
        (["evaluate", "s3://other-bucket/m", "--world", "Oval_track"], "not in this bucket"),
        (["evaluate", "models/m", "--world", "Oval_trak"], "Oval_track"),
        (["evaluate", "models/m", "--world", "Oval_track", "--checkpoint", "$(id)"], "checkpoint"),
        (["evaluate", "models/m", "--world", "Oval_track", "--laps", "0"], "--laps"),
        (["evaluate", "models/m", "--world", "Oval_track", "--simulation", "{"], "--simulation"),
        (["export", "models/m"], "--out"),
        (["export", "models/m", "--out", "x.tar.gz"], "models/m"),
        (["tune", "models/m", "--world", "Oval_track", "--growth", "5"], "growth"),
        (["leaderboard", "Oval_track", "--top", "0"], "--top"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(
    args: list[str],
    needle: str,
    settings_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from pitstop.cli.main import main

    monkeypatch.chdir(tmp_path)
    for k, v in settings_env.items():
        monkeypatch.setenv(k, v)
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2) and len(err) == 1 and err[0].startswith("pitstop: error:"), err
    assert needle in err[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_html_report_has_each_worlds_board_and_lap_chart(
    store: S3Store,
    settings_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    import base64
    import re

    from pitstop.cli.main import main

    jobs = JobStore(store, Layout("pitstop"))
    made = []
    for i, times in enumerate([[21000, 20500], [19500, None]]):
        spec = evaluation_spec(f"rep{i}", "Oval_track", Evaluation(model_prefix=f"models/r{i}/a"))
        jobs.create(spec, {})
        prefix = f"models/{spec.id}/attempt-1"
        rows = [
            laps.Lap(n + 1, t or 40000, laps.LAP_COMPLETE if t else laps.OFF_TRACK, 0, 0, 100.0)
            for n, t in enumerate(times)
        ]
        store.put(
            ModelKeys(prefix).evaluation_metrics(1),
            json.dumps(results.metrics_doc(rows, 0)).encode(),
        )
        done = JobStatus(
            id=spec.id,
            attempts=[Attempt(n=1, model_prefix=prefix, ended_at="2026-01-01T00:00:00.000Z")],
        )
        record_results(
            jobs, collect_results(jobs, spec, done, __import__("datetime").datetime.now())
        )
        made.append(spec.id)
    for k, v in settings_env.items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "r.html"
    assert main(["report", "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["job_id"] for e in doc["leaderboards"][0]["entries"]] == [made[1], made[0]]
    html = out.read_text()
    board = html[html.index('<section id="leaderboard">') :]
    assert board.index(made[1]) < board.index(made[0])  # ranked: 19.5 s before 20.5 s
    assert "19.500 -" in board and "21.000 20.500" in board  # every lap, an off-track as -
    (chart,) = re.findall(
        r'alt="lap times on Oval_track" src="data:image/png;base64,([^"]+)"', board
    )
    assert base64.b64decode(chart).startswith(b"\x89PNG")
