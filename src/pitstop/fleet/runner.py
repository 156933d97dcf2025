"""The watchdog's side effects: gather views from EC2, Auto Scaling and S3; apply actions.

``watch_once`` is one round (``pitstop fleet watch --once``, cron, a scheduled Lambda);
``watch_forever`` runs it on an APScheduler interval. The reboot time is kept as an EC2 tag
on the instance (``pitstop:watchdog-rebooted-at``, S3-server epoch seconds), so rounds in
separate processes agree on "silent after reboot" without any local state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pitstop.errors import StoreError
from pitstop.fleet.aws import call
from pitstop.fleet.provision import Fleet
from pitstop.fleet.watchdog import (
    Action,
    GroupView,
    InstanceView,
    JobView,
    Reboot,
    SetDesired,
    Terminate,
    Thresholds,
    decide,
)
from pitstop.store.jobs import JobStore
from pitstop.store.leases import Leases
from pitstop.store.objects import ObjectStore

REBOOT_TAG = "pitstop:watchdog-rebooted-at"


@dataclass
class Round:
    now: float
    instances: list[InstanceView]
    jobs: list[JobView]
    group: GroupView | None
    actions: list[Action] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "instances": [i.__dict__ for i in self.instances],
            "jobs": [{**j.__dict__, "state": j.state.value} for j in self.jobs],
            "actions": self.applied,
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
        doc = json.loads(obj.body)
    except json.JSONDecodeError:
        doc = {}
    return obj.head.last_modified.timestamp(), doc if isinstance(doc, dict) else {}


def gather(fleet: Fleet, store: ObjectStore, jobs: JobStore, lease_ttl_s: float) -> Round:
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
    for job_id in jobs.job_ids():
        try:
            status, _ = jobs.status(job_id)
        except StoreError:
            continue
        if status.state.is_terminal():
            continue
        info = leases.info(job_id)
        owner = None if info is None or info.released else info.owner
        job_views.append(
            JobView(job_id, status.state, owner, info is None or leases.is_expired(info))
        )
    g = fleet.group()
    group = GroupView(int(g["DesiredCapacity"]), int(g["MaxSize"])) if g else None
    return Round(now, views, job_views, group)


def apply(fleet: Fleet, rnd: Round) -> None:
    aws = fleet.aws
    for action in rnd.actions:
        if isinstance(action, Reboot):
            call("reboot instance", aws.ec2.reboot_instances, InstanceIds=[action.instance_id])
            call(
                "tag instance",
                aws.ec2.create_tags,
                Resources=[action.instance_id],
                Tags=[{"Key": REBOOT_TAG, "Value": f"{rnd.now:.0f}"}],
            )
            rnd.applied.append(
                {"action": "reboot", "instance_id": action.instance_id, "reason": action.reason}
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
                {"action": "terminate", "instance_id": action.instance_id, "reason": action.reason}
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
                {"action": "scale", "desired": action.desired, "reason": action.reason}
            )


def watch_once(
    fleet: Fleet,
    store: ObjectStore,
    jobs: JobStore,
    lease_ttl_s: float,
    t: Thresholds,
    *,
    dry_run: bool = False,
) -> Round:
    rnd = gather(fleet, store, jobs, lease_ttl_s)
    rnd.actions = decide(rnd.instances, rnd.jobs, rnd.group, rnd.now, t)
    if dry_run:
        rnd.applied = [
            {"action": type(a).__name__.lower(), **a.__dict__, "dry_run": True} for a in rnd.actions
        ]
    else:
        apply(fleet, rnd)
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
