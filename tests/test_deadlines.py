"""The deadline policy's rules: one test per edge, numbers in, a choice out."""

from __future__ import annotations

import math

import pytest

from pitstop.deadlines import (
    GREEDY,
    UNIFORM_PROGRESS,
    Choice,
    Job,
    decide,
    latest_start,
)
from pitstop.errors import UsageError

H = 3600.0
BOOT = 600.0  # one restart
CKPT = 900.0


def _job(done_h: float, now_h: float, **kw: object) -> Job:
    base: dict[str, object] = dict(
        need=8 * H, done=done_h * H, now=now_h * H, deadline=12 * H, overhead=BOOT,
        checkpoint=CKPT, started=0.0,
    )  # fmt: skip
    base.update(kw)
    return Job(**base)  # type: ignore[arg-type]


def test_greedy_keeps_spot_while_slack_covers_a_restart() -> None:
    d = decide(_job(done_h=2, now_h=3), GREEDY)  # slack 3 h
    assert d.choice is Choice.SPOT
    # it says when it stops holding: when the slack is down to one restart
    assert d.until == pytest.approx(12 * H - 6 * H - BOOT)


def test_greedy_switches_to_on_demand_when_slack_is_one_restart() -> None:
    job = _job(done_h=2, now_h=12 - 6 - BOOT / H)
    d = decide(job, GREEDY)
    assert d.choice is Choice.ON_DEMAND and d.until == math.inf
    # a second earlier it still said spot
    assert decide(_job(done_h=2, now_h=job.now / H - 1 / H), GREEDY).choice is Choice.SPOT


def test_safety_net_includes_the_callers_guard() -> None:
    now_h = 12 - 6 - (BOOT + 120) / H
    assert decide(_job(2, now_h), GREEDY).choice is Choice.SPOT
    assert decide(_job(2, now_h, guard=120.0), GREEDY).choice is Choice.ON_DEMAND


def test_on_demand_from_the_safety_net_finishes_by_the_deadline() -> None:
    job = _job(done_h=2, now_h=0)
    t = decide(job, GREEDY).until  # the switch: boot, then train the rest without a break
    assert t + BOOT + job.remaining <= job.deadline + 1e-6


def test_done_job_needs_nothing() -> None:
    assert decide(_job(done_h=8, now_h=20), GREEDY).choice is Choice.EITHER


def test_uniform_progress_behind_the_line_without_spot_goes_on_demand() -> None:
    # the line: 8 h of training over 12 h; at hour 6 it expects 4 h
    assert decide(_job(done_h=3, now_h=6), UNIFORM_PROGRESS).choice is Choice.ON_DEMAND


def test_uniform_progress_ahead_of_the_line_waits_for_spot_until_the_line_passes() -> None:
    d = decide(_job(done_h=5, now_h=6), UNIFORM_PROGRESS)
    assert d.choice is Choice.SPOT
    assert d.until == pytest.approx(5 * H * 12 / 8)  # when the line reaches 5 h


def test_uniform_progress_keeps_a_spot_instance_even_behind_the_line() -> None:
    d = decide(_job(done_h=3, now_h=6, spot_held=True), UNIFORM_PROGRESS)
    assert d.choice is Choice.SPOT


def test_uniform_progress_leaves_on_demand_only_ahead_by_a_restart_and_a_checkpoint() -> None:
    margin_h = (BOOT + CKPT) / H
    near = _job(done_h=4 + margin_h - 0.01, now_h=6, on_demand_held=True)
    far = _job(done_h=4 + margin_h + 0.01, now_h=6, on_demand_held=True)
    assert decide(near, UNIFORM_PROGRESS).choice is Choice.ON_DEMAND
    assert decide(far, UNIFORM_PROGRESS).choice is Choice.SPOT


def test_uniform_progress_obeys_the_safety_net_with_spot_held() -> None:
    job = _job(done_h=2, now_h=12 - 6 - BOOT / H + 0.01, spot_held=True)
    assert decide(job, UNIFORM_PROGRESS).choice is Choice.ON_DEMAND


def test_submission_needs_the_training_plus_one_restart() -> None:
    assert latest_start(8 * H, BOOT) == 8 * H + BOOT


def test_bad_input_is_one_line() -> None:
    with pytest.raises(UsageError, match="checkpoint must be > 0"):
        decide(_job(1, 1, checkpoint=0.0))
    with pytest.raises(UsageError, match="unknown deadline rule 'x'"):
        decide(_job(1, 1), "x")
