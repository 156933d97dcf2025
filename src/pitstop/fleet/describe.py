"""The fleet in words: the watchdog's round (one line per action taken, launch refused and
instance kept, and for a single round what the fleet held and the on-demand budget), and
``fleet status`` as a heading and a row per instance. The CLI prints these; ``Round.as_dict``
and ``fleet_status`` are the same as data."""

from __future__ import annotations

from typing import Any

from pitstop.fleet.runner import Round


def round_lines(rnd: Round, once: bool) -> list[str]:
    lines = []
    for a in rnd.applied:
        target = a.get("instance_id") or f"desired {a.get('desired')}"
        if a.get("job_id"):
            target = f"{target} for {a['job_id']}"
        lines.append(f"{a['action']:<10} {target}: {a['reason']}")
    lines += [f"{'refused':<10} on-demand for {r['job_id']}: {r['reason']}" for r in rnd.refused]
    lines += [f"{'kept':<10} {k['instance_id']} for {k['job_id']}: {k['reason']}" for k in rnd.kept]
    if not once:
        return lines
    if not (rnd.applied or rnd.refused or rnd.kept):
        lines.append(
            f"{len(rnd.instances)} instance(s), {len(rnd.jobs)} open job(s): nothing to do"
        )
    b = rnd.budget
    lines.append(
        f"on-demand at the round's start: {b.running} running, cap {b.cap} "
        f"(max_on_demand_instances), {b.allowed} allowed; group MaxSize {b.max_size}, {b.spot} spot"
    )
    return lines


STATUS_HEADERS = ["INSTANCE", "TYPE", "ZONE", "STATE", "HEARTBEAT", "SUPERVISOR", "JOB",
                  "JOB STATE", "CHECKPOINT"]  # fmt: skip
_STATUS_KEYS = ("instance_id", "type", "zone", "state", "heartbeat_age_s", "supervisor",
                "job_id", "job_state", "last_checkpoint")  # fmt: skip


def age(seconds: float | None) -> str | None:
    """``45s``, ``12m``, ``3.5h``: a heartbeat's age at a glance."""
    if seconds is None:
        return None
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.1f}h"


def status_heading(name: str, doc: dict[str, Any]) -> str:
    """``fleet NAME: desired 2 (min 0, max 4), 2 instance(s)`` of ``fleet_status``'s document."""
    group, rows = doc["group"], doc["instances"]
    if group is None:
        return f"fleet {name}: no Auto Scaling group"
    return (
        f"fleet {name}: desired {group['desired']} (min {group['min']}, max {group['max']}), "
        f"{len(rows)} instance(s)"
    )


def status_rows(doc: dict[str, Any]) -> list[list[object]]:
    """A row per instance (columns of :data:`STATUS_HEADERS`)."""
    return [
        [age(r[k]) if k == "heartbeat_age_s" else r[k] for k in _STATUS_KEYS]
        for r in doc["instances"]
    ]
