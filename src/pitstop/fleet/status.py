"""``pitstop fleet status``: the group's size and, per instance, what EC2 and its supervisor
heartbeat say (type, zone, state, heartbeat age, job, job state, checkpoint).

Reads only; the CLI prints what this returns.
"""

from __future__ import annotations

from typing import Any

from pitstop.errors import StoreError
from pitstop.fleet.provision import Fleet
from pitstop.fleet.runner import heartbeat
from pitstop.store.jobs import JobStore


def fleet_status(fleet: Fleet, jobs: JobStore) -> dict[str, Any]:
    """``{"name", "group": {desired, min, max} | None, "instances": [row, ...]}``."""
    now = jobs.store.server_time().timestamp()
    group = fleet.group()
    rows = []
    for inst in fleet.group_instances():
        iid = inst["InstanceId"]
        hb_at, doc = heartbeat(jobs.store, jobs, iid)
        job_id = doc.get("job_id")
        job_state = None
        if job_id:
            try:
                job_state = jobs.status(job_id)[0].state.value
            except StoreError:
                job_state = "?"
        rows.append(
            {
                "instance_id": iid,
                "type": inst.get("InstanceType"),
                "zone": inst.get("Placement", {}).get("AvailabilityZone"),
                "state": inst["State"]["Name"],
                "lifecycle": inst.get("InstanceLifecycle", "on-demand"),
                "heartbeat_age_s": None if hb_at is None else round(now - hb_at, 1),
                "supervisor": doc.get("state"),
                "job_id": job_id,
                "job_state": job_state,
                "last_checkpoint": doc.get("last_checkpoint"),
            }
        )
    summary = (
        None
        if group is None
        else {"desired": group["DesiredCapacity"], "min": group["MinSize"], "max": group["MaxSize"]}
    )
    return {"name": fleet.name, "group": summary, "instances": rows}
