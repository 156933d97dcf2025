"""Log shipping keyed by supervisor, job and attempt (issue 23): a trainer's log is shipped
only as the attempt it belongs to, from this supervisor's own job folder; never as another
job's or another attempt's (a start that never happened leaves the last log behind)."""

from __future__ import annotations

from pathlib import Path

from pitstop.core import lifecycle as lc
from pitstop.core.records import JobSpec
from pitstop.core.states import JobState
from pitstop.store.leases import Lease
from pitstop.store.objects import S3Store
from pitstop.supervisor.context import Context, Current, SystemClock, policy_for, run_command
from pitstop.supervisor.shipper import Shipper
from pitstop.trainers.base import AttemptPlan, supervisor_token
from pitstop.trainers.simulated import SimulatedTrainer
from tests.helpers import wait_for
from tests.supervisor.test_crash_only import settings_for


def _current(ctx: Context, job_id: str) -> Current:
    spec = JobSpec.model_construct(id=job_id, name=job_id, submitted_at="t")
    return Current(
        job_id,
        spec,
        Lease(job_id, ctx.instance_id, "etag", 1),
        lc.Run(JobState.RUNNING, attempt=1),
        policy_for(ctx.settings, spec),
    )


def test_a_log_is_shipped_only_as_its_own_job_and_attempt(
    bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    settings = settings_for(bucket, s3_endpoint, tmp_path / "state")
    trainer = SimulatedTrainer(supervisor_token(settings.state_dir))
    store = S3Store.from_settings(settings)
    ctx = Context(
        settings, store, trainer, "i-one", SystemClock(), run_command, None, settings.state_dir
    )
    shipper = Shipper(ctx)
    spec = JobSpec(id="first", name="first", submitted_at="t", simulation={"checkpoints": 1})
    plan = AttemptPlan(
        "first",
        1,
        spec,
        "models/first/attempt-1",
        None,
        None,
        bucket,
        "us-east-1",
        s3_endpoint,
        "pitstop/jobs/first/custom_files/",
        settings.state_dir / "jobs" / "first",
    )
    trainer.start(plan)
    try:
        wait_for(lambda: plan.log_path.stat().st_size > 0, 20, "the trainer to log")
    finally:
        trainer.stop(2)
    assert trainer.log_files() == [plan.log_path]  # the trainer still names it
    # the next job's attempt 1 never started (refused): nothing of "first" is shipped for it
    shipper.upload_logs(_current(ctx, "second"), 1)
    assert ctx.jobs.logs("second") == []
    # nor as a later attempt of the same job
    shipper.upload_logs(_current(ctx, "first"), 2)
    assert ctx.jobs.logs("first") == []
    # as its own attempt, it is
    shipper.upload_logs(_current(ctx, "first"), 1)
    assert ctx.jobs.logs("first") == ["pitstop/jobs/first/logs/attempt-1/trainer.log"]
