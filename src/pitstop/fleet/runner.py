"""The watchdog's side effects: gather views from EC2, Auto Scaling and S3; apply actions.

``watch_once`` is one round (``pitstop fleet watch --once``, cron, a scheduled Lambda);
``watch_forever`` runs it on an APScheduler interval. The reboot time is kept as an EC2 tag
on the instance (``pitstop:watchdog-rebooted-at``, S3-server epoch seconds), so rounds in
separate processes agree on "silent after reboot" without any local state.

Deadlines: with ``DeadlineOptions``, each open job with a deadline is put to the deadline
policy (what holds it, from its lease and the instances' tags), and an on-demand
instance is launched for it straight from the fleet's launch template (market on-demand:
no spot options) with the tags ``pitstop:fleet``, ``pitstop:market=on-demand`` and
``pitstop:deadline-job=JOB_ID``; the tag is how later rounds find it and let it go.

Money (docs/security.md, "Money: on-demand cap"): each round reads the state of every job
an on-demand instance was launched for (``JobRead``: ended, open, or no usable read) and
counts the on-demand and spot instances against ``OnDemandLimits``; the pure decision
(``watchdog.decide``) launches, refuses, releases or keeps, and this module logs every one
of those as a structured event (``ondemand.launched``, ``ondemand.refused``,
``ondemand.released``, ``ondemand.kept``) with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from pitstop import deadlines as dl
from pitstop.core import events as ev
from pitstop.core.ids import job_id_problem
from pitstop.core.records import JobStatus
from pitstop.errors import CorruptObject, FleetError, NotFound, StoreError
from pitstop.fleet.aws import call
from pitstop.fleet.provision import FLEET_TAG, Fleet
from pitstop.fleet.watchdog import (
    ALIVE,
    Action,
    DeadlineView,
    GroupView,
    InstanceView,
    JobRead,
    JobView,
    KeepOnDemand,
    LaunchOnDemand,
    OnDemandBudget,
    OnDemandLimits,
    OnDemandView,
    Reboot,
    RefuseOnDemand,
    ReleaseOnDemand,
    SetDesired,
    Terminate,
    Thresholds,
    decide,
    on_demand_budget,
)
from pitstop.store import parse
from pitstop.store.jobs import JobStore, policy_job
from pitstop.store.leases import Leases
from pitstop.store.objects import ObjectStore
from pitstop.store.spend import Prices

log = structlog.get_logger("pitstop.fleet")

REBOOT_TAG = "pitstop:watchdog-rebooted-at"
MARKET_TAG = "pitstop:market"
DEADLINE_TAG = "pitstop:deadline-job"


@dataclass(frozen=True)
class DeadlineOptions:
    """What the deadline policy assumes (settings) and the watchdog's own reaction time."""

    overhead_s: float
    checkpoint_s: float
    guard_s: float  # a round's interval plus a launch: the policy switches this much earlier
    instance_type: str | None = None  # None: the group's first instance type
    prices: Prices | None = None  # both deadline prices set: the rule caps each job's cost


@dataclass
class Round:
    now: float
    instances: list[InstanceView]
    jobs: list[JobView]
    group: GroupView | None
    deadlines: list[DeadlineView] | None = None
    on_demand: list[OnDemandView] | None = None
    reads: dict[str, JobRead] = field(default_factory=dict)  # job id -> this round's read
    limits: OnDemandLimits = field(default_factory=OnDemandLimits)
    actions: list[Action] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # launches the budget refused
    kept: list[dict[str, Any]] = field(default_factory=list)  # instances kept on a failed read

    @property
    def budget(self) -> OnDemandBudget:
        return on_demand_budget(self.group, self.instances, self.on_demand or [], self.limits)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "instances": [i.__dict__ for i in self.instances],
            "jobs": [{**j.__dict__, "state": j.state.value} for j in self.jobs],
            "deadlines": [{**d.__dict__, "choice": d.choice.value} for d in self.deadlines or []],
            "on_demand": [o.__dict__ for o in self.on_demand or []],
            **self.budget.as_dict(),
            "inbox_deadlines": self.limits.inbox_deadlines,
            "actions": self.applied,
            "refused": self.refused,
            "kept": self.kept,
        }


def heartbeat(
    store: ObjectStore, jobs: JobStore, instance_id: str
) -> tuple[float | None, dict[str, Any]]:
    """(when ``instances/ID.json`` was written, by the S3 server clock, epoch s; its document)."""
    try:
        obj = store.get(jobs.layout.instance(instance_id))
    except StoreError:
        return None, {}
    try:
        doc = parse.json_object(obj.body, obj.head.key, non_finite="null")
    except CorruptObject:
        doc = {}
    return obj.head.last_modified.timestamp(), doc


def on_demand_instances(fleet: Fleet) -> list[OnDemandView]:
    """The fleet's live on-demand instances launched for a job (by their tags)."""
    pages = fleet.aws.ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": f"tag:{FLEET_TAG}", "Values": [fleet.name]},
            {"Name": "tag-key", "Values": [DEADLINE_TAG]},
            {"Name": "instance-state-name", "Values": list(ALIVE)},
        ]
    )
    out = []
    try:
        for page in pages:
            for res in page["Reservations"]:
                for inst in res["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
                    out.append(
                        OnDemandView(inst["InstanceId"], tags[DEADLINE_TAG], inst["State"]["Name"])
                    )
    except Exception as e:
        raise FleetError(f"describe on-demand instances: {e}") from e
    return sorted(out, key=lambda o: o.instance_id)


def deadline_views(
    jobs: JobStore,
    job_views: list[JobView],
    live: set[str],
    on_demand: list[OnDemandView],
    now: float,
    opts: DeadlineOptions,
) -> list[DeadlineView]:
    """The deadline policy's answer for each open job with a deadline."""
    from datetime import datetime, timezone

    od_ids = {o.instance_id for o in on_demand}
    wall = datetime.fromtimestamp(now, timezone.utc)
    out = []
    for jv in job_views:
        try:
            spec = jobs.spec(jv.job_id)
            if spec.deadline_at() is None:
                continue
            status, _ = jobs.status(jv.job_id)
        except StoreError:
            continue
        holder = jv.lease_owner if jv.lease_owner in live and not jv.lease_expired else None
        job = policy_job(
            spec,
            status,
            wall,
            overhead_s=opts.overhead_s,
            checkpoint_s=opts.checkpoint_s,
            spot_held=holder is not None and holder not in od_ids,
            on_demand_held=holder is not None and holder in od_ids,
            guard_s=opts.guard_s,
            prices=opts.prices,  # a spot instance from the group is a fresh one: age 0
        )
        if job is None:
            continue
        d = dl.decide(job)
        out.append(
            DeadlineView(
                jv.job_id,
                d.choice,
                holder is not None,
                d.reason,
                slack_s=round(job.slack, 1),
                from_inbox=spec.source.startswith("inbox:"),
            )
        )
    return out


def read_job(jobs: JobStore, job_id: str) -> tuple[JobRead, JobStatus | None]:
    """The job's state as a ``JobRead`` (and the state itself when read): a failed or
    unusable read is ``ended=None`` with the reason, never "ended", and a job with no
    state.json has not been seen to end."""
    problem = job_id_problem(job_id)
    if problem is not None:
        return JobRead(job_id, None, f"{job_id!r} is not a job id: {problem}"), None
    try:
        status, _ = jobs.status(job_id)
    except NotFound:
        return JobRead(job_id, None, f"no {jobs.layout.state(job_id)}"), None
    except StoreError as e:
        return JobRead(job_id, None, str(e)), None
    return JobRead(job_id, status.state.is_terminal(), status.state.value), status


def gather(
    fleet: Fleet,
    store: ObjectStore,
    jobs: JobStore,
    lease_ttl_s: float,
    deadline: DeadlineOptions | None = None,
    t: Thresholds | None = None,
    limits: OnDemandLimits | None = None,
) -> Round:
    now = store.server_time().timestamp()
    views = []
    for inst in fleet.group_instances():
        iid = inst["InstanceId"]
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        hb_at, doc = heartbeat(store, jobs, iid)
        rebooted = tags.get(REBOOT_TAG)
        views.append(
            InstanceView(
                instance_id=iid,
                ec2_state=inst["State"]["Name"],
                launched_at=inst["LaunchTime"].timestamp(),
                heartbeat_at=hb_at,
                heartbeat_state=doc.get("state"),
                rebooted_at=float(rebooted) if rebooted else None,
            )
        )
    leases = Leases(store, jobs.layout, "pitstop-watchdog", lease_ttl_s)
    job_views = []
    reads: dict[str, JobRead] = {}
    for job_id in jobs.job_ids():
        reads[job_id], status = read_job(jobs, job_id)
        if status is None or status.state.is_terminal():
            continue  # unreadable or ended: nothing is asked for it this round
        info = leases.info(job_id)
        owner = None if info is None or info.released else info.owner
        job_views.append(
            JobView(job_id, status.state, owner, info is None or leases.is_expired(info))
        )
    g = fleet.group()
    group = GroupView(int(g["DesiredCapacity"]), int(g["MaxSize"])) if g else None
    rnd = Round(now, views, job_views, group, limits=limits or OnDemandLimits())
    # on-demand instances count against the cap and MaxSize whether or not deadlines are on
    rnd.on_demand = on_demand_instances(fleet)
    for o in rnd.on_demand:
        if o.job_id not in reads:  # not in the listing: ask for its state directly
            reads[o.job_id], _ = read_job(jobs, o.job_id)
    rnd.reads = reads
    if deadline is not None:
        from pitstop.fleet.watchdog import is_live

        th = t or Thresholds()
        live = {v.instance_id for v in views if is_live(v, now, th)}
        rnd.deadlines = deadline_views(jobs, job_views, live, rnd.on_demand, now, deadline)
    return rnd


def on_demand_type(fleet: Fleet, opts: DeadlineOptions) -> str:
    """The instance type of a job's on-demand instance: the option, else the group's first."""
    if opts.instance_type:
        return opts.instance_type
    g = fleet.group() or {}
    overrides = (g.get("MixedInstancesPolicy") or {}).get("LaunchTemplate", {}).get("Overrides", [])
    types = [o["InstanceType"] for o in overrides if o.get("InstanceType")]
    if not types:
        raise FleetError(
            f"fleet {fleet.name}: no instance type for an on-demand instance; run "
            "'pitstop fleet up' or pass --on-demand-type"
        )
    return str(types[0])


def launch_on_demand(fleet: Fleet, job_id: str, instance_type: str) -> str:
    """One on-demand instance from the fleet's launch template, tagged with the job."""
    tags = [
        {"Key": FLEET_TAG, "Value": fleet.name},
        {"Key": "Name", "Value": f"pitstop-{fleet.name}-on-demand"},
        {"Key": MARKET_TAG, "Value": "on-demand"},
        {"Key": DEADLINE_TAG, "Value": job_id},
    ]
    r = call(
        "launch on-demand instance",
        fleet.aws.ec2.run_instances,
        LaunchTemplate={"LaunchTemplateName": fleet.name, "Version": "$Default"},
        InstanceType=instance_type,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": tags},
            {"ResourceType": "volume", "Tags": tags},
        ],
    )
    return str(r["Instances"][0]["InstanceId"])


def note(rnd: Round, action: Action, dry_run: bool = False) -> bool:
    """Record and log a decision that changes nothing (a refusal, a kept instance); False
    for any other action."""
    budget = rnd.budget
    if isinstance(action, RefuseOnDemand):
        rnd.refused.append({"job_id": action.job_id, "reason": action.reason})
        log.warning(
            ev.ONDEMAND_REFUSED,
            job_id=action.job_id,
            reason=action.reason,
            on_demand_cap=budget.cap,
            on_demand_running=budget.running,
            max_size=budget.max_size,
            dry_run=dry_run,
        )
        return True
    if isinstance(action, KeepOnDemand):
        rnd.kept.append(
            {"instance_id": action.instance_id, "job_id": action.job_id, "reason": action.reason}
        )
        log.warning(
            ev.ONDEMAND_KEPT,
            job_id=action.job_id,
            instance_id=action.instance_id,
            reason=action.reason,
            dry_run=dry_run,
        )
        return True
    return False


def action_name(action: Action) -> str:
    """What ``fleet watch --json`` calls an action, the same in a dry run and a real one."""
    names: dict[type, str] = {
        LaunchOnDemand: "launch-on-demand",
        ReleaseOnDemand: "release-on-demand",
        Reboot: "reboot",
        Terminate: "terminate",
        SetDesired: "scale",
    }
    return names.get(type(action), type(action).__name__.lower())


def apply(fleet: Fleet, rnd: Round, deadline: DeadlineOptions | None = None) -> None:
    aws = fleet.aws
    for action in rnd.actions:
        if note(rnd, action):
            continue
        if isinstance(action, LaunchOnDemand):
            itype = on_demand_type(fleet, deadline or DeadlineOptions(0.0, 1.0, 0.0))
            iid = launch_on_demand(fleet, action.job_id, itype)
            rnd.applied.append(
                {
                    "action": action_name(action),
                    "instance_id": iid,
                    "job_id": action.job_id,
                    "instance_type": itype,
                    "reason": action.reason,
                }
            )
            budget = rnd.budget
            log.info(
                ev.ONDEMAND_LAUNCHED,
                job_id=action.job_id,
                instance_id=iid,
                instance_type=itype,
                reason=action.reason,
                on_demand_cap=budget.cap,
                max_size=budget.max_size,
            )
        elif isinstance(action, ReleaseOnDemand):
            call(
                "release on-demand instance",
                aws.ec2.terminate_instances,
                InstanceIds=[action.instance_id],
            )
            rnd.applied.append(
                {
                    "action": action_name(action),
                    "instance_id": action.instance_id,
                    "job_id": action.job_id,
                    "reason": action.reason,
                }
            )
            log.info(
                ev.ONDEMAND_RELEASED,
                job_id=action.job_id,
                instance_id=action.instance_id,
                reason=action.reason,
            )
        elif isinstance(action, Reboot):
            call("reboot instance", aws.ec2.reboot_instances, InstanceIds=[action.instance_id])
            call(
                "tag instance",
                aws.ec2.create_tags,
                Resources=[action.instance_id],
                Tags=[{"Key": REBOOT_TAG, "Value": f"{rnd.now:.0f}"}],
            )
            rnd.applied.append(
                {
                    "action": action_name(action),
                    "instance_id": action.instance_id,
                    "reason": action.reason,
                }
            )
        elif isinstance(action, Terminate):
            # through the group, without lowering the desired count: it launches a replacement
            try:
                call(
                    "terminate instance in group",
                    aws.autoscaling.terminate_instance_in_auto_scaling_group,
                    InstanceId=action.instance_id,
                    ShouldDecrementDesiredCapacity=False,
                )
            except Exception:
                call(
                    "terminate instance",
                    aws.ec2.terminate_instances,
                    InstanceIds=[action.instance_id],
                )
            rnd.applied.append(
                {
                    "action": action_name(action),
                    "instance_id": action.instance_id,
                    "reason": action.reason,
                }
            )
        elif isinstance(action, SetDesired):
            call(
                "set desired capacity",
                aws.autoscaling.set_desired_capacity,
                AutoScalingGroupName=fleet.name,
                DesiredCapacity=action.desired,
                HonorCooldown=False,
            )
            rnd.applied.append(
                {"action": action_name(action), "desired": action.desired, "reason": action.reason}
            )


def watch_once(
    fleet: Fleet,
    store: ObjectStore,
    jobs: JobStore,
    lease_ttl_s: float,
    t: Thresholds,
    *,
    dry_run: bool = False,
    deadline: DeadlineOptions | None = None,
    limits: OnDemandLimits | None = None,
) -> Round:
    """One round; ``limits``: the on-demand cap and ``inbox_deadlines`` (default: the
    settings' defaults, a cap of 2 and inbox deadlines off)."""
    rnd = gather(fleet, store, jobs, lease_ttl_s, deadline, t, limits)
    rnd.actions = decide(
        rnd.instances,
        rnd.jobs,
        rnd.group,
        rnd.now,
        t,
        rnd.deadlines,
        rnd.on_demand,
        rnd.reads,
        rnd.limits,
    )
    if dry_run:
        rnd.applied = [
            {"action": action_name(a), **a.__dict__, "dry_run": True}
            for a in rnd.actions
            if not note(rnd, a, dry_run=True)
        ]
    else:
        apply(fleet, rnd, deadline)
    return rnd


def watch_forever(round_fn: Callable[[], None], interval_s: float) -> None:
    """Run ``round_fn`` every ``interval_s`` seconds until interrupted (APScheduler 3)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    sched = BlockingScheduler()
    sched.add_job(
        round_fn,
        "interval",
        seconds=interval_s,
        max_instances=1,
        coalesce=True,
        next_run_time=__import__("datetime").datetime.now(),
    )
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        sched.shutdown(wait=False)
