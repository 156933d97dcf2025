"""The engine on hand-made traces whose answers are worked out by hand below.

Traces are written as strings, one character per 600 s tick ("1" = spot available). Unless
said otherwise: boot 5 min (300 s), the daemon's default policy (stall timeout 1800 s,
startup grace 2400 s, backoff 10 s), poll every 30 s from the instance's boot, spot
$0.918/h.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from pitstop.core import lifecycle as lc
from pitstop.errors import UsageError
from pitstop.simulate.engine import (
    DEFAULT_SPOT_PRICE,
    Setup,
    TrainingJob,
    default_policy,
    run_pitstop,
    simulate,
)
from pitstop.simulate.traces import Trace

H = 3600.0


def trace(ticks: str, gap: float = 600.0) -> Trace:
    return Trace(name="hand", gap_s=gap, available=tuple(c == "1" for c in ticks))


def setup(hours: float, ckpt_min: float, boot_min: float = 5.0, **kw: object) -> Setup:
    return Setup(job=TrainingJob(hours, ckpt_min, boot_min), **kw)  # type: ignore[arg-type]


def close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-6


# -- one interruption ---------------------------------------------------------------------
ONE = "111" + "0" + "1" * 20  # capacity 0..1800 s, gone 1800..2400, back from 2400


@pytest.mark.parametrize("policy", ["pitstop", "notify-only"])
def test_one_interruption_resumes_from_last_checkpoint(policy: str) -> None:
    r = simulate(policy, trace(ONE), setup(1, 15))
    # attempt 1: boot 0..300, trains 300..1800 -> progress 1500 s; checkpoint at p=900
    #   (written 1200); p=1800 would be written at 2100, too late: 600 s lost
    # attempt 2 (new instance at 2400): boot to 2700, trains 3600-900 = 2700 s -> 5400
    assert r.outcome == "succeeded"
    assert close(r.wall_h * H, 5400)
    assert close(r.paid_h * H, 1800 + (5400 - 2400))  # 4800 s
    assert close(r.cost, 4800 / H * DEFAULT_SPOT_PRICE)
    assert close(r.lost_h * H, 600)
    assert close(r.boot_h * H, 600)
    assert close(r.trained_h, 1.0)
    assert close(r.idle_h, 0.0)
    assert (r.interruptions, r.attempts, r.restarts, r.stalls) == (1, 2, 0, 0)


def test_one_interruption_restart_from_scratch_loses_everything() -> None:
    r = simulate("restart-from-scratch", trace(ONE), setup(1, 15))
    # attempt 2 boots 2400..2700 and trains the whole 3600 s from zero -> 6300
    assert close(r.wall_h * H, 6300)
    assert close(r.paid_h * H, 1800 + 3900)
    assert close(r.lost_h * H, 1500)  # all of attempt 1's training


# -- back-to-back interruptions ----------------------------------------------------------
B2B = "11" + "0" + "1" + "0" + "1" * 20  # up 0..1200, 1800..2400, from 3000


def test_back_to_back_interruptions_pitstop_numbers_attempts_and_resumes() -> None:
    starts: list[lc.StartAttempt] = []

    def spy(
        run: lc.Run, obs: lc.Observation, now: float, policy: lc.Policy
    ) -> tuple[lc.Run, list[lc.Action]]:
        new, acts = lc.step(run, obs, now, policy)
        starts.extend(a for a in acts if isinstance(a, lc.StartAttempt))
        return new, acts

    r = run_pitstop(trace(B2B), setup(1, 10), step=spy)
    # attempt 1: boot 0..300, trains 300..1200 (900 s); checkpoint p=600 at 900; lost 300
    # attempt 2: boot 1800..2100, trains 2100..2400 (300 s) from 600: no checkpoint; lost 300
    # attempt 3: boot 3000..3300, trains 3600-600 = 3000 s -> 6300
    assert r.outcome == "succeeded"
    assert close(r.wall_h * H, 6300)
    assert close(r.paid_h * H, 1200 + 600 + 3300)
    assert close(r.lost_h * H, 600)
    assert close(r.boot_h * H, 900)
    assert (r.interruptions, r.attempts) == (2, 3)
    # a claimed preempted job continues the numbering and loads the previous attempt
    assert starts == [
        lc.StartAttempt(1, None),
        lc.StartAttempt(2, 1),
        lc.StartAttempt(3, 2),
    ]


# -- an interruption during boot ---------------------------------------------------------
def test_interruption_during_boot() -> None:
    r = simulate("pitstop", trace("1" + "0" + "1" * 20), setup(1, 10, boot_min=15))
    # attempt 1: boot 0..900 is cut at 600: paid, no progress
    # attempt 2: boot 1200..2100, trains 3600 s -> 5700
    assert r.outcome == "succeeded"
    assert close(r.wall_h * H, 5700)
    assert close(r.paid_h * H, 600 + 4500)
    assert close(r.boot_h * H, 600 + 900)
    assert close(r.lost_h, 0.0)
    assert (r.interruptions, r.attempts) == (1, 2)


# -- a trace that ends before the job ----------------------------------------------------
@pytest.mark.parametrize("policy", ["pitstop", "restart-from-scratch", "notify-only"])
def test_trace_ending_first_is_unfinished_not_success(policy: str) -> None:
    r = simulate(policy, trace("1" * 6), setup(2, 15))
    # boot 0..300, trains 300..3600 -> 3300 s; checkpoints p=900, 1800, 2700 (at 3000)
    assert r.outcome == "unfinished"
    assert not r.finished
    assert close(r.wall_h, 1.0)
    assert close(r.paid_h, 1.0)
    assert close(r.trained_h * H, 2700)
    assert close(r.lost_h * H, 600)


def test_on_demand_ignores_the_trace() -> None:
    r = simulate("on-demand", trace("0" * 6), setup(2, 15))
    # boot 300 + 7200 s of training, at the on-demand price
    assert r.outcome == "succeeded"
    assert close(r.wall_h * H, 7500)
    assert close(r.cost, 7500 / H * 3.06)


# -- a stall under each policy ------------------------------------------------------------
# always available; H = 2 h, C = 10 min; attempt 1 freezes after 2000 s of training:
# boot 0..300, checkpoints p=600/1200/1800 written at 900/1500/2100, frozen at 2300 (p=2000)
ALWAYS = "1" * 60


def stall_setup(**kw: object) -> Setup:
    return setup(2, 10, freeze_after_s=(2000.0,), **kw)


@pytest.mark.parametrize("policy", ["pitstop", "on-demand"])
def test_stall_pitstop_detects_after_stall_timeout_and_resumes(policy: str) -> None:
    r = simulate(policy, trace(ALWAYS), stall_setup())
    # stall seen at 2100 + 1800 = 3900 (a poll tick); backoff 10 s -> next poll 3930
    # attempt 2 from p=1800: boot 3930..4230, trains 5400 s -> 9630
    assert close(r.wall_h * H, 9630)
    assert close(r.stalled_h * H, 3900 - 2300)
    assert close(r.lost_h * H, 200)
    assert close(r.idle_h * H, 30)  # 3900..3930: backoff and the poll tick
    assert (r.stalls, r.restarts, r.attempts) == (1, 1, 2)


def test_stall_numbers_follow_the_lifecycle_policy() -> None:
    # a 10-minute stall timeout and 100 s backoff: seen at 2100 + 600 = 2700, next start at
    # the first poll at or after 2800 (2820); boot to 3120 and 5400 s of training -> 8520
    policy = replace(default_policy(), stall_timeout_s=600.0, backoff_base_s=100.0)
    r = simulate("pitstop", trace(ALWAYS), stall_setup(lifecycle=policy))
    assert close(r.wall_h * H, 8520)
    assert close(r.stalled_h * H, 2700 - 2300)


def test_stall_restart_from_scratch_starts_over() -> None:
    r = simulate("restart-from-scratch", trace(ALWAYS), stall_setup())
    # seen at 3900 like pitstop, restarts at once from zero: boot to 4200, 7200 s -> 11400
    assert close(r.wall_h * H, 11400)
    assert close(r.lost_h * H, 2000)
    assert r.restarts == 1


def test_stall_notify_only_burns_until_time_to_live() -> None:
    r = simulate("notify-only", trace(ALWAYS), stall_setup())
    # TTL = H + 1 = 3 h = 10800 s from launch: frozen 2300..10800; a new instance resumes
    # from p=1800: boot 10800..11100, 5400 s -> 16500
    assert close(r.wall_h * H, 16500)
    assert close(r.stalled_h * H, 10800 - 2300)
    assert close(r.lost_h * H, 200)
    assert r.restarts == 0


def test_stalls_before_first_checkpoint_use_startup_grace() -> None:
    # freezes after 100 s of training: no checkpoint; seen at max(2400, 1800) = 2400 after
    # the start; backoff 10 s -> 2430; boot to 2730, 3600 s -> 6330
    r = simulate("pitstop", trace(ALWAYS), setup(1, 10, freeze_after_s=(100.0,)))
    assert close(r.wall_h * H, 6330)


def test_restart_budget_spent_is_failed() -> None:
    policy = replace(default_policy(), max_restarts=1, reboot_after_failed_attempts=0)
    r = simulate(
        "pitstop", trace(ALWAYS), setup(1, 10, freeze_after_s=(100.0, 100.0), lifecycle=policy)
    )
    assert r.outcome == "failed"
    assert not r.finished


# -- the pitstop policy is the supervisor's lifecycle -------------------------------------
def test_pitstop_policy_calls_lifecycle_step() -> None:
    calls: list[float] = []

    def spy(
        run: lc.Run, obs: lc.Observation, now: float, policy: lc.Policy
    ) -> tuple[lc.Run, list[lc.Action]]:
        calls.append(now)
        return lc.step(run, obs, now, policy)

    base = simulate("pitstop", trace(ALWAYS), stall_setup())
    spied = run_pitstop(trace(ALWAYS), stall_setup(), step=spy)
    assert calls and spied.summary() == base.summary()

    def never_stalls(
        run: lc.Run, obs: lc.Observation, now: float, policy: lc.Policy
    ) -> tuple[lc.Run, list[lc.Action]]:
        return lc.step(run, obs, now, replace(policy, stall_timeout_s=1e9, startup_grace_s=1e9))

    # a different decision function gives different numbers: the engine decides nothing
    stuck = run_pitstop(trace(ALWAYS), stall_setup(), step=never_stalls)
    assert stuck.outcome == "unfinished"


def test_event_driven_steps_match_stepping_every_poll() -> None:
    """Waking only when something can change gives what the daemon's every-tick loop gives."""
    rng = random.Random(7)
    for i in range(12):
        ticks = "".join("1" if rng.random() < 0.7 else "0" for _ in range(80))
        s = setup(2, rng.choice([5, 10, 15]), stall_rate_per_hour=0.5, seed=i)
        sparse = run_pitstop(trace(ticks), s)
        dense = run_pitstop(trace(ticks), replace(s, dense=True))
        assert sparse.summary() == dense.summary(), i


def test_paid_time_adds_up() -> None:
    rng = random.Random(3)
    for i in range(20):
        ticks = "".join("1" if rng.random() < 0.6 else "0" for _ in range(200))
        s = setup(4, 15, stall_rate_per_hour=0.3, seed=i)
        for policy in ("pitstop", "restart-from-scratch", "notify-only", "on-demand"):
            r = simulate(policy, trace(ticks), s)
            parts = r.trained_h + r.lost_h + r.stalled_h + r.boot_h + r.idle_h
            assert abs(parts - r.paid_h) < 1e-6, (policy, i)
            assert r.wall_h >= r.paid_h - 1e-9


def test_bad_job_values_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        TrainingJob(-1, 15)
    with pytest.raises(UsageError):
        simulate("pitstop", trace("11"), setup(1, 15, start_offset_h=5))
    with pytest.raises(UsageError):
        simulate("bogus", trace("11"), setup(1, 15))
