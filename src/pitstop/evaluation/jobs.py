"""Evaluation jobs: made from a model (a training job, or a prefix), and what follows a job.

Used by ``pitstop evaluate``, ``pitstop tune``, the Python client and the supervisor (which
queues the evaluations a training job asked for with ``evaluate_on`` once it succeeds, and
records an evaluation's results when it ends). Both follow-ups are idempotent: the same job
ids, the same objects, however often a retried action runs them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pitstop.core.ids import valid_job_id
from pitstop.core.records import Evaluation, JobSpec, JobStatus
from pitstop.core.states import JobState
from pitstop.core.times import iso, parse_iso, utcnow
from pitstop.errors import InvalidInput, NotFound
from pitstop.evaluation.results import Results, parse_metrics, summarise
from pitstop.evaluation.staging import model_of_job
from pitstop.store import parse
from pitstop.store.jobs import JobStore, job_id_for
from pitstop.store.layout import ModelKeys, parse_s3_url


def resolve_model(jobs: JobStore, model: str) -> tuple[str, str | None]:
    """``model`` (a job id, ``s3://BUCKET/PREFIX`` in this bucket, or a key prefix) ->
    (model prefix, training job id or None)."""
    if (url := parse_s3_url(model)) is not None:
        bucket, prefix = url
        if bucket != jobs.store.bucket:
            raise InvalidInput(
                f"model {model}: not in this bucket ({jobs.store.bucket}); "
                "copy it here first (aws s3 sync)"
            )
        return prefix.strip("/"), None
    if valid_job_id(model) and "/" not in model:
        try:
            return model_of_job(jobs, model), model
        except NotFound as e:
            if jobs.store.head(jobs.layout.spec(model)) is not None:
                raise InvalidInput(str(e)) from None
    if "/" in model:
        return model.strip("/"), None
    raise InvalidInput(f"model {model!r}: no such job, and not an S3 prefix (s3://BUCKET/PREFIX)")


def check_checkpoint(jobs: JobStore, ev: Evaluation) -> str:
    """The checkpoint ``ev`` names, resolved in its model (``best``, ``last`` or a name with
    every file present); ``InvalidInput`` in one line when there is none, so an evaluation
    of a checkpoint that does not exist is never queued."""
    from pitstop.store.checkpoints import select_checkpoint

    try:
        return select_checkpoint(jobs.store, ev.model_prefix, ev.checkpoint)
    except NotFound as e:
        raise InvalidInput(f"checkpoint {ev.checkpoint!r}: {e}") from None


def evaluation_spec(
    name: str,
    world: str,
    ev: Evaluation,
    *,
    source: str = "cli",
    simulation: dict[str, Any] | None = None,
    run: str = "",
) -> JobSpec:
    """The spec of an evaluation job. Its id is derived from the name, the evaluation and
    ``run``: the same arguments give the same job (a retried follow-up makes no second
    one); another ``run`` gives another job (evaluating again gives other lap times)."""
    fields: dict[str, Any] = {
        "kind": "evaluation",
        "world": world,
        "evaluation": ev.model_dump(),
    }
    if simulation is not None:
        fields["simulation"] = simulation
    job_id, digest = job_id_for(name, {"run": run.encode()} if run else {}, fields)
    try:
        return JobSpec(
            id=job_id,
            name=name,
            submitted_at=iso(utcnow()) or "",
            source=source,
            content_sha256=digest,
            **fields,
        )
    except ValueError as e:
        raise InvalidInput(f"evaluation {name!r}: {e}") from None


def submit_evaluation(jobs: JobStore, spec: JobSpec) -> bool:
    """Create the evaluation job (no custom files: the model brings its own)."""
    return jobs.create(spec, {})


def evaluations_after(spec: JobSpec, status: JobStatus) -> list[JobSpec]:
    """The evaluations a training job asked for (``evaluate_on``), of its final model."""
    if spec.kind != "training" or not spec.evaluate_on or not status.attempts:
        return []
    prefix = status.attempts[-1].model_prefix
    out = []
    for world in spec.evaluate_on:
        ev = Evaluation(model_prefix=prefix, model_job=spec.id, checkpoint="last")
        name = f"{spec.name}-on-{world}"
        out.append(evaluation_spec(name, world, ev, source=f"job {spec.id}", simulation=_sim(spec)))
    return out


def _sim(spec: JobSpec) -> dict[str, Any] | None:
    # a simulated training job's evaluations run on the simulated trainer at its pace
    return (
        spec.simulation.model_dump(include={"checkpoint_interval_s"}) if spec.simulation else None
    )


def collect_results(jobs: JobStore, spec: JobSpec, status: JobStatus, now: datetime) -> Results:
    """Read the last attempt's metrics into ``Results``; ``NotFound``/``CorruptObject``."""
    assert spec.evaluation is not None
    if not status.attempts:
        raise NotFound(f"job {spec.id} has no attempt")
    keys = ModelKeys(status.attempts[-1].model_prefix)
    files = sorted(
        (i for i in jobs.store.list(keys.evaluation_dir) if keys.parse_evaluation_metrics(i.key)),
        key=lambda i: (i.last_modified, i.key),
    )
    if not files:
        raise NotFound(
            f"no evaluation metrics under {keys.evaluation_dir}", key=keys.evaluation_dir
        )
    rows = parse_metrics(jobs.store.get(files[-1].key).body, files[-1].key)
    try:
        checkpoint = jobs.store.get(keys.coach_checkpoint).body.decode().strip()
    except NotFound:
        checkpoint = spec.evaluation.checkpoint
    return Results(
        job_id=spec.id,
        world=spec.world,
        model_prefix=spec.evaluation.model_prefix,
        model_job=spec.evaluation.model_job,
        checkpoint=checkpoint or spec.evaluation.checkpoint,
        speed_scale=spec.evaluation.speed_scale,
        ended_at=status.attempts[-1].ended_at or iso(now),
        laps=rows,
        summary=summarise(rows),
    )


def record_results(jobs: JobStore, results: Results) -> None:
    """``jobs/ID/results.json`` and, with a complete lap, the job's leaderboard entry (the
    same key however often it is recorded: the time in it is the attempt's end)."""
    jobs.store.put(
        jobs.layout.results(results.job_id),
        results.model_dump_json(indent=2).encode(),
        content_type="application/json",
    )
    rank = results.ranking()
    if rank is not None:
        ended = parse_iso(results.ended_at or "")
        key = jobs.layout.leaderboard_key(
            results.world, rank[0], rank[1], int(ended.timestamp() * 1000), results.job_id
        )
        jobs.store.put(key, b"")


def read_results(jobs: JobStore, job_id: str) -> Results:
    """An ended evaluation's results; ``NotFound`` saying why there are none."""
    key = jobs.layout.results(job_id)
    try:
        body = jobs.store.get(key).body
    except NotFound:
        status, _ = jobs.status(job_id)
        spec = jobs.spec(job_id)
        if spec.kind != "evaluation":
            raise NotFound(f"job {job_id} is a training job: evaluate it first") from None
        if status.state is not JobState.SUCCEEDED:
            raise NotFound(f"job {job_id} is {status.state.value}: no results yet") from None
        raise
    return parse.model(Results, body, key, "pitstop results")
