"""The sweep's metric.png: an evaluation lap when there is one, the mean reward only when
every job trained with one reward function, and no point hidden behind another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pitstop import sweep as sw
from pitstop.store.layout import ModelKeys
from pitstop.store.objects import S3Store

pytest.importorskip("matplotlib")


def _row(
    n: int, metric: float | None, lap: float | None, done: float | None = None, **point: object
) -> dict[str, Any]:
    return {"n": n, **point, "job_id": f"j{n}", "state": "succeeded", "metric": metric,
            "completion_pct": done, "eval_lap_s": lap}  # fmt: skip


def _offsets(ax) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    (points,) = ax.collections
    return [(float(x), float(y)) for x, y in points.get_offsets()]


def test_eval_lap_is_plotted_when_there_is_one_and_overlapping_points_spread() -> None:
    # two reward functions (w) x two learning rates; w=0.5 gives the same lap twice
    rows = [
        _row(0, 900.0, 12.5, w=0.5, **{"hp.lr": 0.001}),
        _row(1, 10.0, 12.5, w=0.5, **{"hp.lr": 0.0003}),
        _row(2, 500.0, 11.0, w=2.0, **{"hp.lr": 0.001}),
        _row(3, 40.0, None, w=2.0, **{"hp.lr": 0.0003}),
    ]
    assert sw.reward_parameters(rows) == ["w"]
    fig = sw.metric_figure(rows)
    ax_w, ax_lr = fig.axes
    assert ax_w.get_xlabel() == "w" and ax_lr.get_xlabel() == "hp.lr"
    for ax in (ax_w, ax_lr):
        assert ax.get_ylabel().startswith("best evaluation lap (s)")
        ys = sorted(y for _, y in _offsets(ax))
        assert ys == [11.0, 12.5, 12.5]  # the laps, not the rewards; the job with none left out
    # the two w=0.5 points share x and y: drawn side by side, both visible
    xs = [x for x, y in _offsets(ax_w) if y == 12.5]
    assert len(set(xs)) == 2 and all(abs(x - 0.5) < 0.5 for x in xs)
    (points,) = ax_w.collections
    assert 0 < points.get_alpha() < 1 and len(points.get_edgecolors()) > 0
    assert "3 with a lap" in fig.get_suptitle()


def test_mean_reward_only_when_one_reward_function() -> None:
    same = [_row(0, 5.0, None, **{"hp.lr": 0.001}), _row(1, 7.0, None, **{"hp.lr": 0.01})]
    fig = sw.metric_figure(same)
    (ax,) = fig.axes
    assert ax.get_ylabel().startswith("mean reward")
    assert "one reward function" in fig.get_suptitle()
    assert sorted(y for _, y in _offsets(ax)) == [5.0, 7.0]

    # two reward functions, no lap: the completion % (the same measure for both), not reward
    different = [_row(0, 5.0, None, 40.0, w=1), _row(1, 700.0, None, 90.0, w=100)]
    fig = sw.metric_figure(different)
    (ax,) = fig.axes
    assert ax.get_ylabel().startswith("mean completion %")
    assert sorted(y for _, y in _offsets(ax)) == [40.0, 90.0]
    assert "2 reward functions (w vary)" in fig.get_suptitle()

    # nothing comparable at all: no points, and the title says why
    fig = sw.metric_figure([_row(0, 5.0, None, w=1), _row(1, 700.0, None, w=100)])
    (ax,) = fig.axes
    assert not ax.collections
    assert "not comparable" in fig.get_suptitle()


def test_categorical_values_get_their_own_ticks() -> None:
    rows = [{**_row(0, 1.0, None), "hp.loss": "huber"}, {**_row(1, 2.0, None), "hp.loss": "mse"}]
    (ax,) = sw.metric_figure(rows).axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["huber", "mse"]


def test_measures_read_the_best_evaluation_lap(bucket: str, s3_endpoint: str) -> None:
    store = S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)
    prefix = "pitstop/models/j1/a1"
    episodes = [
        {"phase": "training", "reward_score": 10, "episode_status": "Lap complete",
         "elapsed_time_in_milliseconds": 9000, "completion_percentage": 100},
        {"phase": "evaluation", "reward_score": 0, "episode_status": "Lap complete",
         "elapsed_time_in_milliseconds": 14250},
        {"phase": "evaluation", "reward_score": 0, "episode_status": "Off track",
         "elapsed_time_in_milliseconds": 3000},
        {"phase": "evaluation", "reward_score": 0, "episode_status": "Lap complete",
         "elapsed_time_in_milliseconds": 13500},
    ]  # fmt: skip
    store.put(ModelKeys(prefix).metrics, json.dumps({"metrics": episodes}).encode())
    got = sw.measures(store, {"attempts": [{"model_prefix": prefix}]})
    assert got == {"metric": 10.0, "completion_pct": 100.0, "eval_lap_s": 13.5}
    assert sw.measures(store, {"attempts": [{"model_prefix": "pitstop/none"}]}) == {
        "metric": None,
        "completion_pct": None,
        "eval_lap_s": None,
    }


def test_plot_metric_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "metric.png"
    sw.plot_metric([_row(0, 1.0, 10.0), _row(1, 2.0, 11.0)], out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
