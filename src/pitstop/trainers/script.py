"""The script backend: the original design, kept safe.

The run script comes from the configured bucket only: the job's own ``run_script`` key
(which must lie under pitstop's prefix) or ``PREFIX/scripts/run.sh``. It runs under bash with
the attempt in ``PITSTOP_*`` environment variables; it is expected to resume from
``$PITSTOP_PRETRAINED_PREFIX``/``$PITSTOP_PRETRAINED_CHECKPOINT`` when they are set.
"""

from __future__ import annotations

from pitstop.errors import NotFound, TrainerError
from pitstop.store.layout import Layout
from pitstop.store.objects import ObjectStore
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.processes import ProcessTrainer


class ScriptTrainer(ProcessTrainer):
    def __init__(self, store: ObjectStore, layout: Layout) -> None:
        super().__init__()
        self.store = store
        self.layout = layout

    def script_key(self, plan: AttemptPlan) -> str:
        key = plan.spec.run_script or self.layout.run_script
        if not key.startswith(self.layout.prefix + "/") or ".." in key.split("/"):
            raise TrainerError(
                f"run script {key!r} must be a key under {self.layout.prefix}/ in the bucket"
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
