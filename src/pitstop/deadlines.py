"""Deadlines: which market a job should train on now, so that it finishes in time, cheaply.

One pure function, ``decide``, used by the simulator (``simulate/deadline.py``), the fleet's
watchdog (``fleet watch`` launches an on-demand instance when it says so) and
``pitstop plan``. It knows nothing of clocks, S3 or EC2: every input is a number in
seconds on one clock (the caller's), and the answer says until when it holds.

The words (all seconds):

- ``need``: training the job needs; ``done``: training it keeps (its last complete
  checkpoint; work since then is at risk and does not count).
- ``slack = (deadline - now) - (need - done)``: time to spare if it trained without a
  break from now on.
- ``overhead``: one restart, the start-up an attempt pays before it trains (instance boot,
  trainer start). ``guard``: the caller's reaction time (a watchdog round, a launch).

Choices: ``spot`` (train on spot; with no spot instance, wait for one), ``on-demand``
(train on an on-demand instance now), ``either`` (keep whatever holds the job; nothing to
launch, nothing to release).

Policies (docs/deadlines.md has the guarantee and the measured comparison):

- ``greedy``: spot until ``slack <= overhead + guard``, then on-demand to the end. The
  on-demand instance boots in ``overhead`` and trains without a break, so it finishes by the
  deadline; slack never grows on on-demand, so once there the job stays there.
- ``uniform-progress`` (Can't Be Late, NSDI 2024): keep progress on the straight line from
  (``started``, 0) to (``deadline``, ``need``). Behind the line with no spot instance
  holding the job: on-demand. On on-demand, stay until ahead of the line by one restart
  and one checkpoint interval (hysteresis, so it does not flap), then back to spot. The
  greedy safety net (``slack <= overhead + guard``) overrides everything.
- ``budget`` (shipped): greedy's safety net, plus a cost cap that holds for every run.
  ``commit`` is what the job would cost if it went on-demand now and stayed (``spent`` +
  one restart and the training left, at the on-demand price); at submission it is
  on-demand's own cost. AWS does not charge a spot instance that EC2 interrupts in its
  first hour (``REFUND_S``; "Billing for interrupted Spot Instances"), so a spot attempt
  can add to ``commit`` only if EC2 ends it after that hour, and then at most its
  ``attempt_risk``: the spot seconds it paid less the on-demand value of the checkpoints
  it kept. A new spot attempt starts only if (1) ``commit + attempt_risk`` stays within
  on-demand's cost, and (2) the deadline cannot force it off before it keeps its first
  checkpoint (its slack stays above the safety net's all the while). A running spot attempt
  is never cut for money, and on-demand, once taken, stays. So no run costs more than
  on-demand from the start (docs/deadlines.md has the proof, and why without the first-hour
  refund no rule that uses spot can promise that: then the cap is on-demand plus one
  attempt's risk). Where neither condition holds it goes on-demand at once: later would
  cost the same and finish later. Without prices or ``spent`` it is greedy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from pitstop.errors import UsageError


class Choice(str, Enum):
    SPOT = "spot"  # train on spot; with no spot instance, wait for one
    ON_DEMAND = "on-demand"  # train on an on-demand instance now
    EITHER = "either"  # keep whatever holds the job; nothing to launch or release
    WAIT = "wait"  # no new spot attempt now (spot is unlikely to last), nothing to launch


GREEDY = "greedy"
UNIFORM_PROGRESS = "uniform-progress"
BUDGET = "budget"
RULES = (BUDGET, GREEDY, UNIFORM_PROGRESS)
DEFAULT_RULE = BUDGET  # never above on-demand (docs/deadlines.md)
DEFAULT_OVERHEAD_S = 600.0  # one restart on EC2: boot, supervisor, trainer start (settings)
ODDS_MIN = 0.5  # budget: a new spot attempt only if it keeps its checkpoint this often
ODDS_SAMPLE = 5  # budget: the least past runs of capacity that make an estimate
DEFAULT_CHECKPOINT_S = 900.0  # DRfC's checkpoint interval, roughly (settings)
# AWS bills nothing for a Linux spot instance that EC2 interrupts within its first hour
# (EC2 User Guide, "Billing for interrupted Spot Instances"); one stopped or terminated by
# its owner, or interrupted later, is billed by the second from its launch
REFUND_S = 3600.0


def attempt_cost(
    price_h: float, start: float, end: float, launched: float, by_ec2: bool, refunds: bool = True
) -> float:
    """What one attempt on one instance costs: ``price_h`` per hour from ``start`` to
    ``end``, nothing when EC2 ended the instance within ``REFUND_S`` of its ``launched``."""
    if refunds and by_ec2 and end - launched < REFUND_S:
        return 0.0
    return price_h * max(0.0, end - start) / 3600


@dataclass(frozen=True)
class Job:
    """What the policy knows of a job (seconds, one clock)."""

    need: float  # training the job needs
    done: float  # training it keeps (last complete checkpoint)
    now: float
    deadline: float
    overhead: float  # one restart: start-up before an attempt trains
    checkpoint: float  # training between checkpoints
    spot_held: bool = False  # a spot instance holds the job now
    on_demand_held: bool = False  # an on-demand instance holds the job now
    started: float | None = None  # submission time (uniform progress's line); None: now
    guard: float = 0.0  # the caller's reaction time
    # the budget rule's inputs (money in one currency, prices per hour); None: unknown
    spent: float | None = None  # paid so far, every attempt, the holding one up to now
    spot_price: float | None = None  # the holding zone's, else the dearest that may claim it
    on_demand_price: float | None = None
    checkpoint_at: float | None = None  # when the holding spot attempt keeps its next one
    spot_odds: float | None = None  # chance a spot attempt started now keeps its checkpoint
    spot_age: float = 0.0  # how long the spot instance that would take the job has run
    refunds: bool = True  # AWS's first-hour rule (``REFUND_S``); False: every second billed

    @property
    def remaining(self) -> float:
        return max(0.0, self.need - self.done)

    @property
    def slack(self) -> float:
        return (self.deadline - self.now) - self.remaining

    @property
    def priced(self) -> bool:
        return None not in (self.spent, self.spot_price, self.on_demand_price)

    @property
    def on_demand_cost(self) -> float:
        """On-demand from the start: one restart and all the training (needs prices)."""
        return (self.on_demand_price or 0.0) * (self.overhead + self.need) / 3600

    @property
    def allowance(self) -> float:
        """How far above on-demand's cost the budget rule may let a run go: nothing with
        AWS's first-hour refund; without it, one spot attempt lost just before its first
        checkpoint (a restart and a checkpoint interval at the spot price), since then no
        rule that uses spot can promise on-demand's cost (docs/deadlines.md)."""
        if self.refunds:
            return 0.0
        return (self.spot_price or 0.0) * (self.overhead + min(self.checkpoint, self.need)) / 3600

    @property
    def attempt_risk(self) -> float:
        """The most a spot attempt started now can add to ``commit`` (money), over every
        moment EC2 could end it: nothing inside the refund window; after it, the spot
        seconds paid less the on-demand value of the checkpoints kept. Between two
        checkpoints that difference grows, at each checkpoint it drops, so its worst is just
        before the first checkpoint after the window, or just before the end when spot is
        dearer than on-demand (or at 0 s when the job would finish inside the window)."""
        p_s = (self.spot_price or 0.0) / 3600
        p_od = (self.on_demand_price or 0.0) / 3600
        o, c, rem = self.overhead, self.checkpoint, self.remaining
        window = max(0.0, REFUND_S - self.spot_age) if self.refunds else 0.0
        finish = o + rem
        if finish <= window:
            return 0.0  # finished, or ended by EC2 for nothing
        j = 1 if window < o else math.floor((window - o) / c) + 1  # first checkpoint past it
        t = min(o + j * c, finish)
        worst = p_s * t - p_od * (j - 1) * c
        last = c * (math.ceil(rem / c) - 1)  # kept just before the end
        worst = max(worst, p_s * finish - p_od * last)
        return max(0.0, worst)

    @property
    def reach(self) -> float:
        """From a spot attempt's start to its first checkpoint (or the end of training)."""
        return self.overhead + min(self.checkpoint, self.remaining)

    @property
    def commit(self) -> float:
        """What the job costs if it goes on-demand now and stays: paid so far, one restart
        and the training left (needs prices)."""
        p = self.on_demand_price or 0.0
        return (self.spent or 0.0) + p * (self.overhead + self.remaining) / 3600

    @property
    def must_switch_at(self) -> float:
        """When the safety net fires with ``done`` unchanged: slack = overhead + guard."""
        return self.deadline - self.remaining - self.overhead - self.guard


@dataclass(frozen=True)
class Decision:
    choice: Choice
    reason: str
    until: float  # with only ``now`` moving, the choice holds until this time (inf: for good)


def check(job: Job) -> None:
    """Refuse inputs no rule can answer (one line naming the field)."""
    for name in ("need", "done", "overhead", "checkpoint", "guard"):
        value = getattr(job, name)
        if not (value >= 0 and math.isfinite(value)):
            raise UsageError(f"deadline policy: {name} must be a number >= 0, got {value!r}")
    for name in ("spent", "spot_price", "on_demand_price"):
        value = getattr(job, name)
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise UsageError(f"deadline policy: {name} must be a number >= 0, got {value!r}")
    if not job.checkpoint > 0:
        raise UsageError("deadline policy: checkpoint must be > 0")
    if not (math.isfinite(job.now) and math.isfinite(job.deadline)):
        raise UsageError("deadline policy: now and deadline must be finite")


def latest_start(need: float, overhead: float) -> float:
    """The least time before a deadline a job may be submitted: its training plus one
    restart (what ``submit`` demands of ``deadline``)."""
    return need + overhead


def decide(job: Job, rule: str = DEFAULT_RULE) -> Decision:
    """Where the job should train now under ``rule`` (one of ``RULES``)."""
    check(job)
    if job.remaining <= 0:
        return Decision(Choice.EITHER, "training done", math.inf)
    safety = job.must_switch_at
    if job.now >= safety:
        # the safety net: on-demand boots in `overhead` and trains without a break
        return Decision(
            Choice.ON_DEMAND,
            f"slack {job.slack / 3600:.2f} h <= one restart ({job.overhead / 3600:.2f} h)"
            + (f" + guard {job.guard:.0f} s" if job.guard else ""),
            math.inf,
        )
    if rule == BUDGET and job.priced:
        return _budget(job, safety)
    if rule in (GREEDY, BUDGET):
        return Decision(
            Choice.SPOT,
            f"slack {job.slack / 3600:.2f} h covers a restart: spot",
            safety,
        )
    if rule == UNIFORM_PROGRESS:
        return _uniform_progress(job, safety)
    raise UsageError(f"unknown deadline rule {rule!r}; choose one of {', '.join(RULES)}")


def _uniform_progress(job: Job, safety: float) -> Decision:
    start = job.now if job.started is None else min(job.started, job.now)
    span = job.deadline - start
    rate = job.need / span if span > 0 else math.inf  # training seconds per second of the line

    def line_reaches(progress: float) -> float:
        """When the line reaches ``progress`` (inf rate: at once)."""
        return start + progress / rate if math.isfinite(rate) and rate > 0 else -math.inf

    target = job.need if not math.isfinite(rate) else min(job.need, rate * (job.now - start))
    if job.on_demand_held:
        margin = job.overhead + job.checkpoint
        if job.done < target + margin:
            # ON_DEMAND -> SPOT once ahead of the line by a restart and a checkpoint; `done`
            # moves only at checkpoints, so with `now` alone moving it only falls behind
            return Decision(
                Choice.ON_DEMAND,
                f"on on-demand, {(job.done - target) / 3600:+.2f} h against the line "
                f"(leaves at +{margin / 3600:.2f} h)",
                math.inf,
            )
        return Decision(
            Choice.SPOT,
            "ahead of the line by a restart and a checkpoint: back to spot",
            min(safety, line_reaches(job.done - margin)),
        )
    if job.spot_held:
        return Decision(Choice.SPOT, "spot holds the job: keep it", safety)
    if job.done <= target:  # on the line is behind it an instant later
        return Decision(
            Choice.ON_DEMAND,
            f"behind the line by {(target - job.done) / 3600:.2f} h and no spot instance",
            math.inf,
        )
    return Decision(
        Choice.SPOT,
        f"ahead of the line by {(job.done - target) / 3600:.2f} h: wait for spot",
        min(safety, line_reaches(job.done)),
    )


def _budget(job: Job, safety: float) -> Decision:
    if job.on_demand_held:
        return Decision(Choice.ON_DEMAND, "on on-demand: stays (its cost is fixed)", math.inf)
    if job.spot_held:
        # its worst loss was under the cap when it started, and the deadline cannot force it
        # off before its checkpoints: it runs until spot goes (or the safety net, outside
        # the model: a stall that costs training time)
        return Decision(
            Choice.SPOT, f"slack {job.slack / 3600:.2f} h: the spot attempt runs on", safety
        )
    if (job.spot_price or 0.0) >= (job.on_demand_price or 0.0):
        return Decision(Choice.ON_DEMAND, "spot costs as much as on-demand: on-demand", math.inf)
    # a new spot attempt must keep its first checkpoint before the safety net could fire
    last_start = safety - job.reach
    if job.now >= last_start:
        return Decision(
            Choice.ON_DEMAND,
            f"slack {job.slack / 3600:.2f} h: a spot attempt started now could be forced off "
            "before its first checkpoint; on-demand now costs what it would later",
            math.inf,
        )
    room = job.on_demand_cost + job.allowance - job.commit
    risk = job.attempt_risk
    if risk > room + 1e-9:
        return Decision(
            Choice.ON_DEMAND,
            f"a spot attempt risks {risk:.2f}, only {max(0.0, room):.2f} left under "
            "on-demand's cost",
            math.inf,
        )
    # odds matter only when a lost attempt is paid: with the refund, one EC2 ends early is
    # free (benchmarks/deadlines.py: waiting on poor odds gains nothing there)
    if not job.refunds and job.spot_odds is not None and job.spot_odds < ODDS_MIN:
        return Decision(
            Choice.WAIT,
            f"spot keeps a first checkpoint only {job.spot_odds:.0%} of the time lately: wait",
            last_start,
        )
    return Decision(
        Choice.SPOT,
        f"slack {job.slack / 3600:.2f} h covers a spot attempt's first checkpoint, "
        f"{room - risk:.2f} under on-demand's cost at worst: spot",
        last_start,
    )


def spot_odds(
    runs: Sequence[float], up_for: float, needs: float, sample: int = ODDS_SAMPLE
) -> float | None:
    """The chance that capacity up for ``up_for`` seconds lasts ``needs`` more, from the
    lengths of past runs of capacity (the recent history of a zone): among the runs that
    outlasted ``up_for``, the share that lasted ``up_for + needs``. None with fewer than
    ``sample`` such runs (too little to say)."""
    lasted = [r for r in runs if r > up_for]  # up now: it has lasted longer than up_for
    if len(lasted) < sample:
        return None
    return sum(r >= up_for + needs for r in lasted) / len(lasted)
