"""Deadline runs: one job of ``H`` training hours due ``D`` hours after submission, on a
spot trace plus on-demand capacity that never goes away, under one market policy.

The world is the goodput simulator's (``engine.py``): every attempt pays ``boot_minutes``
before it trains, writes a checkpoint every ``checkpoint_minutes`` of training, and loses
the training since its last checkpoint when it ends early; spot capacity follows the
trace (a spot instance is gone at the tick boundary where capacity ends). Stalls are not
modelled here: they cost spot and on-demand alike and are the goodput simulator's subject.

Money follows AWS's billing (``setup.refunds``, on by default): every instance is billed by
the second from its launch, except a spot instance EC2 interrupts within its first hour,
which costs nothing (``deadlines.attempt_cost``). Every spot attempt is a fresh instance;
one the policy lets go (for on-demand, or at the deadline) is billed.

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

import itertools
import math
from bisect import bisect_right
from collections.abc import Sequence
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
LOOKBACK_H = 72.0  # the budget rule reads each zone's last 3 days of capacity


@dataclass(frozen=True)
class DeadlineSetup:
    job: TrainingJob
    deadline_hours: float
    start_offset_h: float = 0.0
    spot_price: float = DEFAULT_SPOT_PRICE
    on_demand_price: float = DEFAULT_ON_DEMAND_PRICE
    refunds: bool = True  # AWS: a spot instance EC2 interrupts in its first hour is free

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
    spot_h: float  # paid spot instance hours (a refunded instance's are not paid)
    on_demand_h: float  # paid on-demand instance hours
    trained_h: float
    preemptions: int
    switches: int  # on-demand launches
    moves: int = 0  # spot attempts started in another zone than the previous one

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

    def __init__(
        self, market: str, t: float, boot: float, base: float, ckpt: float, zone: int | None
    ) -> None:
        self.market = market
        self.zone = zone  # the spot zone's index; None on on-demand
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


@dataclass(frozen=True)
class Zone:
    """One of the fleet's zones (or instance types): its spot trace and its spot price."""

    trace: Trace
    spot_price: float

    @property
    def name(self) -> str:
        return self.trace.name


Spot = Trace | Sequence[Zone] | None


def zones_of(spot: Spot, setup: DeadlineSetup) -> tuple[Zone, ...]:
    """One trace is one zone at ``setup.spot_price``; None is no zone."""
    if spot is None:
        return ()
    if isinstance(spot, Trace):
        return (Zone(spot, setup.spot_price),)
    return tuple(spot)


def spot_name(zones: tuple[Zone, ...]) -> str:
    if not zones:
        return "on-demand"
    return zones[0].name if len(zones) == 1 else f"{len(zones)} zones ({zones[0].name}, ...)"


def simulate_deadline(policy: str, trace: Spot, setup: DeadlineSetup) -> DeadlineResult:
    """One job under ``policy``. ``trace`` is one spot trace (at ``setup.spot_price``) or
    the fleet's zones, each with its own trace and price: spot is up where any zone is up;
    a spot attempt runs in one zone (the cheapest up when it starts), ends where that
    zone's capacity does, and the next attempt, in whichever zone is up, pays one restart
    (a move when the zone differs). None only for ``on-demand``."""
    if policy not in DEADLINE_POLICIES:
        raise UsageError(f"unknown policy {policy!r}; choose one of {', '.join(DEADLINE_POLICIES)}")
    zones = zones_of(trace, setup)
    if not zones and policy != "on-demand":
        raise UsageError(f"policy {policy} needs a trace")
    job = setup.job
    total = job.hours * HOUR
    boot = job.boot_minutes * 60
    ckpt = job.checkpoint_minutes * 60
    deadline = setup.deadline_hours * HOUR
    offset = setup.start_offset_h * HOUR
    use_trace = bool(zones) and policy != "on-demand"
    if use_trace:
        for z in zones:
            if z.trace.duration_s - offset <= 0:
                raise UsageError(
                    f"--start-offset {setup.start_offset_h:g} h is past the end of trace {z.name}"
                )
    end = min([deadline, *(z.trace.duration_s - offset for z in zones)]) if use_trace else deadline
    rule = RULE_OF.get(policy)
    dearest = max((z.spot_price for z in zones), default=setup.spot_price)

    def up(i: int, t: float) -> bool:
        return use_trace and zones[i].trace.available_at(offset + t)

    def zone_up(t: float) -> int | None:
        """The cheapest zone with capacity at ``t`` (the first listed among equals)."""
        live = [i for i in range(len(zones)) if up(i, t)]
        return min(live, key=lambda i: zones[i].spot_price) if live else None

    # the budget rule reads each zone's recent capacity only when a lost attempt is paid
    reads_odds = rule == dl.BUDGET and not setup.refunds
    history = [z.trace.up_runs() for z in zones] if reads_odds else []

    def odds(i: int, t: float) -> float | None:
        """Zone ``i``'s chance, from its last ``LOOKBACK_H`` hours, that capacity up now
        lasts until a new attempt keeps its first checkpoint."""
        now = offset + t
        runs = history[i]
        k = bisect_right(runs, (now, math.inf))  # runs started at or before now
        current = runs[k - 1] if k and runs[k - 1][1] > now else None
        up_for = now - current[0] if current else 0.0
        past = [e - b for b, e in runs[:k] if now - LOOKBACK_H * HOUR <= e <= now]
        return dl.spot_odds(past, up_for, boot + min(ckpt, max(0.0, total - kept)))

    def pick(t: float) -> tuple[int | None, float | None]:
        """The zone a new spot attempt would take: the cheapest whose odds pass (or are
        unknown), else the likeliest; with its odds."""
        live = [i for i in range(len(zones)) if up(i, t)]
        if not live:
            return None, None
        if not history:
            return min(live, key=lambda i: zones[i].spot_price), None
        rated = [(i, odds(i, t)) for i in live]
        good = [(i, o) for i, o in rated if o is None or o >= dl.ODDS_MIN]
        if good:
            return min(good, key=lambda io: zones[io[0]].spot_price)
        return max(rated, key=lambda io: io[1] or 0.0)

    def spot_change(t: float) -> float:
        if not use_trace:
            return math.inf
        # a nudge past ``t``: (offset + t) - offset may round to just below t
        return min(z.trace.next_change(offset + t + 1e-3) - offset for z in zones)

    paid = {"spot": 0.0, "on-demand": 0.0}
    money = 0.0
    kept = 0.0
    run: _Run | None = None
    last_zone: int | None = None
    preemptions = switches = moves = 0

    def price(r: _Run) -> float:
        return setup.on_demand_price if r.zone is None else zones[r.zone].spot_price

    def stop(t: float, by_ec2: bool = False) -> None:
        nonlocal run, kept, money
        if run is not None:
            cost = dl.attempt_cost(price(run), run.started, t, run.started, by_ec2, setup.refunds)
            if cost > 0:
                paid[run.market] += t - run.started
            money += cost
            kept = run.kept(t, total)
            run = None

    def start(market: str, t: float, zone: int | None = None) -> None:
        nonlocal run, switches, moves, last_zone
        run = _Run(market, t, boot, kept, ckpt, zone)
        if market == "on-demand":
            switches += 1
        elif zone is not None:
            if last_zone is not None and zone != last_zone:
                moves += 1
            last_zone = zone

    def choose(t: float, claim: int | None = None, chance: float | None = None) -> dl.Decision:
        if rule is None:  # spot-only / on-demand
            choice = dl.Choice.ON_DEMAND if policy == "on-demand" else dl.Choice.SPOT
            return dl.Decision(choice, policy, math.inf)
        done = run.kept(t, total) if run is not None else kept
        spent = money + ((t - run.started) / HOUR * price(run) if run is not None else 0.0)
        on_spot = run is not None and run.market == "spot"
        return dl.decide(
            dl.Job(
                need=total,
                done=done,
                now=t,
                deadline=deadline,
                overhead=boot,
                checkpoint=ckpt,
                spot_held=on_spot,
                on_demand_held=run is not None and run.market == "on-demand",
                started=0.0,
                spent=spent,
                spot_price=price(run)
                if run is not None and on_spot
                else (zones[claim].spot_price if claim is not None else dearest),
                on_demand_price=setup.on_demand_price,
                checkpoint_at=run.next_event(t, total) if run is not None and on_spot else None,
                spot_odds=chance,
                refunds=setup.refunds,
            ),
            rule,
        )

    t = 0.0
    for _ in range(MAX_EVENTS):
        if run is not None and run.kept(t, total) >= total:
            stop(t)
            return _result(policy, zones, setup, "met" if t <= deadline + _EPS else "missed",
                           t, paid, money, kept, preemptions, switches, moves)  # fmt: skip
        if t >= end - _EPS:
            stop(end)
            outcome = "missed" if end >= deadline - _EPS else "unfinished"
            return _result(policy, zones, setup, outcome, end, paid, money, kept, preemptions,
                           switches, moves)  # fmt: skip
        if run is not None and run.zone is not None and not up(run.zone, t):
            stop(t, by_ec2=True)  # the spot instance is gone (EC2 took it at the boundary)
            preemptions += 1
        claim: int | None = None
        chance: float | None = None
        if run is None and policy != "on-demand":
            claim, chance = pick(t)
            if claim is not None and (
                rule != dl.BUDGET or choose(t, claim, chance).choice is dl.Choice.SPOT
            ):
                # an idle spot instance claims the job (the budget rule is asked first)
                start("spot", t, claim)
        d = choose(t, claim, chance) if run is None else choose(t)
        if d.choice is dl.Choice.ON_DEMAND:
            if run is None or run.market != "on-demand":
                stop(t)  # SPOT -> ON_DEMAND: the spot attempt's unsaved training is lost
                start("on-demand", t)
        elif d.choice is dl.Choice.SPOT and run is not None and run.market == "on-demand":
            stop(t)  # ON_DEMAND -> SPOT: the on-demand instance is let go
            zi = zone_up(t)
            if zi is not None:
                start("spot", t, zi)
        wakes = [end, spot_change(t)]
        if d.choice is dl.Choice.WAIT:  # the odds move with every tick spot stays up
            wakes.append(min(offset + t + 1e-3 + z.trace.gap_s - (offset + t + 1e-3) % z.trace.gap_s
                             for z in zones) - offset)  # fmt: skip
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
    zones: tuple[Zone, ...],
    setup: DeadlineSetup,
    outcome: str,
    t: float,
    paid: dict[str, float],
    money: float,
    kept: float,
    preemptions: int,
    switches: int,
    moves: int,
) -> DeadlineResult:
    return DeadlineResult(
        policy=policy,
        trace=spot_name(zones),
        met=outcome == "met",
        outcome=outcome,
        wall_h=t / HOUR,
        cost=money,
        spot_h=paid["spot"] / HOUR,
        on_demand_h=paid["on-demand"] / HOUR,
        trained_h=kept / HOUR,
        preemptions=preemptions,
        switches=switches,
        moves=moves,
    )


def spot_lower_bound(trace: Trace | Sequence[Zone], setup: DeadlineSetup) -> float:
    """A cost no policy can beat: every spot second inside the window used (no boots, no
    losses, the cheapest zone up at each moment), on-demand for the rest. With AWS's
    refund (``setup.refunds``) the last hour of each run of a zone's capacity that EC2 ends
    is free (an instance launched an hour before the end, with restarts free). What ``the
    traces allow`` at best."""
    zones = zones_of(trace, setup)
    offset = setup.start_offset_h * HOUR
    end = min([setup.deadline_hours * HOUR, *(z.trace.duration_s - offset for z in zones)])
    # each zone's pieces of capacity, absolute time: (begin, end, price)
    parts: list[list[tuple[float, float, float]]] = []
    for z in zones:
        mine: list[tuple[float, float, float]] = []
        for b, e in z.trace.up_runs():
            if e <= offset or b >= offset + end:
                continue  # outside the window
            free_from = e - dl.REFUND_S if setup.refunds and e < z.trace.duration_s else e
            if b < free_from:
                mine.append((b, free_from, z.spot_price))
            if max(b, free_from) < e:
                mine.append((max(b, free_from), e, 0.0))
        parts.append(mine)
    cuts = {0.0, end}
    for mine in parts:
        for b, e, _ in mine:
            for x in (b - offset, e - offset):
                if 0.0 < x < end:
                    cuts.add(x)
    points = sorted(cuts)
    pieces: list[tuple[float, float]] = []  # (spot price, seconds)
    for lo, hi in itertools.pairwise(points):
        mid = offset + (lo + hi) / 2
        live = [pr for mine in parts for b, e, pr in mine if b <= mid < e]
        if live:
            pieces.append((min(live), hi - lo))
    need = setup.job.hours * HOUR
    left, cost = need, 0.0
    for p, secs in sorted(pieces):  # the cheapest spot seconds first
        used = min(left, secs)
        cost += used * min(p, setup.on_demand_price)
        left -= used
    return (cost + left * setup.on_demand_price) / HOUR


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
    trace: Trace | Sequence[Zone],
    setup: DeadlineSetup,
    starts: int = 96,
    policy: str = "pitstop-deadline",
) -> Plan:
    """Replay ``policy`` from ``starts`` submission times spread evenly over the trace (each
    leaving the whole window inside it): the expected cost, the chance of meeting the
    deadline, and the on-demand share. The past is the forecast: that is all a trace knows."""
    if starts < 1:
        raise UsageError(f"--starts must be >= 1, got {starts}")
    zones = zones_of(trace, setup)
    if not zones:
        raise UsageError("plan needs at least one trace")
    shortest = min(zones, key=lambda z: z.trace.duration_s)
    room = shortest.trace.duration_s / HOUR - setup.deadline_hours
    if room < 0:
        raise UsageError(
            f"trace {shortest.name} covers {shortest.trace.duration_s / HOUR:.1f} h, less "
            f"than the deadline's {setup.deadline_hours:g} h"
        )
    from dataclasses import replace

    results = [
        simulate_deadline(policy, zones, replace(setup, start_offset_h=round(room * i / starts, 3)))
        for i in range(starts)
    ]
    costs = sorted(r.cost for r in results)

    def pct(p: float) -> float:
        return costs[max(0, math.ceil(p / 100 * len(costs)) - 1)]

    return Plan(
        trace=spot_name(zones),
        runs=len(results),
        met_share=sum(r.met for r in results) / len(results),
        cost_mean=sum(costs) / len(costs),
        cost_p50=pct(50),
        cost_p90=pct(90),
        on_demand_cost=simulate_deadline("on-demand", None, setup).cost,
        on_demand_share=sum(r.on_demand_share for r in results) / len(results),
        policy=policy,
    )
