"""The watchdog's round in words: one line per action taken, launch refused and instance
kept, and (for a single round) what the fleet held and the on-demand budget. The CLI prints
these lines; ``Round.as_dict`` is the same round as data."""

from __future__ import annotations

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
