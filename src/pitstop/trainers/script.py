"""The script backend: the original design, kept safe.

The run script comes from ``PREFIX/scripts/`` of the configured bucket only, which whoever
administers the bucket writes: the job's own ``run_script`` key (``PREFIX/scripts/NAME``) or
``PREFIX/scripts/run.sh``. Nothing a trainer can write (``inbox/``, a job's files) is ever run;
intake refuses such a job already, and this backend refuses it again at start. The script runs
under bash with the attempt in ``PITSTOP_*`` environment variables; it is expected to resume
from ``$PITSTOP_PRETRAINED_PREFIX``/``$PITSTOP_PRETRAINED_CHECKPOINT`` when they are set.
"""

from __future__ import annotations

from pitstop.errors import NotFound, RunScriptRefused, TrainerError
from pitstop.store.layout import Layout
from pitstop.store.objects import ObjectStore
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.processes import ProcessTrainer


class ScriptTrainer(ProcessTrainer):
    def __init__(self, store: ObjectStore, layout: Layout, token: str = "") -> None:
        super().__init__(token)
        self.store = store
        self.layout = layout

    def script_key(self, plan: AttemptPlan) -> str:
        key = plan.spec.run_script or self.layout.run_script
        if self.layout.parse_script_key(key) is None:  # defence in depth: intake refused it
            raise RunScriptRefused(
                f"run script {key!r}: run scripts come only from "
                f"s3://{plan.bucket}/{self.layout.scripts} (written by whoever administers "
                "the bucket), never from the inbox or a job's files"
            )
        return key

    def argv(self, plan: AttemptPlan) -> list[str]:
        key = self.script_key(plan)
        try:
            body = self.store.get(key).body
        except NotFound:
            raise TrainerError(f"no run script at s3://{plan.bucket}/{key}") from None
        path = plan.work_dir / f"run-{plan.attempt}.sh"
        path.write_bytes(body)
        path.chmod(0o700)
        return ["bash", str(path)]
