"""Deadline runs on small made-up traces, where the right answer can be worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pitstop.errors import UsageError
from pitstop.simulate.deadline import (
    DEADLINE_POLICIES,
    DeadlineSetup,
    simulate_deadline,
    spot_lower_bound,
)
from pitstop.simulate.engine import TrainingJob
from pitstop.simulate.traces import Trace, find_traces, load_trace

GAP = 600.0  # 10-minute ticks


def _trace(pattern: str, repeat: int = 1) -> Trace:
    """'1' = spot available for one tick, '0' = not."""
    return Trace("test", GAP, tuple(c == "1" for c in pattern * repeat))


def _setup(hours: float, deadline_h: float) -> DeadlineSetup:
    return DeadlineSetup(TrainingJob(hours, checkpoint_minutes=15, boot_minutes=5), deadline_h)


def test_always_available_spot_meets_the_deadline_on_spot_alone() -> None:
    trace = _trace("1" * 100)
    for policy in ("pitstop-deadline", "greedy-deadline", "uniform-progress-deadline"):
        r = simulate_deadline(policy, trace, _setup(2, 3))
        assert r.met and r.on_demand_h == 0
        assert r.wall_h == pytest.approx(2 + 5 / 60)


def test_no_spot_at_all_greedy_waits_then_switches_with_one_restart_to_spare() -> None:
    r = simulate_deadline("greedy-deadline", _trace("0" * 100), _setup(2, 4))
    assert r.met and r.spot_h == 0
    assert r.wall_h == pytest.approx(4.0)  # switched at slack = boot: finishes at the deadline
    assert r.switches == 1
    spot_only = simulate_deadline("spot-only", _trace("0" * 100), _setup(2, 4))
    assert not spot_only.met and spot_only.outcome == "missed" and spot_only.cost == 0


def test_uniform_progress_goes_on_demand_early_without_spot() -> None:
    r = simulate_deadline("uniform-progress-deadline", _trace("0" * 100), _setup(2, 4))
    assert r.met
    assert r.wall_h < 4.0  # it kept to the line instead of waiting for the last moment


def test_flapping_spot_never_misses_with_the_shipped_policy() -> None:
    # spot for 20 minutes, gone for 40: attempts boot, sometimes checkpoint, and are lost
    trace = _trace("110000", repeat=200)
    for h, d in ((2, 3), (8, 12), (8, 16)):
        for policy in ("pitstop-deadline", "greedy-deadline", "uniform-progress-deadline"):
            r = simulate_deadline(policy, trace, _setup(h, d))
            assert r.met, (policy, h, d, r)
            assert r.preemptions > 0


def test_on_demand_costs_the_training_plus_one_boot_at_the_on_demand_price() -> None:
    s = _setup(2, 3)
    r = simulate_deadline("on-demand", None, s)
    assert r.cost == pytest.approx((2 + 5 / 60) * s.on_demand_price)


def test_shipped_policy_is_cheaper_than_on_demand_when_spot_comes_back() -> None:
    trace = _trace("000111", repeat=100)
    s = _setup(2, 4)
    ours = simulate_deadline("pitstop-deadline", trace, s)
    od = simulate_deadline("on-demand", None, s)
    assert ours.met and ours.cost < od.cost
    assert spot_lower_bound(trace, s) <= ours.cost


def test_deadline_shorter_than_training_plus_a_restart_is_refused() -> None:
    with pytest.raises(UsageError, match="deadline-hours must leave the training hours"):
        _setup(2, 2.05)


def test_every_policy_name_runs() -> None:
    trace = _trace("10", repeat=100)
    assert {simulate_deadline(p, trace, _setup(1, 2)).policy for p in DEADLINE_POLICIES} == set(
        DEADLINE_POLICIES
    )


def _allowance(s: DeadlineSetup) -> float:
    """One spot attempt's risk: a restart and a checkpoint interval at the spot price."""
    ckpt_h = min(s.job.checkpoint_minutes / 60, s.job.hours)
    return s.spot_price * (s.job.boot_minutes / 60 + ckpt_h)


def test_a_spot_instance_ec2_ends_in_its_first_hour_costs_nothing() -> None:
    # 30 minutes of spot in every hour: each attempt boots 5 min, keeps one checkpoint at
    # 20 min and is gone at 30; AWS bills none of it, and the training is kept. Only the
    # last attempt, which finishes the job and is let go 20 minutes in, is billed
    s = _setup(2, 12)
    r = simulate_deadline("spot-only", _trace("111000", repeat=40), s)
    assert r.met and r.preemptions == 7  # 7 x 15 min kept, then 15 min to finish
    assert r.cost == pytest.approx(s.spot_price * 20 / 60)
    assert r.spot_h == pytest.approx(20 / 60)
    # every second billed (the model before): the same run pays for every minute up
    per_second = replace(_setup(2, 12), refunds=False)
    r2 = simulate_deadline("spot-only", _trace("111000", repeat=40), per_second)
    assert r2.cost == pytest.approx(per_second.spot_price * r2.spot_h)
    assert r2.spot_h == pytest.approx(7 * 30 / 60 + 20 / 60)


def test_a_spot_instance_ec2_ends_after_its_first_hour_is_billed_from_its_launch() -> None:
    # 80 minutes up, then gone: the first attempt is billed all 80 minutes
    trace = _trace("11111111" + "0" * 4 + "1" * 30)
    s = _setup(2, 12)
    r = simulate_deadline("spot-only", trace, s)
    first = s.spot_price * 80 / 60
    second = s.spot_price * (5 + 120 - 75) / 60  # boots, trains the 45 min left, is let go
    assert r.met and r.preemptions == 1
    assert r.cost == pytest.approx(first + second)


def test_a_spot_instance_the_policy_lets_go_is_billed() -> None:
    # slack of 20 min: greedy starts spot (slack > a boot), and its safety net cuts the
    # attempt 15 minutes in, before any checkpoint: those 15 minutes are billed though
    # spot never went away; budget sees that an attempt could not keep a checkpoint and
    # takes on-demand at once
    s = _setup(2, 2 + 20 / 60)
    always = _trace("1" * 100)
    od = simulate_deadline("on-demand", None, s).cost
    greedy = simulate_deadline("greedy-deadline", always, s)
    assert greedy.met and greedy.switches == 1
    assert greedy.cost == pytest.approx(od + s.spot_price * 15 / 60)
    ours = simulate_deadline("pitstop-deadline", always, s)
    assert ours.met and ours.spot_h == 0 and ours.cost == pytest.approx(od)


def _allowance(s: DeadlineSetup) -> float:
    """One spot attempt's risk when every second is billed: a restart and a checkpoint
    interval at the spot price."""
    ckpt_h = min(s.job.checkpoint_minutes / 60, s.job.hours)
    return s.spot_price * (s.job.boot_minutes / 60 + ckpt_h)


def test_budget_caps_what_short_spot_pieces_can_waste_when_every_second_is_billed() -> None:
    # 10 minutes of spot in every 30: each attempt boots, trains 5 minutes and is lost
    trace = _trace("100", repeat=200)
    s = replace(_setup(2, 4), refunds=False)
    od = simulate_deadline("on-demand", None, s).cost
    greedy = simulate_deadline("greedy-deadline", trace, s)
    ours = simulate_deadline("pitstop-deadline", trace, s)
    assert greedy.met and ours.met
    assert greedy.cost > od + _allowance(s)  # greedy pays for every lost piece
    assert ours.cost <= od + _allowance(s) + 1e-9
    assert ours.preemptions <= 1  # one attempt's risk, then on-demand


def test_budget_goes_on_demand_when_dear_spot_could_pass_it() -> None:
    # spot at 90 % of on-demand, up 70 min in every 90: each attempt is billed 70 min for
    # 60 min of training kept, so greedy ends above on-demand; budget sees the risk of
    # an attempt past its first hour and never starts one
    trace = _trace("1111111" + "00", repeat=60)
    s = replace(_setup(8, 16), spot_price=0.9 * _setup(8, 16).on_demand_price)
    od = simulate_deadline("on-demand", None, s).cost
    greedy = simulate_deadline("greedy-deadline", trace, s)
    ours = simulate_deadline("pitstop-deadline", trace, s)
    assert greedy.met and ours.met
    assert greedy.cost > od
    assert ours.cost == pytest.approx(od) and ours.spot_h == 0


def test_lower_bound_with_the_refund_takes_each_runs_last_hour_free() -> None:
    # 90 minutes up, 30 down, over and over: the last hour of every run is free, its first
    # half hour at the spot price
    trace = _trace("111111111000", repeat=30)
    s = _setup(2, 6)  # the window holds three runs (0-1.5 h, 2-3.5 h, 4-5.5 h)
    assert spot_lower_bound(trace, s) == 0.0  # three free hours cover the two needed
    longer = _setup(4, 6)  # 3 free hours, then the cheapest paid: 1 h of spot
    assert spot_lower_bound(trace, longer) == pytest.approx(longer.spot_price * 1.0)
    per_second = replace(longer, refunds=False)
    assert spot_lower_bound(trace, per_second) == pytest.approx(per_second.spot_price * 4)


SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "spot-traces"


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data/spot-traces is not beside the clone"
)
def test_budget_on_every_bundled_trace_meets_and_never_costs_more_than_on_demand() -> None:
    for path in find_traces(SHARED):
        trace = load_trace(path)
        for h, f in ((2, 1.5), (8, 2.0), (24, 3.0)):
            room = trace.duration_s / 3600 - h * f
            for i in range(3):
                s = replace(_setup(h, h * f), start_offset_h=round(room * i / 3, 3))
                od = simulate_deadline("on-demand", None, s).cost
                r = simulate_deadline("pitstop-deadline", trace, s)
                assert r.met, (trace.name, h, f, i)
                assert r.cost <= od + 1e-9, (trace.name, h, f, i, r.cost / od)
                # every second billed: on-demand plus one attempt's risk
                r2 = simulate_deadline("pitstop-deadline", trace, replace(s, refunds=False))
                assert r2.met, (trace.name, h, f, i)
                assert r2.cost <= od + _allowance(s) + 1e-9, (trace.name, h, f, i, r2.cost / od)
