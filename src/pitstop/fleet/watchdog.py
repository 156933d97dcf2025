"""The external watchdog's decisions: pure functions of what EC2 and S3 say, and ``now``.

An instance can hang so hard (kernel, GPU driver) that its own supervisor cannot act. From
outside: EC2 says ``running`` but the supervisor's heartbeat (``instances/ID.json``) is
older than ``silent_after_s`` -> reboot it through the EC2 API; still silent
``reboot_grace_s`` after that reboot -> terminate it (the group launches a replacement).
Jobs whose lease expired with no live owner, when there is no spare capacity, raise the
group's desired count. All times are seconds on one clock (the S3 server's), so the
watchdog's own clock never matters. ``runner.py`` gathers the views and applies actions.

Deadlines (docs/deadlines.md): a job whose deadline policy (``pitstop.deadlines``, asked by
the runner) says ``on-demand`` while no live instance holds it gets an on-demand instance
of its own, launched from the fleet's launch template and tagged with the job, within a
budget (``on_demand_budget``; docs/security.md, "Money: on-demand cap"): at most
``max_on_demand_instances`` on-demand instances fleet-wide, and spot plus on-demand never
above the group's MaxSize; the most urgent jobs (least slack) are served first and every
other one is refused with the reason. A deadline that came from the inbox is honoured only
with ``inbox_deadlines``. The instance is let go only once its job's ended state has been
read; a read that failed keeps it (``KeepOnDemand``), since a blip is not an ending.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from pitstop.config import DEFAULT_MAX_ON_DEMAND
from pitstop.core.states import JobState
from pitstop.deadlines import Choice


@dataclass(frozen=True)
class Thresholds:
    silent_after_s: float = 900.0  # heartbeat older than this: the instance is silent
    boot_grace_s: float = 900.0  # a new instance without any heartbeat yet is left alone this long
    reboot_grace_s: float = 600.0  # after our reboot, wait this long for a heartbeat


@dataclass(frozen=True)
class InstanceView:
    instance_id: str
    ec2_state: str  # pending | running | stopping | stopped | ...
    launched_at: float
    heartbeat_at: float | None  # None: it never wrote one
    heartbeat_state: str | None = None  # the supervisor's own word: idle, running, ...
    rebooted_at: float | None = None  # when the watchdog last rebooted it (an EC2 tag)


@dataclass(frozen=True)
class JobView:
    job_id: str
    state: JobState
    lease_owner: str | None  # None: no lease, or released
    lease_expired: bool  # no lease, released, or silent past lease_ttl_s


@dataclass(frozen=True)
class GroupView:
    desired: int
    max_size: int


class Verdict(str, Enum):
    HEALTHY = "healthy"  # heartbeat fresh
    BOOTING = "booting"  # no heartbeat yet, within the boot grace
    SILENT = "silent"  # silent and not rebooted by us since it last spoke: reboot
    REBOOTING = "rebooting"  # we rebooted it; waiting for its heartbeat
    DEAD = "dead"  # silent after our reboot: terminate
    NOT_RUNNING = "not_running"  # EC2 does not say running: the group handles it


@dataclass(frozen=True)
class Reboot:
    instance_id: str
    reason: str


@dataclass(frozen=True)
class Terminate:
    instance_id: str
    reason: str


@dataclass(frozen=True)
class SetDesired:
    desired: int
    reason: str


@dataclass(frozen=True)
class DeadlineView:
    """An open job with a deadline: the policy's answer and whether a live instance holds it."""

    job_id: str
    choice: Choice
    held: bool
    reason: str = ""
    slack_s: float = math.inf  # time to spare (deadlines.Job.slack): the least goes first
    from_inbox: bool = False  # its spec came from an inbox drop (spec.source "inbox:...")


@dataclass(frozen=True)
class JobRead:
    """What this round read of a job's ``state.json``: an answer, never a guess."""

    job_id: str
    ended: bool | None  # True: a terminal state was read; False: an open one; None: no read
    detail: str  # the state read, or why the read failed


@dataclass(frozen=True)
class OnDemandLimits:
    """The settings that bound on-demand spend (``max_on_demand_instances``,
    ``inbox_deadlines``)."""

    cap: int = DEFAULT_MAX_ON_DEMAND
    inbox_deadlines: bool = False


@dataclass(frozen=True)
class OnDemandBudget:
    """How many on-demand instances this round may launch, and why no more."""

    cap: int  # max_on_demand_instances
    running: int  # live (pending/running) on-demand instances the watchdog launched
    spot: int  # the group's share: its desired count or its live instances, the larger
    max_size: int | None  # the group's MaxSize; None: no group, so nothing is launched

    @property
    def total(self) -> int:
        return self.spot + self.running

    @property
    def allowed(self) -> int:
        """Launches this round may make: under the cap, and under MaxSize with spot counted."""
        if self.max_size is None:
            return 0
        return max(0, min(self.cap - self.running, self.max_size - self.total))

    def refusal(self, launched: int) -> str:
        """Why one more launch is refused, after ``launched`` launches this round."""
        on_demand = self.running + launched
        if self.max_size is None:
            return (
                "no Auto Scaling group: its MaxSize bounds spot + on-demand, so nothing is "
                "launched without it"
            )
        if on_demand >= self.cap:
            return (
                f"on-demand cap reached: {on_demand} of max_on_demand_instances = {self.cap} "
                "running or launched"
            )
        return f"group MaxSize {self.max_size} reached: {self.spot} spot + {on_demand} on-demand"

    def as_dict(self) -> dict[str, int | None]:
        return {
            "on_demand_cap": self.cap,
            "on_demand_running": self.running,
            "on_demand_allowed": self.allowed,
            "spot_instances": self.spot,
            "max_size": self.max_size,
        }


@dataclass(frozen=True)
class OnDemandView:
    """An on-demand instance the watchdog launched for a job (tagged with the job id)."""

    instance_id: str
    job_id: str
    ec2_state: str


@dataclass(frozen=True)
class LaunchOnDemand:
    job_id: str
    reason: str


@dataclass(frozen=True)
class ReleaseOnDemand:
    instance_id: str
    job_id: str
    reason: str


@dataclass(frozen=True)
class RefuseOnDemand:
    """The policy says on-demand, the budget says no: logged with the reason, nothing done."""

    job_id: str
    reason: str


@dataclass(frozen=True)
class KeepOnDemand:
    """Its job's state could not be read this round: the instance stays (logged)."""

    instance_id: str
    job_id: str
    reason: str


OnDemandAction = LaunchOnDemand | ReleaseOnDemand | RefuseOnDemand | KeepOnDemand
Action = Reboot | Terminate | SetDesired | OnDemandAction
ALIVE = ("pending", "running")


def instance_verdict(inst: InstanceView, now: float, t: Thresholds) -> Verdict:
    if inst.ec2_state != "running":
        return Verdict.NOT_RUNNING
    last_sign = inst.heartbeat_at
    if last_sign is not None and now - last_sign <= t.silent_after_s:
        return Verdict.HEALTHY
    if last_sign is None and now - inst.launched_at < t.boot_grace_s:
        return Verdict.BOOTING
    rebooted = inst.rebooted_at
    if rebooted is not None and (last_sign is None or last_sign < rebooted):
        # silent since our reboot
        return Verdict.REBOOTING if now - rebooted < t.reboot_grace_s else Verdict.DEAD
    return Verdict.SILENT


def is_live(inst: InstanceView, now: float, t: Thresholds) -> bool:
    return instance_verdict(inst, now, t) is Verdict.HEALTHY


def instance_actions(instances: list[InstanceView], now: float, t: Thresholds) -> list[Action]:
    out: list[Action] = []
    for inst in instances:
        v = instance_verdict(inst, now, t)
        age = "never" if inst.heartbeat_at is None else f"{now - inst.heartbeat_at:.0f} s ago"
        if v is Verdict.SILENT:
            out.append(Reboot(inst.instance_id, f"running but silent: last heartbeat {age}"))
        elif v is Verdict.DEAD:
            out.append(
                Terminate(
                    inst.instance_id,
                    f"still silent {now - (inst.rebooted_at or now):.0f} s after reboot",
                )
            )
    return out


def orphaned_jobs(jobs: list[JobView], live_ids: set[str]) -> list[str]:
    """Jobs that need an instance and have none: claimable, or active with a dead lease."""
    out = []
    for j in jobs:
        if j.state.is_terminal():
            continue
        owner_live = j.lease_owner is not None and j.lease_owner in live_ids
        if j.lease_expired and not owner_live:
            out.append(j.job_id)
    return out


def capacity_action(
    instances: list[InstanceView],
    jobs: list[JobView],
    group: GroupView | None,
    now: float,
    t: Thresholds,
    on_demand: frozenset[str] = frozenset(),
    launching: int = 0,
) -> SetDesired | None:
    """Raise the desired count when orphaned jobs outnumber the spare capacity.

    Spare capacity: live instances whose supervisor says ``idle``, instances still booting,
    and desired capacity EC2 has not launched yet. Never above the group's maximum less the
    on-demand instances (``on_demand``: live ones, ids; ``launching``: this round's), which
    are outside the group but count against its MaxSize.
    """
    if group is None:
        return None
    verdicts = {i.instance_id: instance_verdict(i, now, t) for i in instances}
    live = {i for i, v in verdicts.items() if v is Verdict.HEALTHY}
    orphans = orphaned_jobs(jobs, live)
    if not orphans:
        return None
    idle = sum(1 for i in instances if i.instance_id in live and i.heartbeat_state == "idle")
    coming = sum(1 for v in verdicts.values() if v in (Verdict.BOOTING, Verdict.REBOOTING))
    coming += sum(1 for i in instances if i.ec2_state == "pending")
    counted = sum(1 for i in instances if i.ec2_state in ALIVE and i.instance_id not in on_demand)
    unlaunched = max(0, group.desired - counted)
    spare = idle + coming + unlaunched
    deficit = len(orphans) - spare
    if deficit <= 0:
        return None
    ceiling = group.max_size - len(on_demand) - launching
    desired = min(ceiling, group.desired + deficit)
    if desired <= group.desired:
        return None
    return SetDesired(
        desired,
        f"{len(orphans)} job(s) without a live instance ({', '.join(orphans)}), {spare} spare",
    )


def on_demand_budget(
    group: GroupView | None,
    instances: list[InstanceView],
    on_demand: list[OnDemandView],
    limits: OnDemandLimits,
) -> OnDemandBudget:
    """Count what runs now: on-demand instances by their tag, spot as the group's desired
    count or its live instances (the larger: desired capacity EC2 has not launched yet is
    coming, and will count)."""
    od = {o.instance_id for o in on_demand if o.ec2_state in ALIVE}
    spot_live = sum(1 for i in instances if i.ec2_state in ALIVE and i.instance_id not in od)
    spot = max(group.desired, spot_live) if group is not None else spot_live
    return OnDemandBudget(limits.cap, len(od), spot, group.max_size if group is not None else None)


def on_demand_actions(
    deadlines: list[DeadlineView],
    on_demand: list[OnDemandView],
    reads: Mapping[str, JobRead],
    budget: OnDemandBudget,
    limits: OnDemandLimits,
) -> list[OnDemandAction]:
    """Launch an on-demand instance for each job the policy puts there that nothing holds
    and none was launched for, most urgent first, while the budget allows; refuse the rest
    with the reason. Release an instance whose job's ended state was read; keep one whose
    job could not be read (``reads``: this round's reads, by job id)."""
    out: list[OnDemandAction] = []
    launched = {o.job_id for o in on_demand if o.ec2_state in ALIVE}
    wanted = [
        d
        for d in deadlines
        if d.choice is Choice.ON_DEMAND and not d.held and d.job_id not in launched
    ]
    allowed, n = budget.allowed, 0
    for d in sorted(wanted, key=lambda d: (d.slack_s, d.job_id)):
        if d.from_inbox and not limits.inbox_deadlines:
            out.append(
                RefuseOnDemand(
                    d.job_id,
                    "its deadline came from an inbox job.json and inbox_deadlines is off",
                )
            )
        elif n < allowed:
            out.append(LaunchOnDemand(d.job_id, d.reason or "deadline policy says on-demand"))
            n += 1
        else:
            out.append(RefuseOnDemand(d.job_id, budget.refusal(n)))
    for o in on_demand:
        if o.ec2_state not in ALIVE:
            continue
        read = reads.get(o.job_id)
        if read is None:
            out.append(
                KeepOnDemand(o.instance_id, o.job_id, "its job's state was not read this round")
            )
        elif read.ended is None:
            out.append(
                KeepOnDemand(
                    o.instance_id,
                    o.job_id,
                    f"its job's state could not be read ({read.detail}); kept until an "
                    "ended state is read",
                )
            )
        elif read.ended:
            out.append(
                ReleaseOnDemand(o.instance_id, o.job_id, f"its job has ended ({read.detail})")
            )
    return out


def decide(
    instances: list[InstanceView],
    jobs: list[JobView],
    group: GroupView | None,
    now: float,
    t: Thresholds,
    deadlines: list[DeadlineView] | None = None,
    on_demand: list[OnDemandView] | None = None,
    reads: Mapping[str, JobRead] | None = None,
    limits: OnDemandLimits | None = None,
) -> list[Action]:
    """Everything the watchdog should do this round."""
    actions: list[Action] = list(instance_actions(instances, now, t))
    launching: set[str] = set()
    od_live = frozenset(o.instance_id for o in on_demand or [] if o.ec2_state in ALIVE)
    if deadlines is not None or on_demand is not None:
        # without deadline views nothing is launched, but ended jobs' instances still go
        lim = limits or OnDemandLimits()
        budget = on_demand_budget(group, instances, on_demand or [], lim)
        od = on_demand_actions(deadlines or [], on_demand or [], reads or {}, budget, lim)
        actions.extend(od)
        launching = {a.job_id for a in od if isinstance(a, LaunchOnDemand)}
    # jobs an on-demand instance is (being) launched for need no spot capacity
    covered = launching | {o.job_id for o in on_demand or [] if o.ec2_state in ALIVE}
    scale = capacity_action(
        instances,
        [j for j in jobs if j.job_id not in covered],
        group,
        now,
        t,
        on_demand=od_live,
        launching=len(launching),
    )
    if scale is not None:
        actions.append(scale)
    return actions
