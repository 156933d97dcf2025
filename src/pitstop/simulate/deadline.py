"""Deadline runs: one job of ``H`` training hours due ``D`` hours after submission, on a
spot trace plus on-demand capacity that never goes away, under one market policy.

The world is the goodput simulator's (``engine.py``): every attempt pays ``boot_minutes``
before it trains, writes a checkpoint every ``checkpoint_minutes`` of training, and loses
the training since its last checkpoint when it ends early; spot capacity follows the
trace (a spot instance is gone at the tick boundary where capacity ends). Stalls are not
modelled here: they cost spot and on-demand alike and are the goodput simulator's subject.

Who holds the job follows the fleet: a spot instance claims it whenever spot capacity
exists and nothing holds it, unless the policy says ``on-demand``; an on-demand instance is
launched when the policy says ``on-demand`` and none holds the job, and let go when it says
``spot`` (or the job ends). The policy is ``pitstop.deadlines.decide`` itself, evaluated
at every event and at the time its answer says it may change (``Decision.until``), so no
decision is late.

Policies: ``pitstop-deadline`` (the shipped rule, ``deadlines.DEFAULT_RULE``),
``greedy-deadline``, ``uniform-progress-deadline``, ``spot-only`` (waits for spot, never
pays on-demand) and ``on-demand`` (on-demand from the start). A run ends when training
does, or at the deadline (missed: what it paid until then), or where the trace ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pitstop import deadlines as dl
from pitstop.errors import UsageError
from pitstop.simulate.engine import (
    DEFAULT_ON_DEMAND_PRICE,
    DEFAULT_SPOT_PRICE,
    HOUR,
    MAX_EVENTS,
    TrainingJob,
)
from pitstop.simulate.traces import Trace

_EPS = 1e-6
RULE_OF = {
    "pitstop-deadline": dl.DEFAULT_RULE,
    "greedy-deadline": dl.GREEDY,
    "uniform-progress-deadline": dl.UNIFORM_PROGRESS,
}
DEADLINE_POLICIES = (*RULE_OF, "spot-only", "on-demand")


@dataclass(frozen=True)
class DeadlineSetup:
    job: TrainingJob
    deadline_hours: float
    start_offset_h: float = 0.0
    spot_price: float = DEFAULT_SPOT_PRICE
    on_demand_price: float = DEFAULT_ON_DEMAND_PRICE

    def __post_init__(self) -> None:
        need = dl.latest_start(self.job.hours * HOUR, self.job.boot_minutes * 60) / HOUR
        if not (math.isfinite(self.deadline_hours) and self.deadline_hours >= need - _EPS):
            raise UsageError(
                f"--deadline-hours must leave the training hours plus one restart "
                f"(>= {need:g} h), got {self.deadline_hours:g}"
            )


@dataclass
class DeadlineResult:
    policy: str
    trace: str
    met: bool
    outcome: str  # "met", "missed" (deadline passed) or "unfinished" (the trace ended)
    wall_h: float
    cost: float
    spot_h: float  # paid spot instance hours
    on_demand_h: float  # paid on-demand instance hours
    trained_h: float
    preemptions: int
    switches: int  # on-demand launches

    @property
    def on_demand_share(self) -> float:
        paid = self.spot_h + self.on_demand_h
        return self.on_demand_h / paid if paid > 0 else 0.0

    def summary(self) -> dict[str, object]:
        doc: dict[str, object] = {}
        for k, v in self.__dict__.items():
            doc[k] = round(v, 4) if isinstance(v, float) else v
        doc["on_demand_share"] = round(self.on_demand_share, 4)
        return doc


class _Run:
    """One attempt on one instance: boot, then training from ``base``."""

    def __init__(self, market: str, t: float, boot: float, base: float, ckpt: float) -> None:
        self.market = market
        self.started = t
        self.train_from = t + boot
        self.base = base
        self.ckpt = ckpt

    def progress(self, t: float) -> float:
        return self.base + max(0.0, t - self.train_from)

    def kept(self, t: float, total: float) -> float:
        p = min(self.progress(t), total)
        if p >= total - _EPS:
            return total
        k = math.floor((p - self.base) / self.ckpt + _EPS)
        return self.base + k * self.ckpt

    def next_event(self, t: float, total: float) -> float:
        """The next checkpoint or the end of training after ``t``."""
        finish = self.train_from + (total - self.base)
        k = math.floor(max(0.0, t - self.train_from) / self.ckpt + _EPS) + 1
        return min(self.train_from + k * self.ckpt, finish)


def simulate_deadline(policy: str, trace: Trace | None, setup: DeadlineSetup) -> DeadlineResult:
    """One job under ``policy``; ``trace`` may be None only for ``on-demand``."""
    if policy not in DEADLINE_POLICIES:
        raise UsageError(f"unknown policy {policy!r}; choose one of {', '.join(DEADLINE_POLICIES)}")
    if trace is None and policy != "on-demand":
        raise UsageError(f"policy {policy} needs a trace")
    job = setup.job
    total = job.hours * HOUR
    boot = job.boot_minutes * 60
    ckpt = job.checkpoint_minutes * 60
    deadline = setup.deadline_hours * HOUR
    offset = setup.start_offset_h * HOUR
    use_trace = trace is not None and policy != "on-demand"
    if use_trace and trace is not None and trace.duration_s - offset <= 0:
        raise UsageError(
            f"--start-offset {setup.start_offset_h:g} h is past the end of trace {trace.name}"
        )
    end = min(deadline, trace.duration_s - offset) if use_trace and trace else deadline
    rule = RULE_OF.get(policy)

    def spot_at(t: float) -> bool:
        return use_trace and trace is not None and trace.available_at(offset + t)

    def spot_change(t: float) -> float:
        if not use_trace or trace is None:
            return math.inf
        # a nudge past ``t``: (offset + t) - offset may round to just below t
        return trace.next_change(offset + t + 1e-3) - offset

    paid = {"spot": 0.0, "on-demand": 0.0}
    kept = 0.0
    run: _Run | None = None
    preemptions = switches = 0

    def stop(t: float) -> None:
        nonlocal run, kept
        if run is not None:
            paid[run.market] += t - run.started
            kept = run.kept(t, total)
            run = None

    def start(market: str, t: float) -> None:
        nonlocal run, switches
        run = _Run(market, t, boot, kept, ckpt)
        if market == "on-demand":
            switches += 1

    def choose(t: float) -> dl.Decision:
        if rule is None:  # spot-only / on-demand
            choice = dl.Choice.ON_DEMAND if policy == "on-demand" else dl.Choice.SPOT
            return dl.Decision(choice, policy, math.inf)
        done = run.kept(t, total) if run is not None else kept
        return dl.decide(
            dl.Job(
                need=total,
                done=done,
                now=t,
                deadline=deadline,
                overhead=boot,
                checkpoint=ckpt,
                spot_held=run is not None and run.market == "spot",
                on_demand_held=run is not None and run.market == "on-demand",
                started=0.0,
            ),
            rule,
        )

    t = 0.0
    for _ in range(MAX_EVENTS):
        if run is not None and run.kept(t, total) >= total:
            stop(t)
            return _result(policy, trace, setup, "met" if t <= deadline + _EPS else "missed",
                           t, paid, kept, preemptions, switches)  # fmt: skip
        if t >= end - _EPS:
            stop(end)
            outcome = "missed" if end >= deadline - _EPS else "unfinished"
            return _result(policy, trace, setup, outcome, end, paid, kept, preemptions, switches)
        if run is not None and run.market == "spot" and not spot_at(t):
            stop(t)  # the spot instance is gone (its notice acted on at the boundary)
            preemptions += 1
        if run is None and policy != "on-demand" and spot_at(t):
            start("spot", t)  # an idle spot instance claims the job before anyone decides
        d = choose(t)
        if d.choice is dl.Choice.ON_DEMAND:
            if run is None or run.market != "on-demand":
                stop(t)  # SPOT -> ON_DEMAND: the spot attempt's unsaved training is lost
                start("on-demand", t)
        elif d.choice is dl.Choice.SPOT and run is not None and run.market == "on-demand":
            stop(t)  # ON_DEMAND -> SPOT: the on-demand instance is let go
            if spot_at(t):
                start("spot", t)
        wakes = [end, spot_change(t)]
        if run is not None:
            wakes.append(run.next_event(t, total))
        # a rule's answer that changes at once (a boundary) is asked again a second later
        wakes.append(d.until if d.until > t + _EPS else t + 1.0)
        nxt = min(wakes)
        if nxt <= t + _EPS:
            raise RuntimeError(f"deadline simulation stuck at t={t}")
        t = nxt
    raise RuntimeError("deadline simulation did not end")


def _result(
    policy: str,
    trace: Trace | None,
    setup: DeadlineSetup,
    outcome: str,
    t: float,
    paid: dict[str, float],
    kept: float,
    preemptions: int,
    switches: int,
) -> DeadlineResult:
    return DeadlineResult(
        policy=policy,
        trace="on-demand" if trace is None else trace.name,
        met=outcome == "met",
        outcome=outcome,
        wall_h=t / HOUR,
        cost=paid["spot"] / HOUR * setup.spot_price
        + paid["on-demand"] / HOUR * setup.on_demand_price,
        spot_h=paid["spot"] / HOUR,
        on_demand_h=paid["on-demand"] / HOUR,
        trained_h=kept / HOUR,
        preemptions=preemptions,
        switches=switches,
    )


def spot_lower_bound(trace: Trace, setup: DeadlineSetup) -> float:
    """A cost no policy can beat: every spot hour inside the window used (no boots, no
    losses), on-demand for the rest. What ``the traces allow`` at best."""
    offset = setup.start_offset_h * HOUR
    end = min(setup.deadline_hours * HOUR, trace.duration_s - offset)
    t, avail = 0.0, 0.0
    while t < end - _EPS:
        nxt = min(trace.next_change(offset + t) - offset, end)
        if trace.available_at(offset + t):
            avail += nxt - t
        t = nxt
    need = setup.job.hours * HOUR
    spot = min(need, avail)
    return (spot * setup.spot_price + (need - spot) * setup.on_demand_price) / HOUR


@dataclass(frozen=True)
class Plan:
    """``pitstop plan``: the shipped policy replayed from many start times of one trace."""

    trace: str
    runs: int
    met_share: float  # share of start times that met the deadline
    cost_mean: float
    cost_p50: float
    cost_p90: float
    on_demand_cost: float  # on-demand from the start, for comparison
    on_demand_share: float  # on-demand share of paid hours, averaged over runs
    policy: str = "pitstop-deadline"

    def as_dict(self) -> dict[str, object]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def plan(
    trace: Trace, setup: DeadlineSetup, starts: int = 96, policy: str = "pitstop-deadline"
) -> Plan:
    """Replay ``policy`` from ``starts`` submission times spread evenly over the trace (each
    leaving the whole window inside it): the expected cost, the chance of meeting the
    deadline, and the on-demand share. The past is the forecast: that is all a trace knows."""
    if starts < 1:
        raise UsageError(f"--starts must be >= 1, got {starts}")
    room = trace.duration_s / HOUR - setup.deadline_hours
    if room < 0:
        raise UsageError(
            f"trace {trace.name} covers {trace.duration_s / HOUR:.1f} h, less than the "
            f"deadline's {setup.deadline_hours:g} h"
        )
    from dataclasses import replace

    results = [
        simulate_deadline(policy, trace, replace(setup, start_offset_h=round(room * i / starts, 3)))
        for i in range(starts)
    ]
    costs = sorted(r.cost for r in results)

    def pct(p: float) -> float:
        return costs[max(0, math.ceil(p / 100 * len(costs)) - 1)]

    return Plan(
        trace=trace.name,
        runs=len(results),
        met_share=sum(r.met for r in results) / len(results),
        cost_mean=sum(costs) / len(costs),
        cost_p50=pct(50),
        cost_p90=pct(90),
        on_demand_cost=simulate_deadline("on-demand", None, setup).cost,
        on_demand_share=sum(r.on_demand_share for r in results) / len(results),
        policy=policy,
    )
