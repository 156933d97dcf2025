"""``pitstop submit | jobs | job | cancel``: the trainer's side of the queue."""

from __future__ import annotations

from typing import Any

from pitstop.cli.common import FLAG, Sub, command, job_store, jobs_from, opt, settings_from, values
from pitstop.cli.output import Table, show, state_style

SUBMIT_OPTIONS = [
    opt("reward", metavar="REWARD.py", help="the reward function file"),
    opt("--name", help="job name (default: the file's name)"),
    opt("--metadata", metavar="FILE", help="model_metadata.json (default: defaults/ in S3, else built-in)"),
    opt("--hyperparameters", metavar="FILE", help="hyperparameters.json"),
    opt("--job", metavar="FILE", help='JSON with other spec fields, e.g. {"world": "Oval_track", "max_hours": 8}'),
    opt("--pretrained", metavar="MODEL", help="start from this model: a job id, or s3://BUCKET/PREFIX in this bucket (a DRoA export, a console or DRfC model copied here); checked before it is queued"),
    opt("--pretrained-checkpoint", default="last", metavar="NAME", help="which of its checkpoints: best, last (default) or a name"),
    opt("--on-interruption", choices=("resume", "stop"), help="after a spot interruption: resume from the last checkpoint on another instance (the default), or stop: the job ends cancelled, its checkpoints kept (overrides the --job file's on_interruption)"),
    opt("--evaluate", metavar="WORLD[,WORLD...]", help="once training succeeds, queue an evaluation of the final model on each world (see 'pitstop results' and 'pitstop leaderboard')"),
]  # fmt: skip
JOBS_OPTIONS = [
    opt("--state", action="append", default=[], metavar="STATE", help="only jobs in this state (repeatable)"),
    opt("--reindex", **FLAG, help="first rewrite the listing index from every job's state.json (one read per job): the repair after an upgrade from a version that kept no index"),
]  # fmt: skip
JOB_ID = opt("job_id", metavar="JOB_ID")


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
        "supervisor at its next heartbeat (heartbeat_interval_s). Checkpoints are kept. A job "
        "that has already ended is left as it is (exit 0, saying so).",
        [JOB_ID],
    )  # fmt: skip


def _submit(args: Any) -> int:
    from pitstop import intake

    names = ("name", "metadata", "hyperparameters", "job", "evaluate")
    sub = intake.submission_from_files(args.reward, **values(args, names))
    if args.on_interruption:
        sub.fields["on_interruption"] = args.on_interruption
        sub.labels.setdefault("job.json", "--on-interruption")
    intake.validate(sub, dynamic=True)
    settings = settings_from(args)  # only now: bad input is reported without needing settings
    jobs = job_store(settings)
    if args.pretrained:
        from pitstop.evaluation.jobs import resolve_model

        prefix, _ = resolve_model(jobs, args.pretrained)
        sub.fields["pretrained"] = {
            "model_prefix": prefix,
            "checkpoint": args.pretrained_checkpoint,
        }
        sub.labels.setdefault("job.json", "--pretrained")
    spec, created = intake.submit(
        jobs,
        sub,
        settings.bucket,
        dynamic=False,
        restart_overhead_s=settings.deadline_restart_overhead_s,
    )
    show(
        args,
        {"id": spec.id, "created": created},
        spec.id if created else f"{spec.id} (already submitted)",
    )
    return 0


def _jobs(args: Any) -> int:
    from pitstop.job_views import JOBS_DROP, JOBS_HEADERS, JOBS_KEEP, job_row, state_filter
    from pitstop.queue import job_rows
    from pitstop.store.listing import reindex

    states = state_filter(args.state)
    jobs = jobs_from(args)
    reindexed = None
    if args.reindex:
        written, deleted = reindex(jobs)
        reindexed = f"listing index: {written} key(s) written, {deleted} deleted"
    rows = [r for r in job_rows(jobs) if not states or r["state"] in states]
    table = Table(
        JOBS_HEADERS,
        [job_row(r) for r in rows],
        "no jobs",
        {1: state_style},
        keep=JOBS_KEEP,
        drop=JOBS_DROP,
    )
    show(args, rows, reindexed, table)
    return 0


def _job(args: Any) -> int:
    from pitstop.job_views import ATTEMPT_HEADERS, EVENT_HEADERS, check_job_id, job_view
    from pitstop.store.jobs import job_document

    doc = job_document(jobs_from(args), check_job_id(args.job_id))
    view = job_view(doc)
    attempts = (
        ("", Table(ATTEMPT_HEADERS, view.attempts, styles={3: state_style}))
        if view.attempts
        else ()
    )
    events = ("", Table(EVENT_HEADERS, view.events)) if view.events else ()
    show(args, doc, *view.lines, *attempts, *events)
    return 0


def _cancel(args: Any) -> int:
    from pitstop.job_views import check_job_id
    from pitstop.queue import cancel

    # NotFound (exit 1) for a job that does not exist; an ended one: said, exit 0
    done = cancel(jobs_from(args), check_job_id(args.job_id))
    show(args, done.doc(), done.line())
    return 0
