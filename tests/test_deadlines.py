"""The deadline policy's rules: one test per edge, numbers in, a choice out."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from pitstop.deadlines import (
    BUDGET,
    DEFAULT_RULE,
    GREEDY,
    ODDS_MIN,
    REFUND_S,
    UNIFORM_PROGRESS,
    Choice,
    Job,
    attempt_cost,
    decide,
    latest_start,
    spot_odds,
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


# the budget rule: prices per hour (on-demand 3.0, spot 0.9), money in the same unit
OD, SPOT = 3.0, 0.9


def _priced(done_h: float, now_h: float, spent: float, **kw: object) -> Job:
    prices: dict[str, object] = {"spot_price": SPOT, "on_demand_price": OD, **kw}
    return _job(done_h, now_h, spent=spent, **prices)


def test_budget_is_the_shipped_rule_and_greedy_without_prices() -> None:
    assert DEFAULT_RULE == BUDGET
    for done_h, now_h in ((2, 3), (0, 3.8), (1, 4.9)):
        unpriced = _job(done_h, now_h)
        assert decide(unpriced, BUDGET) == decide(unpriced, GREEDY)


def test_attempt_cost_follows_aws_billing() -> None:
    # EC2 ends it inside the first hour: nothing; after it, or ended by its owner: by the
    # second from the attempt's start (the instance's launch may be earlier)
    assert attempt_cost(0.9, 0.0, REFUND_S - 1, 0.0, by_ec2=True) == 0.0
    assert attempt_cost(0.9, 0.0, REFUND_S, 0.0, by_ec2=True) == pytest.approx(0.9)
    assert attempt_cost(0.9, 0.0, 1800.0, 0.0, by_ec2=False) == pytest.approx(0.45)
    assert attempt_cost(0.9, 1800.0, 3600.0, 0.0, by_ec2=True) == pytest.approx(0.45)
    assert attempt_cost(0.9, 0.0, 1800.0, 0.0, by_ec2=True, refunds=False) == pytest.approx(0.45)


def test_budget_commit_and_cap_are_on_demand_itself_with_the_refund() -> None:
    j = _priced(done_h=2, now_h=3, spent=1.0)
    assert j.on_demand_cost == pytest.approx(OD * (8 + BOOT / H))
    assert j.commit == pytest.approx(1.0 + OD * (6 + BOOT / H))
    assert j.allowance == 0.0
    # every second billed: on-demand plus one attempt lost before its first checkpoint
    assert replace(j, refunds=False).allowance == pytest.approx(SPOT * (BOOT + CKPT) / H)


def test_attempt_risk_is_worst_just_before_the_first_checkpoint_past_the_hour() -> None:
    # boot 10 min, checkpoints at 25, 40, 55, 70 min: EC2 ending it at 69:59 bills 70 min
    # of spot and keeps 45 min of training
    dear = 2.7  # spot at 90 % of on-demand: the hour's refund does not cover the risk
    j = _priced(done_h=2, now_h=3, spent=0.0, spot_price=dear)
    assert j.attempt_risk == pytest.approx(dear * 70 / 60 - OD * 45 / 60)
    # an instance up for 30 min already: its refund ends 30 min into the attempt
    older = replace(j, spot_age=1800.0)  # checkpoints at 25, 40: worst just before 40
    assert older.attempt_risk == pytest.approx(dear * 40 / 60 - OD * 15 / 60)
    assert replace(j, refunds=False).attempt_risk == pytest.approx(dear * 25 / 60)
    # cheap spot: the kept checkpoints are worth more than the hour's bill
    assert _priced(done_h=2, now_h=3, spent=0.0).attempt_risk == 0.0
    # a job that finishes inside the hour risks nothing
    short = _priced(done_h=7.5, now_h=3, spent=0.0, spot_price=dear)
    assert short.attempt_risk == 0.0


def test_budget_takes_spot_until_an_attempt_could_be_forced_off() -> None:
    d = decide(_priced(done_h=2, now_h=3, spent=1.0), BUDGET)
    assert d.choice is Choice.SPOT
    # the safety net fires at 12 - 6 h - boot; an attempt started later than a boot and a
    # checkpoint interval before that could be cut before it keeps anything
    assert d.until == pytest.approx(12 * H - 6 * H - BOOT - (BOOT + CKPT))
    late = _priced(done_h=2, now_h=d.until / H, spent=1.0)
    d2 = decide(late, BUDGET)
    assert d2.choice is Choice.ON_DEMAND and d2.until == math.inf
    assert "forced off" in d2.reason
    assert decide(late, GREEDY).choice is Choice.SPOT  # greedy would still try


def test_budget_goes_on_demand_when_an_attempt_could_pass_on_demand() -> None:
    dear = 2.7
    j = _priced(done_h=2, now_h=3, spent=6.0 - 0.1, spot_price=dear)  # 0.1 under so far
    assert j.on_demand_cost - j.commit == pytest.approx(0.1)
    assert j.attempt_risk > 0.1
    d = decide(j, BUDGET)
    assert d.choice is Choice.ON_DEMAND and "risks" in d.reason
    # with more saved, the same attempt fits
    assert decide(replace(j, spent=1.0), BUDGET).choice is Choice.SPOT


def test_budget_never_cuts_a_running_spot_attempt_for_money() -> None:
    # it started under the cap: whatever its bill says now, it runs until spot goes or the
    # safety net fires
    j = _priced(done_h=2, now_h=3, spent=20.0, spot_held=True)
    d = decide(j, BUDGET)
    assert d.choice is Choice.SPOT and d.until == pytest.approx(j.must_switch_at)


def test_budget_takes_on_demand_when_spot_is_no_cheaper() -> None:
    d = decide(_priced(done_h=2, now_h=3, spent=0.0, spot_price=OD), BUDGET)
    assert d.choice is Choice.ON_DEMAND


def test_budget_stays_on_on_demand() -> None:
    d = decide(_priced(done_h=6, now_h=7, spent=1.0, on_demand_held=True), BUDGET)
    assert d.choice is Choice.ON_DEMAND and d.until == math.inf


def test_budget_reads_spot_odds_only_when_a_lost_attempt_is_paid() -> None:
    poor = _priced(done_h=2, now_h=3, spent=1.0, spot_odds=ODDS_MIN - 0.1)
    assert decide(poor, BUDGET).choice is Choice.SPOT  # with the refund, a lost try is free
    j = replace(poor, refunds=False)
    d = decide(j, BUDGET)
    assert d.choice is Choice.WAIT
    assert d.until == pytest.approx(j.must_switch_at - j.reach)
    assert decide(replace(j, spot_odds=ODDS_MIN), BUDGET).choice is Choice.SPOT
    # the safety net still wins
    late = replace(j, now=12 * H - 6 * H - BOOT)
    assert decide(late, BUDGET).choice is Choice.ON_DEMAND


def test_spot_odds_reads_past_runs_that_lasted_as_long() -> None:
    runs = [600.0] * 6 + [3600.0] * 4  # ten runs of capacity: six of 10 min, four of 1 h
    assert spot_odds(runs, up_for=0, needs=1200) == pytest.approx(0.4)
    # up for 10 minutes already: only the four long runs lasted that long, all last 20 more
    assert spot_odds(runs, up_for=600, needs=1200, sample=4) == 1.0
    assert spot_odds(runs, up_for=600, needs=1200) is None  # fewer than ODDS_SAMPLE
    assert spot_odds([], up_for=0, needs=1200) is None


def test_budget_refuses_bad_money() -> None:
    with pytest.raises(UsageError, match="spent must be a number >= 0"):
        decide(_priced(2, 3, spent=-1.0), BUDGET)
