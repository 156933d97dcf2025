"""The queue as text: the job-state filter of ``pitstop jobs`` and a row per job, and one
job (``pitstop job``) as heading lines, an attempts table and an events table.

Pure: documents in (``queue.job_rows``, ``store.jobs.job_document``), text out; printing
is the CLI's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pitstop.core.ids import job_id_problem
from pitstop.core.states import JobState
from pitstop.errors import InvalidInput
from pitstop.store.layout import model_prefix_pattern, parse_model_prefix
from pitstop.tables import short_time

JOBS_HEADERS = ["JOB", "STATE", "ATTEMPTS", "RESTARTS", "INSTANCE", "CREATED (UTC)",
                "DEADLINE (UTC)", "SLACK", "REASON"]  # fmt: skip
# on a narrow terminal the job id and state stay whole (an id is copied into the next
# command); left out first, in this order: creation time, instance, restarts, attempts,
# deadline, slack, and the reason last (``pitstop job ID`` shows it whole)
JOBS_KEEP = (0, 1)
JOBS_DROP = (5, 4, 3, 2, 6, 7, 8)
ATTEMPT_HEADERS = ["ATTEMPT", "STARTED (UTC)", "ENDED (UTC)", "OUTCOME", "PRETRAINED",
                   "LAST CHECKPOINT"]  # fmt: skip
EVENT_HEADERS = ["TIME (UTC)", "EVENT", "ATTEMPT", "DETAIL"]


def check_job_id(value: str) -> str:
    problem = job_id_problem(value)
    if problem is not None:
        raise InvalidInput(f"JOB_ID {value!r} is not a valid job id: {problem}")
    return value


def state_filter(values: list[str]) -> set[str]:
    """The states of ``--state`` (a job state, or ``invalid``); an unknown one is bad input."""
    known = {s.value for s in JobState} | {"invalid"}
    for v in values:
        if v not in known:
            raise InvalidInput(
                f"--state {v!r}: not a job state (one of {', '.join(sorted(known))})"
            )
    return set(values)


def job_row(r: dict[str, Any]) -> list[object]:
    """One line of ``pitstop jobs`` (columns of :data:`JOBS_HEADERS`)."""
    return [
        repr(r["id"]) if r.get("invalid") else r["id"],  # the name may hold anything
        r["state"],
        r["attempts"],
        r["restarts"],
        r["instance_id"],
        short_time(r["created_at"]),
        short_time(r.get("deadline")),
        None if r.get("slack_h") is None else f"{r['slack_h']:.1f}h",
        r["reason"],
    ]


def _attempt_ref(n: object) -> object:
    """Events before the first attempt carry attempt 0 or none: both print as ``-``."""
    return n if isinstance(n, int) and n > 0 else None


def _pretrained(a: dict[str, Any], prefixes: dict[str, int]) -> str | None:
    """``attempt 1: 3_Step-3000.ckpt`` when the model is an earlier attempt's, else the
    full prefix (a model from elsewhere)."""
    if not a["pretrained_prefix"]:
        return None
    n = prefixes.get(a["pretrained_prefix"])
    where = f"attempt {n}" if n is not None else a["pretrained_prefix"]
    return f"{where}: {a['pretrained_checkpoint']}"


def _detail(e: dict[str, Any]) -> object:
    if e.get("event") == "run.backing_off" and e.get("backoff_s") is not None:
        return f"waiting {e['backoff_s']:g} s after: {e.get('reason')}"
    return e.get("reason") or e.get("checkpoint")


def _infra(doc: dict[str, Any]) -> str:
    n = doc.get("infra_restarts") or 0
    return f" (+{n} after infrastructure faults)" if n else ""


def _outcome(a: dict[str, Any]) -> object:
    """``crashed (user_error)``: the outcome with its class, when the attempt failed."""
    failure = a.get("failure")
    return f"{a['outcome']} ({failure})" if failure and a.get("outcome") else a.get("outcome")


def last_failure(attempts: list[dict[str, Any]]) -> str | None:
    """The newest classified failure in one line: ``user_error: <why> (attempt 2)``."""
    for a in reversed(attempts):
        if a.get("failure") and a.get("failure_reason"):
            sig = f", {a['signature']}" if a.get("signature") else ""
            return f"{a['failure']}: {a['failure_reason']} (attempt {a['n']}{sig})"
    return None


def _models_line(attempts: list[dict[str, Any]]) -> str:
    """``models/JOB/attempt-N (N = 1..3)`` when the prefixes follow that form, else each."""
    prefixes = [str(a["model_prefix"]) for a in attempts]
    parsed = [parse_model_prefix(p) for p in prefixes]
    job = parsed[0].job_id if parsed[0] else None
    if job is not None and all(m == (job, a["n"]) for m, a in zip(parsed, attempts, strict=True)):
        ns = [a["n"] for a in attempts]
        shown = f"{model_prefix_pattern(job)} (N = {ns[0]}..{ns[-1]})"
        return shown if len(ns) > 1 else prefixes[0]
    return ", ".join(prefixes)


@dataclass
class JobView:
    """One job as text: heading lines, then its attempts and its events as table rows."""

    lines: list[str]
    attempts: list[list[object]] = field(default_factory=list)
    events: list[list[object]] = field(default_factory=list)


def job_view(doc: dict[str, Any]) -> JobView:
    attempts, events = doc["attempts"], doc["events"]
    lines = [
        f"job       {doc['id']} ({doc['name']})",
        f"state     {doc['state']}" + (f": {doc['reason']}" if doc["reason"] else ""),
        f"instance  {doc['instance_id'] or '-'}    restarts {doc['restarts']}"
        + _infra(doc)
        + f"    trained {doc['training_s']:.0f} s",
    ]
    why = last_failure(attempts)
    if why:
        lines.append(f"failure   {why}")
    if attempts:
        lines.append(f"models    {_models_line(attempts)}")
    prefixes = {a["model_prefix"]: a["n"] for a in attempts}
    return JobView(
        lines,
        [
            [a["n"], short_time(a["started_at"]), short_time(a["ended_at"]), _outcome(a),
             _pretrained(a, prefixes), a["last_checkpoint"]]
            for a in attempts
        ],
        [[short_time(e["at"]), e["event"], _attempt_ref(e.get("attempt")), _detail(e)] for e in events],
    )  # fmt: skip
