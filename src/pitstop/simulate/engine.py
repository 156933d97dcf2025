"""Discrete-event simulation of one training job on one spot trace under one policy.

The world: a job needs ``hours`` of training. Every attempt first spends ``boot_minutes``
(instance boot or trainer start-up, paid, no progress), then trains, writing a checkpoint
every ``checkpoint_minutes`` of training; the last complete checkpoint survives anything.
Capacity comes from the trace: when it ends (a tick boundary), the instance is gone and
so is the training since the last checkpoint. We model the 2-minute spot notice as
arriving *at* that boundary: the supervisor sees it and stops at once, and the notice's
two minutes are neither trained nor billed. When capacity returns, a new instance boots
and claims the job again. Stalls are a Poisson process in training time
(``stall_rate_per_hour``, seeded): the trainer freezes, keeps its process and writes
nothing more; each policy notices it (or not) in its own way.

Policies:

- ``pitstop``: ``core.lifecycle.step`` (passed in as ``step``) decides everything on a
  simulated clock. This module only observes the simulated world (trainer status, a
  heartbeat built from the simulated checkpoints, the spot notice), carries out the
  actions (``StartAttempt`` starts an attempt from the last complete checkpoint,
  ``StopTrainer`` stops it, ``Shutdown``/``ReleaseLease`` end the instance, ``Reboot``
  reboots it) and wakes ``step`` at the daemon's poll ticks when something could change.
- ``restart-from-scratch``: the original cron design; a stall (seen with pitstop's own
  stall timeout, to be generous) or an interruption starts training again from zero.
- ``notify-only``: resumes from the last checkpoint after an interruption, but never sees a
  stall: a frozen trainer is billed until its instance's time-to-live ends; a new instance
  then resumes from the last checkpoint.
- ``on-demand``: the ``pitstop`` policy on capacity that never goes away, at the
  on-demand price. The trace is not used.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from pitstop.core import lifecycle as lc
from pitstop.core import ownership
from pitstop.core.states import JobState
from pitstop.errors import UsageError
from pitstop.simulate.traces import Trace

HOUR = 3600.0
POLICIES = ("pitstop", "restart-from-scratch", "notify-only", "on-demand")
# p3.2xlarge (1 V100), us-east-1, USD per hour: on-demand list price and a typical spot price
DEFAULT_SPOT_PRICE = 0.918
DEFAULT_ON_DEMAND_PRICE = 3.06
REBOOT_S = 120.0  # an instance reboot (lifecycle's Reboot action) before the supervisor is back
MAX_EVENTS = 1_000_000  # a guard against a scheduling bug, never reached by a sane run
_EPS = 1e-6

StepFn = Callable[[lc.Run, lc.Observation, float, lc.Policy], tuple[lc.Run, list[lc.Action]]]


def default_policy() -> lc.Policy:
    """The lifecycle policy the daemon builds from default settings (``daemon.policy_for``)."""
    from pitstop.config import Settings

    f = Settings.model_fields

    def d(name: str) -> float:
        value = f[name].default
        assert isinstance(value, (int, float))
        return float(value)

    return lc.Policy(
        stall_timeout_s=d("stall_timeout_s"),
        startup_grace_s=d("startup_grace_s"),
        max_restarts=int(d("max_restarts")),
        backoff_base_s=d("backoff_base_s"),
        backoff_max_s=d("backoff_max_s"),
        stop_timeout_s=d("stop_timeout_s"),
        reboot_after_failed_attempts=int(d("reboot_after_failed_attempts")),
        max_reboots=int(d("max_reboots")),
        max_training_s=None,  # the job ends on model/.finished, not on a time budget
        shutdown_on_notice=True,
    )


def default_poll_interval_s() -> float:
    from pitstop.config import Settings

    value = Settings.model_fields["poll_interval_s"].default
    assert isinstance(value, (int, float))
    return float(value)


@dataclass(frozen=True)
class TrainingJob:
    hours: float  # training hours the job needs
    checkpoint_minutes: float  # training minutes between checkpoints
    boot_minutes: float = 5.0  # paid minutes before an attempt trains

    def __post_init__(self) -> None:
        if not (self.hours > 0 and math.isfinite(self.hours)):
            raise UsageError(f"--hours must be a positive number, got {self.hours:g}")
        if not (self.checkpoint_minutes > 0 and math.isfinite(self.checkpoint_minutes)):
            raise UsageError(
                f"--checkpoint-minutes must be a positive number, got {self.checkpoint_minutes:g}"
            )
        if not (self.boot_minutes >= 0 and math.isfinite(self.boot_minutes)):
            raise UsageError(f"--boot-minutes must be >= 0, got {self.boot_minutes:g}")


@dataclass(frozen=True)
class Setup:
    """Everything one simulation needs besides the trace."""

    job: TrainingJob
    spot_price: float = DEFAULT_SPOT_PRICE
    on_demand_price: float = DEFAULT_ON_DEMAND_PRICE
    stall_rate_per_hour: float = 0.0
    seed: int = 0
    start_offset_h: float = 0.0
    ttl_hours: float | None = None  # notify-only: an instance's time-to-live; None: hours + 1
    lifecycle: lc.Policy = field(default_factory=default_policy)
    poll_interval_s: float = field(default_factory=default_poll_interval_s)
    # tests: attempt k freezes after freeze_after_s[k-1] training seconds (inf: never),
    # instead of the Poisson draws
    freeze_after_s: tuple[float, ...] | None = None
    dense: bool = False  # step at every poll tick (slow; tests prove it changes nothing)
    record: bool = True  # keep the timeline (for plots)

    def __post_init__(self) -> None:
        for name in ("spot_price", "on_demand_price", "stall_rate_per_hour", "start_offset_h"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {value:g}")
        if self.ttl_hours is not None and not self.ttl_hours > 0:
            raise UsageError(f"--ttl-hours must be > 0, got {self.ttl_hours:g}")
        if not self.poll_interval_s > 0:
            raise UsageError("poll interval must be > 0")

    @property
    def ttl_s(self) -> float:
        return (self.ttl_hours if self.ttl_hours is not None else self.job.hours + 1) * HOUR


@dataclass
class Result:
    policy: str
    trace: str
    outcome: str  # "succeeded", "failed" (restart budget spent) or "unfinished" (trace ended)
    wall_h: float  # from submission to the end (success, failure or the trace's end)
    paid_h: float  # instance hours billed
    cost: float
    trained_h: float  # training the job keeps at the end (its last complete checkpoint)
    lost_h: float  # training done and thrown away (interruptions, stalls, restarts)
    stalled_h: float  # paid hours of a frozen trainer
    boot_h: float  # paid hours of boot / start-up
    idle_h: float  # paid hours of neither: backoff, stopping, a reboot
    interruptions: int
    stalls: int
    restarts: int
    attempts: int
    progress: list[tuple[float, float]] = field(default_factory=list, repr=False)  # (s, s)
    spend: list[tuple[float, float]] = field(default_factory=list, repr=False)  # (s, USD)

    @property
    def finished(self) -> bool:
        return self.outcome == "succeeded"

    @property
    def goodput(self) -> float:
        """Trained hours kept per paid hour."""
        return self.trained_h / self.paid_h if self.paid_h > 0 else 0.0

    def summary(self) -> dict[str, object]:
        doc = asdict(self)
        doc.pop("progress")
        doc.pop("spend")
        doc["goodput"] = self.goodput
        for k, v in doc.items():
            if isinstance(v, float):
                doc[k] = round(v, 4)
        return doc


# -- the simulated world ---------------------------------------------------------------
class _Attempt:
    """One training attempt: warm-up, then training from ``base`` until it freezes or ends."""

    def __init__(
        self, started: float, warm_s: float, base: float, total: float, ckpt_s: float, freeze: float
    ) -> None:
        self.started = started
        self.train_from = started + warm_s
        self.base = base
        self.total = total
        self.ckpt_s = ckpt_s
        work = total - base
        self.finish_at = self.train_from + work if work <= freeze else math.inf
        self.frozen_at = self.train_from + freeze if freeze < work else math.inf
        self.limit = min(work, freeze)

    def progress(self, t: float) -> float:
        return self.base + min(max(0.0, t - self.train_from), self.limit)

    def finished(self, t: float) -> bool:
        return t >= self.finish_at - _EPS

    def saved(self, t: float) -> tuple[float, float] | None:
        """(progress, write time) of the newest checkpoint this attempt wrote by ``t``."""
        if self.finished(t):
            return self.total, self.finish_at
        j = math.floor((self.progress(t) - self.base) / self.ckpt_s + _EPS)
        if j <= 0:
            return None
        return self.base + j * self.ckpt_s, self.train_from + j * self.ckpt_s

    def next_write(self, t: float) -> float:
        """When the next checkpoint (or the final one) appears after ``t``; inf: never."""
        k = math.floor(max(0.0, t - self.train_from) / self.ckpt_s + _EPS) + 1
        w = min(self.train_from + k * self.ckpt_s, self.finish_at)
        return w if w <= self.frozen_at + _EPS and w > t else math.inf

    def heartbeat(self, t: float) -> lc.Heartbeat:
        s = self.saved(t)
        if s is None:
            return lc.Heartbeat()
        prog, written = s
        name = f"{round(prog / self.ckpt_s)}_Step-{round(prog)}.ckpt"
        return lc.Heartbeat(name, written, t - written, finished=self.finished(t))


class _Ledger:
    """Money, time and work, and the timeline for plots."""

    def __init__(self, price: float, setup: Setup, total: float) -> None:
        self.price = price
        self.setup = setup
        self.total = total
        self.rng = random.Random(setup.seed)
        self.paid_s = 0.0
        self.up_since: float | None = None
        self.warm_s = self.frozen_s = self.executed_s = 0.0
        self.kept = 0.0  # newest complete checkpoint the job owns
        self.shown = 0.0  # progress on the plot between attempts
        self.interruptions = self.stalls = self.attempts = 0
        self.progress: list[tuple[float, float]] = [(0.0, 0.0)]
        self.spend: list[tuple[float, float]] = [(0.0, 0.0)]

    def cost_at(self, t: float) -> float:
        running = 0.0 if self.up_since is None else t - self.up_since
        return (self.paid_s + running) / HOUR * self.price

    def up(self, t: float) -> None:
        if self.up_since is None:
            self.up_since = t
            self._spend(t)

    def down(self, t: float) -> None:
        if self.up_since is not None:
            self._spend(t)
            self.paid_s += t - self.up_since
            self.up_since = None

    def _spend(self, t: float) -> None:
        if self.setup.record:
            self.spend.append((t, self.cost_at(t)))

    def start(self, t: float, base: float) -> _Attempt:
        self.attempts += 1
        rate = self.setup.stall_rate_per_hour
        fixed = self.setup.freeze_after_s
        if fixed is not None:
            freeze = fixed[self.attempts - 1] if self.attempts <= len(fixed) else math.inf
        else:
            freeze = self.rng.expovariate(rate / HOUR) if rate > 0 else math.inf
        job = self.setup.job
        a = _Attempt(
            t, job.boot_minutes * 60, base, self.total, job.checkpoint_minutes * 60, freeze
        )
        if self.setup.record:
            self.progress += [(t, self.shown), (t, base)]
        return a

    def stop(self, a: _Attempt, t: float) -> None:
        """The attempt ends at ``t``: count its time and keep its newest checkpoint."""
        self.warm_s += max(0.0, min(t, a.train_from) - a.started)
        self.executed_s += a.progress(t) - a.base
        if t > a.frozen_at:
            self.frozen_s += t - a.frozen_at
            self.stalls += 1
        saved = a.saved(t)
        self.kept = saved[0] if saved else a.base
        if self.setup.record:
            pts = [(a.train_from, a.base), (a.frozen_at, a.progress(a.frozen_at))]
            self.progress += [p for p in pts if p[0] < t]
            self.progress += [(t, a.progress(t)), (t, self.kept)]
        self.shown = self.kept

    def result(self, policy: str, trace: str, outcome: str, t: float, restarts: int) -> Result:
        self.down(t)
        paid = self.paid_s
        lost = max(0.0, self.executed_s - self.kept)
        idle = max(0.0, paid - self.warm_s - self.frozen_s - self.executed_s)
        return Result(
            policy=policy,
            trace=trace,
            outcome=outcome,
            wall_h=t / HOUR,
            paid_h=paid / HOUR,
            cost=paid / HOUR * self.price,
            trained_h=self.kept / HOUR,
            lost_h=lost / HOUR,
            stalled_h=self.frozen_s / HOUR,
            boot_h=self.warm_s / HOUR,
            idle_h=idle / HOUR,
            interruptions=self.interruptions,
            stalls=self.stalls,
            restarts=restarts,
            attempts=self.attempts,
            progress=self.progress,
            spend=self.spend,
        )


class _Capacity:
    """The trace seen from the job: time 0 is the submission, ``start_offset_h`` in."""

    def __init__(self, trace: Trace | None, offset_s: float) -> None:
        self.trace = trace
        self.offset = offset_s
        self.end = math.inf if trace is None else trace.duration_s - offset_s
        if trace is not None and self.end <= 0:
            raise UsageError(
                f"--start-offset {offset_s / HOUR:g} h is past the end of trace {trace.name} "
                f"({trace.duration_s / HOUR:.1f} h)"
            )

    def available(self, t: float) -> bool:
        return True if self.trace is None else self.trace.available_at(self.offset + t)

    def next_change(self, t: float) -> float:
        if self.trace is None:
            return math.inf
        return self.trace.next_change(self.offset + t) - self.offset


class _Polls:
    """The daemon's tick: every ``interval`` seconds from when the supervisor came up."""

    def __init__(self, origin: float, interval: float) -> None:
        self.origin = origin
        self.interval = interval

    def at_or_after(self, x: float, now: float) -> float:
        """The first tick at or after ``x`` and strictly after ``now``."""
        x = max(x, now)
        k = math.ceil((x - self.origin) / self.interval - _EPS)
        tick = self.origin + k * self.interval
        if tick <= now + _EPS:
            tick += self.interval
        return tick


# -- the pitstop policy: core.lifecycle on a simulated clock ----------------------
def run_pitstop(
    trace: Trace | None,
    setup: Setup,
    *,
    step: StepFn = lc.step,
    policy_name: str = "pitstop",
) -> Result:
    """Drive ``step`` (``lifecycle.step``) through the job; ``trace=None``: on-demand."""
    on_demand = trace is None
    price = setup.on_demand_price if on_demand else setup.spot_price
    job = setup.job
    total = job.hours * HOUR
    cap = _Capacity(trace, setup.start_offset_h * HOUR)
    led = _Ledger(price, setup, total)
    policy = setup.lifecycle
    name = "on-demand" if on_demand else (trace.name if trace else "")

    state = JobState.PENDING  # the job's state in S3 (state.json)
    attempt = restarts = reboots = 0
    trained_s = 0.0  # sum of ended attempts' training_s (what _take sums)
    run: lc.Run | None = None  # the run of the instance holding the job; None: no instance
    trainer: _Attempt | None = None
    polls = _Polls(0.0, setup.poll_interval_s)
    t = 0.0
    for _ in range(MAX_EVENTS):
        if t >= cap.end - _EPS:
            t = cap.end
            if trainer is not None:
                led.stop(trainer, t)
            return led.result(policy_name, name, "unfinished", t, restarts)
        if run is None:
            if not cap.available(t):
                t = min(cap.next_change(t), cap.end)
                continue
            # capacity: an instance boots and claims the job (the lifecycle's claim rule)
            state = ownership.claimed_state(state)
            run = lc.claimed_run(
                state, attempts=attempt, restarts=restarts, reboots=reboots, trained_s=trained_s
            )
            led.up(t)
            polls = _Polls(t, setup.poll_interval_s)
        interrupted = not cap.available(t)
        obs = lc.Observation(
            trainer=lc.TrainerStatus.RUNNING if trainer else lc.TrainerStatus.ABSENT,
            heartbeat=trainer.heartbeat(t) if trainer else lc.Heartbeat(),
            interruption="terminate" if interrupted else None,
        )
        run, actions = step(run, obs, t, policy)
        again = released = shutdown = reboot = False
        for act in actions:
            if isinstance(act, lc.StartAttempt):
                base = led.kept if act.pretrained_from is not None else 0.0
                trainer = led.start(t, base)
            elif isinstance(act, lc.StopTrainer):
                if trainer is not None:
                    led.stop(trainer, t)
                    trainer = None
                again = True
            elif isinstance(act, lc.EndAttempt):
                trained_s += act.training_s
            elif isinstance(act, lc.Transition):
                state = act.to
            elif isinstance(act, lc.ReleaseLease):
                released = True
            elif isinstance(act, lc.Shutdown):
                shutdown = True
            elif isinstance(act, lc.Reboot):
                reboot = True
        attempt, restarts, reboots = run.attempt, run.restarts, run.reboots
        if state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
            if trainer is not None:
                led.stop(trainer, t)
            return led.result(policy_name, name, state.value, t, restarts)
        if interrupted or released or shutdown:
            # the notice was acted on (or not): either way the capacity is gone
            if trainer is not None:
                led.stop(trainer, t)
                trainer = None
            if interrupted:
                led.interruptions += 1
            led.down(t)
            run = None
            if not interrupted and cap.available(t):
                t = polls.at_or_after(t, t)  # released without a notice: claim on the next tick
            continue
        if reboot:
            if trainer is not None:
                led.stop(trainer, t)
                trainer = None
            back = min(t + REBOOT_S, cap.next_change(t))
            run, _ = lc.resume(
                run.state,
                attempts=run.attempt,
                attempt_open=False,  # the reboot's EndAttempt closed it
                trained_s=trained_s,
                restarts=run.restarts,
                reboots=run.reboots,
                trainer_alive=False,
                attempt_elapsed_s=0.0,
                now=back,
            )
            t = back
            polls = _Polls(t, setup.poll_interval_s)
            continue
        if again:
            continue  # the daemon steps again at once after a stop (MAX_STEPS_PER_TICK)
        wakes = [cap.next_change(t), cap.end]
        if setup.dense:
            wakes.append(polls.at_or_after(t, t))
        if trainer is not None:
            w = trainer.next_write(t)
            if w < math.inf:
                wakes.append(polls.at_or_after(w, t))
        if run.state in (JobState.STARTING, JobState.RUNNING) and run.stale_since is not None:
            wakes.append(
                polls.at_or_after(
                    run.stale_since + policy.stall_limit_s(run.checkpoint is not None), t
                )
            )
        if run.state is JobState.RESTARTING:
            wakes.append(polls.at_or_after(run.start_after or t, t))
        nxt = min(wakes)
        if nxt <= t:
            raise RuntimeError(f"simulation stuck at t={t} in state {run.state}")
        t = nxt
    raise RuntimeError("simulation did not end")


# -- the baselines -----------------------------------------------------------------------
def run_baseline(trace: Trace, setup: Setup, *, resume: bool) -> Result:
    """``restart-from-scratch`` (resume=False) or ``notify-only`` (resume=True)."""
    job = setup.job
    total = job.hours * HOUR
    cap = _Capacity(trace, setup.start_offset_h * HOUR)
    led = _Ledger(setup.spot_price, setup, total)
    policy = setup.lifecycle
    name = "notify-only" if resume else "restart-from-scratch"
    restarts = 0
    t = 0.0
    for _ in range(MAX_EVENTS):
        if t >= cap.end - _EPS:
            return led.result(name, trace.name, "unfinished", cap.end, restarts)
        if not cap.available(t):
            t = min(cap.next_change(t), cap.end)
            continue
        led.up(t)
        launched = t
        polls = _Polls(t, setup.poll_interval_s)
        while True:  # attempts on this instance
            a = led.start(t, led.kept if resume else 0.0)
            loss = min(cap.next_change(t), cap.end)
            ttl_end = launched + setup.ttl_s if resume else math.inf
            seen = math.inf  # when the stall is seen (restart-from-scratch only)
            if not resume and a.frozen_at < math.inf:
                saved = a.saved(a.frozen_at)
                since = a.started if saved is None else saved[1]
                limit = policy.stall_limit_s(saved is not None)
                seen = polls.at_or_after(since + limit, t)
            end = min(a.finish_at, loss, ttl_end, seen)
            led.stop(a, end)
            if a.finished(end):
                return led.result(name, trace.name, "succeeded", end, restarts)
            if end >= cap.end - _EPS:
                return led.result(name, trace.name, "unfinished", cap.end, restarts)
            if end == loss:
                led.interruptions += 1
                led.down(end)
                t = end
                break
            if end == ttl_end:  # the instance's time-to-live: torn down, a new one resumes
                led.down(end)
                t = end
                break
            restarts += 1  # a stall seen: start again from zero on the same instance
            t = end
    raise RuntimeError("simulation did not end")


def simulate(policy: str, trace: Trace | None, setup: Setup, *, step: StepFn = lc.step) -> Result:
    """One job under ``policy``; ``trace`` may be None only for ``on-demand``."""
    if policy == "on-demand":
        return run_pitstop(None, setup, step=step, policy_name="on-demand")
    if policy not in POLICIES:
        raise UsageError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if trace is None:
        raise UsageError(f"policy {policy} needs a trace")
    if policy == "pitstop":
        return run_pitstop(trace, setup, step=step)
    return run_baseline(trace, setup, resume=policy == "notify-only")
