"""What a job has paid so far, from its attempt records (the deadline cost cap's
``spent``): hand-computed bills under AWS's rules."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from pitstop import deadlines
from pitstop.core.records import Attempt, JobSpec, JobStatus
from pitstop.store.jobs import policy_job
from pitstop.store.spend import Prices, spent

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
SPOT, OD = 1.0, 3.0


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def attempt(n: int, start: float, end: float | None, **kw: object) -> Attempt:
    fields: dict[str, object] = {
        "n": n,
        "model_prefix": f"models/j/attempt-{n}",
        "started_at": at(start),
        "ended_at": None if end is None else at(end),
        "outcome": "running" if end is None else "preempted",
        "instance_id": f"i-{n}",
        **kw,
    }
    return Attempt.model_validate(fields)


def bill(attempts: list[Attempt], now_min: float) -> float:
    now = (T0 + timedelta(minutes=now_min)).timestamp()
    return spent(attempts, now, spot_price=SPOT, on_demand_price=OD)


def test_a_spot_attempt_ec2_ends_in_its_instances_first_hour_costs_nothing() -> None:
    a = attempt(1, 10, 50, market="spot", launched_at=at(0), ec2_notice=True)
    assert bill([a], 60) == 0.0
    # the same instance's hour counts from its launch: ended at 70 min, billed 60 min
    # the launch came up to LAUNCH_MARGIN_S (5 min) before the boot: ended at 57 min after
    # the boot may be past AWS's hour, so it is billed (the 47 min of the attempt)
    edge = attempt(1, 10, 57, market="spot", launched_at=at(0), ec2_notice=True)
    assert bill([edge], 60) == pytest.approx(SPOT * 47 / 60)
    late = attempt(1, 10, 70, market="spot", launched_at=at(0), ec2_notice=True)
    assert bill([late], 80) == pytest.approx(SPOT * 60 / 60)


def test_an_attempt_its_owner_ended_is_billed_whatever_its_age() -> None:
    stalled = attempt(1, 10, 40, market="spot", launched_at=at(0), outcome="stalled")
    assert bill([stalled], 60) == pytest.approx(SPOT * 30 / 60)
    # a rebalance acted on as a notice is recorded as no EC2 notice: billed
    rebalance = attempt(1, 10, 40, market="spot", launched_at=at(0))
    assert bill([rebalance], 60) == pytest.approx(SPOT * 30 / 60)


def test_a_running_attempt_is_billed_up_to_now() -> None:
    running = attempt(1, 0, None, market="spot", launched_at=at(0))
    assert bill([running], 45) == pytest.approx(SPOT * 45 / 60)


def test_an_on_demand_instance_bills_its_boot_to_the_job_once() -> None:
    first = attempt(1, 10, 70, market="on-demand", launched_at=at(0), instance_id="i-od")
    second = attempt(2, 75, 95, market="on-demand", launched_at=at(0), instance_id="i-od")
    # 10 min of boot + 60 + 20 min of attempts, at the on-demand price
    assert bill([first, second], 100) == pytest.approx(OD * 90 / 60)


def test_old_records_and_bad_times_never_crash_and_are_billed_the_dear_way() -> None:
    old = attempt(1, 0, 30)  # no market, no launch (before this field existed)
    assert bill([old], 60) == pytest.approx(OD * 30 / 60)
    garbage = attempt(2, 0, 30, market="spot", launched_at="yesterday", ec2_notice=True)
    assert bill([garbage], 60) == pytest.approx(SPOT * 30 / 60)  # no refund without a launch
    # an end that cannot be read: billed up to now, no refund (its notice may be true)
    unread = attempt(5, 10, 30, market="spot", launched_at=at(0), ec2_notice=True)
    unread.ended_at = "soon"
    assert bill([unread], 40) == pytest.approx(SPOT * 30 / 60)
    unstarted = Attempt(n=3, model_prefix="m", started_at=None)
    assert bill([unstarted], 60) == 0.0
    # a time without a zone is UTC, as every record reads it: billed, never free
    naive = Attempt(n=4, model_prefix="m", started_at="2026-12-05T12:00:00")
    assert bill([naive], 60) == pytest.approx(OD * 60 / 60)


def _spec(max_hours: float, due_min: float) -> JobSpec:
    return JobSpec.model_validate(
        {
            "id": "tight-0123456789",
            "name": "tight",
            "submitted_at": at(0),
            "max_hours": max_hours,
            "deadline": at(due_min),
        }
    )


def test_policy_job_with_prices_is_the_capped_rule() -> None:
    # 1 h of training due in 1 h 30 min: a restart (10 min) and a checkpoint interval (15
    # min) above the safety net leave no room for a spot attempt under the budget rule,
    # while greedy still tries spot
    spec = _spec(1, 90)
    status = JobStatus(id=spec.id)
    now = T0 + timedelta(minutes=1)
    kw: dict[str, float] = {"overhead_s": 600, "checkpoint_s": 900}
    greedy = policy_job(spec, status, now, **kw)
    capped = policy_job(spec, status, now, prices=Prices(SPOT, OD), **kw)
    assert greedy is not None and capped is not None
    assert not greedy.priced and capped.priced and capped.spent == 0.0
    assert deadlines.decide(greedy).choice is deadlines.Choice.SPOT
    assert deadlines.decide(capped).choice is deadlines.Choice.ON_DEMAND
    # with a whole day to spare, spot
    roomy = policy_job(_spec(1, 24 * 60), status, now, prices=Prices(SPOT, OD), **kw)
    assert roomy is not None and deadlines.decide(roomy).choice is deadlines.Choice.SPOT
    # what the job paid goes in: 3 h of on-demand billed leaves no room for dear spot
    paid = JobStatus(id=spec.id, attempts=[attempt(1, -200, -20, market="on-demand")])
    dear = policy_job(_spec(1, 24 * 60), paid, now, prices=Prices(2.9, OD), **kw)
    assert dear is not None and dear.spent == pytest.approx(OD * 3)
    assert math.isclose(dear.on_demand_cost, OD * (3600 + 600) / 3600)


def test_prices_of_needs_both() -> None:
    assert Prices.of(1.0, None) is None and Prices.of(None, 3.0) is None
    assert Prices.of(1.0, 3.0) == Prices(1.0, 3.0)
