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
of its own, launched from the fleet's launch template and tagged with the job; that
instance is let go once the job has ended (or is gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pitstop.deadlines import Choice
from pitstop.store.states import JobState


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


Action = Reboot | Terminate | SetDesired | LaunchOnDemand | ReleaseOnDemand
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
) -> SetDesired | None:
    """Raise the desired count when orphaned jobs outnumber the spare capacity.

    Spare capacity: live instances whose supervisor says ``idle``, instances still booting,
    and desired capacity EC2 has not launched yet. Never above the group's maximum.
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
    counted = sum(1 for i in instances if i.ec2_state in ("pending", "running"))
    unlaunched = max(0, group.desired - counted)
    spare = idle + coming + unlaunched
    deficit = len(orphans) - spare
    if deficit <= 0:
        return None
    desired = min(group.max_size, group.desired + deficit)
    if desired <= group.desired:
        return None
    return SetDesired(
        desired,
        f"{len(orphans)} job(s) without a live instance ({', '.join(orphans)}), {spare} spare",
    )


def on_demand_actions(
    deadlines: list[DeadlineView], on_demand: list[OnDemandView]
) -> list[LaunchOnDemand | ReleaseOnDemand]:
    """Launch one on-demand instance per job the policy puts there that nothing holds and
    none was launched for yet; release those whose job ended (is no longer open)."""
    out: list[LaunchOnDemand | ReleaseOnDemand] = []
    launched = {o.job_id for o in on_demand if o.ec2_state in ALIVE}
    for d in deadlines:
        if d.choice is Choice.ON_DEMAND and not d.held and d.job_id not in launched:
            out.append(LaunchOnDemand(d.job_id, d.reason or "deadline policy says on-demand"))
    open_jobs = {d.job_id for d in deadlines}
    for o in on_demand:
        if o.ec2_state in ALIVE and o.job_id not in open_jobs:
            out.append(ReleaseOnDemand(o.instance_id, o.job_id, "its job has ended"))
    return out


def decide(
    instances: list[InstanceView],
    jobs: list[JobView],
    group: GroupView | None,
    now: float,
    t: Thresholds,
    deadlines: list[DeadlineView] | None = None,
    on_demand: list[OnDemandView] | None = None,
) -> list[Action]:
    """Everything the watchdog should do this round."""
    actions: list[Action] = list(instance_actions(instances, now, t))
    launching: set[str] = set()
    if deadlines is not None or on_demand is not None:
        od = on_demand_actions(deadlines or [], on_demand or [])
        actions.extend(od)
        launching = {a.job_id for a in od if isinstance(a, LaunchOnDemand)}
        launching |= {o.job_id for o in on_demand or [] if o.ec2_state in ALIVE}
    # jobs an on-demand instance is (being) launched for need no spot capacity
    scale = capacity_action(
        instances, [j for j in jobs if j.job_id not in launching], group, now, t
    )
    if scale is not None:
        actions.append(scale)
    return actions
