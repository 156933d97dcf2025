"""``pitstop submit | jobs | job | cancel``: the trainer's side of the queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pitstop.cli.common import FLAG, Sub, command, job_store, jobs_from, opt, settings_from
from pitstop.cli.output import Part, Table, short_time, show, state_style
from pitstop.errors import InvalidInput
from pitstop.store.layout import model_prefix_pattern, parse_model_prefix

SUBMIT_OPTIONS = [
    opt("reward", metavar="REWARD.py", help="the reward function file"),
    opt("--name", help="job name (default: the file's name)"),
    opt("--metadata", metavar="FILE", help="model_metadata.json (default: defaults/ in S3, else built-in)"),
    opt("--hyperparameters", metavar="FILE", help="hyperparameters.json"),
    opt("--job", metavar="FILE", help='JSON with other spec fields, e.g. {"world": "Oval_track", "max_hours": 8}'),
    opt("--evaluate", metavar="WORLD[,WORLD...]", help="once training succeeds, queue an evaluation of the final model on each world (see 'pitstop results' and 'pitstop leaderboard')"),
]  # fmt: skip
JOBS_OPTIONS = [
    opt("--state", action="append", default=[], metavar="STATE", help="only jobs in this state (repeatable)"),
    opt("--reindex", **FLAG, help="first rewrite the listing index from every job's state.json (one read per job): the repair after an upgrade from a version that kept no index"),
]  # fmt: skip
JOB_ID = opt("job_id", metavar="JOB_ID")
JOBS_HEADERS = ["JOB", "STATE", "ATTEMPTS", "RESTARTS", "INSTANCE", "CREATED (UTC)",
                "DEADLINE (UTC)", "SLACK", "REASON"]  # fmt: skip
ATTEMPT_HEADERS = ["ATTEMPT", "STARTED (UTC)", "ENDED (UTC)", "OUTCOME", "PRETRAINED",
                   "LAST CHECKPOINT"]  # fmt: skip


def register(sub: Sub) -> None:
    command(
        sub, "submit", _submit, "submit a reward function as a training job",
        "Validate a reward function (and optional model_metadata.json, hyperparameters.json, "
        "job spec) and add it to the queue in S3. Nothing is written when a file is invalid. "
        "Submitting the same files twice gives the same job id and no second job.",
        SUBMIT_OPTIONS,
    )  # fmt: skip
    command(
        sub, "jobs", _jobs, "list jobs",
        "List every job with its state. Reads the listing index (one request per 1,000 jobs) "
        "and the jobs/ folder; a job the index does not know yet is read once and added to it.",
        JOBS_OPTIONS,
    )  # fmt: skip
    command(sub, "job", _job, "show one job", "Show a job: state, attempts and events.", [JOB_ID])
    command(
        sub, "cancel", _cancel, "cancel a job",
        "Cancel a job: a pending job is cancelled at once; a running one is stopped by its "
        "supervisor at its next heartbeat (heartbeat_interval_s). Checkpoints are kept.",
        [JOB_ID],
    )  # fmt: skip


def _read(path: str, what: str) -> bytes:
    from pitstop.files import read_user_file

    return read_user_file(path, f"{what} file")


def _submit(args: Any) -> int:
    from pitstop import intake

    if not args.reward.endswith(".py"):
        raise InvalidInput(f"{args.reward}: a reward function must be a .py file")
    files = {"reward_function.py": _read(args.reward, "reward function")}
    labels = {"reward_function.py": args.reward}
    for name, path, what in [("model_metadata.json", args.metadata, "metadata"),
                             ("hyperparameters.json", args.hyperparameters, "hyperparameters")]:  # fmt: skip
        if path:
            files[name], labels[name] = _read(path, what), path
    fields: dict[str, Any] = {}
    if args.job:
        from pitstop.store.jobs import parse_user_fields

        fields = parse_user_fields(_read(args.job, "job"), args.job)
        labels["job.json"] = args.job
    if args.evaluate:
        fields["evaluate_on"] = [w.strip() for w in args.evaluate.split(",") if w.strip()]
        labels.setdefault("job.json", "--evaluate")
    name = args.name or fields.get("name") or Path(args.reward).stem
    sub = intake.Submission(name=name, files=files, fields=fields, source="cli", labels=labels)
    intake.validate(sub, dynamic=True)
    settings = settings_from(args)  # only now: bad input is reported without needing settings
    spec, created = intake.submit(job_store(settings), sub, settings.bucket, dynamic=False,
                                  restart_overhead_s=settings.deadline_restart_overhead_s)  # fmt: skip
    show(
        args,
        {"id": spec.id, "created": created},
        spec.id if created else f"{spec.id} (already submitted)",
    )
    return 0


def _job_id_arg(value: str) -> str:
    from pitstop.core.ids import job_id_problem

    problem = job_id_problem(value)
    if problem is not None:
        raise InvalidInput(f"JOB_ID {value!r} is not a valid job id: {problem}")
    return value


def _state_arg(values: list[str]) -> set[str]:
    from pitstop.core.states import JobState

    known = {s.value for s in JobState} | {"invalid"}
    for v in values:
        if v not in known:
            raise InvalidInput(
                f"--state {v!r}: not a job state (one of {', '.join(sorted(known))})"
            )
    return set(values)


def _jobs(args: Any) -> int:
    from pitstop.queue import job_rows
    from pitstop.store.listing import reindex

    states = _state_arg(args.state)
    jobs = jobs_from(args)
    reindexed = None
    if args.reindex:
        written, deleted = reindex(jobs)
        reindexed = f"listing index: {written} key(s) written, {deleted} deleted"
    rows = [r for r in job_rows(jobs) if not states or r["state"] in states]
    table = [
        [repr(r["id"]) if r.get("invalid") else r["id"],  # the name may hold anything
         r["state"], r["attempts"], r["restarts"], r["instance_id"], short_time(r["created_at"]),
         short_time(r.get("deadline")), None if r.get("slack_h") is None else f"{r['slack_h']:.1f}h",
         r["reason"]]
        for r in rows
    ]  # fmt: skip
    show(args, rows, reindexed, Table(JOBS_HEADERS, table, "no jobs", {1: state_style}))
    return 0


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


def _job(args: Any) -> int:
    from pitstop.store.jobs import job_document

    doc = job_document(jobs_from(args), _job_id_arg(args.job_id))
    attempts, events = doc["attempts"], doc["events"]
    parts: list[Part] = [
        f"job       {doc['id']} ({doc['name']})",
        f"state     {doc['state']}" + (f": {doc['reason']}" if doc["reason"] else ""),
        f"instance  {doc['instance_id'] or '-'}    restarts {doc['restarts']}    "
        f"trained {doc['training_s']:.0f} s",
    ]
    if attempts:
        prefixes = {a["model_prefix"]: a["n"] for a in attempts}
        rows = [[a["n"], short_time(a["started_at"]), short_time(a["ended_at"]), a["outcome"],
                 _pretrained(a, prefixes), a["last_checkpoint"]] for a in attempts]  # fmt: skip
        parts += [
            f"models    {_models_line(attempts)}",
            "",
            Table(ATTEMPT_HEADERS, rows, styles={3: state_style}),
        ]
    if events:
        rows = [
            [short_time(e["at"]), e["event"], _attempt_ref(e.get("attempt")), _detail(e)]
            for e in events
        ]
        parts += ["", Table(["TIME (UTC)", "EVENT", "ATTEMPT", "DETAIL"], rows)]
    show(args, doc, *parts)
    return 0


def _cancel(args: Any) -> int:
    from pitstop.core.states import JobState
    from pitstop.queue import cancel

    job_id = _job_id_arg(args.job_id)
    status = cancel(jobs_from(args), job_id)
    done = status.state is JobState.CANCELLED
    text = (
        f"{job_id} cancelled"
        if done
        else f"{job_id}: cancel requested; its supervisor stops it at its next heartbeat"
    )
    show(args, {"id": job_id, "state": status.state.value, "cancel_requested": True}, text)
    return 0
