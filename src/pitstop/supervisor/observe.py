"""Observing the held job: reads only, no decisions.

Each tick the daemon asks for one ``Observation`` of the held job: the trainer's status,
the heartbeat (the attempt's newest checkpoint, or an evaluation's laps) and what the
other scheduled jobs learnt (cancel, a spot notice, a lost lease). What the facts mean
(finished? succeeded?) is the core's (``core/verdicts.py``); an unreadable heartbeat is
reported as unknown (None), never guessed.
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from pitstop.core import events as ev
from pitstop.core import hangs, verdicts
from pitstop.core import lifecycle as lc
from pitstop.core.failures import Leftovers
from pitstop.core.states import TrainerStatus
from pitstop.core.times import parse_iso
from pitstop.errors import StoreError
from pitstop.evaluation.progress import read_evaluation
from pitstop.store import metrics
from pitstop.store.checkpoints import is_initial_checkpoint, read_progress
from pitstop.store.layout import model_prefix
from pitstop.supervisor.context import Context, Current

log = structlog.get_logger("pitstop.supervisor")


class Observer:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def observe(self, cur: Current, *, stop_failed: bool, notice: str | None) -> lc.Observation:
        if stop_failed:
            status, code = TrainerStatus.STOP_FAILED, None
        else:
            status, code = self.ctx.trainer.status()
        heartbeat: lc.Heartbeat | None = None
        if cur.run.attempt > 0 and cur.spec.evaluation is not None:
            heartbeat = self._evaluation(cur, status, code)
        elif cur.run.attempt > 0:
            heartbeat = self._training(cur, status, code)
        live = self._live(cur) if status is TrainerStatus.RUNNING and cur.run.attempt else None
        down = status in (TrainerStatus.EXITED, TrainerStatus.ABSENT)
        return lc.Observation(
            status,
            code,
            heartbeat,
            cur.cancel_requested,
            notice,
            cur.fenced,
            cur.refused,
            cur.start_error,
            live,
            self._leftovers(cur) if down and cur.run.attempt else None,
        )

    def _live(self, cur: Current) -> hangs.Live:
        """What the running attempt shows: its containers and (training) worker 0's
        episodes, with when each other worker last wrote one. Unreadable metrics are no
        evidence: a worker's mark is kept, never moved, while S3 cannot be read."""
        tail: hangs.EvaluationTail | None = None
        attempt = cur.run.attempt
        marks = cur.worker_marks[1] if cur.worker_marks[0] == attempt else ()
        if cur.spec.evaluation is None:
            prefix = model_prefix(cur.job_id, attempt)
            try:
                cur.metrics_tail = metrics.evaluation_tail(self.ctx.store, prefix, cur.metrics_tail)
                tail = cur.metrics_tail[1] if cur.metrics_tail is not None else None
                if cur.spec.workers > 1:
                    files = metrics.worker_files(self.ctx.store, prefix, cur.spec.workers, marks)
                    marks = hangs.mark_workers(marks, files, tail)
            except StoreError:
                cur.metrics_tail, tail = None, None
            cur.worker_marks = (attempt, marks)
        return hangs.Live(self.ctx.trainer.containers(), tail, marks)

    def _leftovers(self, cur: Current) -> Leftovers:
        """What the attempt left, gathered once, when its trainer is first seen down (before
        the executor's stop tears its containers down)."""
        n = cur.run.attempt
        if cur.leftovers is None or cur.leftovers[0] != n:
            left = self.ctx.trainer.leftovers()
            started = cur.run.attempt_started_at
            ran_s = 0.0 if started is None else max(0.0, self.ctx.clock.monotonic() - started)
            since = self.ctx.clock.wall().timestamp() - ran_s
            cur.leftovers = (n, replace(left, host=self.ctx.host_messages(since)))
        return cur.leftovers[1]

    def _training(
        self, cur: Current, status: TrainerStatus, code: int | None
    ) -> lc.Heartbeat | None:
        try:
            p = read_progress(
                self.ctx.store, model_prefix(cur.job_id, cur.run.attempt), cur.progress
            )
            cur.progress = p
            verdict = self._training_verdict(cur, status, code) if p.finished else verdicts.NOT_YET
        except StoreError as e:
            log.info(ev.HEARTBEAT_UNKNOWN, job_id=cur.job_id, error=str(e))
            return None
        return lc.Heartbeat(
            p.checkpoint,
            p.checkpoint_mtime,
            p.age_s,
            verdict.finished,
            finished_ok=verdict.ok,
            evidence=verdict.evidence,
            initial=is_initial_checkpoint(p.checkpoint, cur.pretrained),
        )

    def _training_verdict(
        self, cur: Current, status: TrainerStatus, code: int | None
    ) -> verdicts.Verdict:
        """``.finished`` is no proof: the metrics are read once per attempt, when it is
        first seen, and the core judges them with the trainer's exit."""
        n = cur.run.attempt
        if cur.evidence is None or cur.evidence[0] != n:
            found = metrics.read_evidence(
                self.ctx.store,
                model_prefix(cur.job_id, n),
                self.ctx.layout.custom_file(cur.job_id, "hyperparameters.json"),
            )
            cur.evidence = (n, found)
        exited = status in (TrainerStatus.EXITED, TrainerStatus.ABSENT)
        return verdicts.training(cur.evidence[1], exited, code)

    def _evaluation(
        self, cur: Current, status: TrainerStatus, code: int | None
    ) -> lc.Heartbeat | None:
        """A new lap is progress; whether the evaluation finished is the core's verdict."""
        assert cur.spec.evaluation is not None
        try:
            prefix = model_prefix(cur.job_id, cur.run.attempt)
            p = read_evaluation(self.ctx.store, prefix, cur.eval_progress)
        except StoreError as e:
            log.info(ev.HEARTBEAT_UNKNOWN, job_id=cur.job_id, error=str(e))
            return None
        cur.eval_progress = p
        exited = status in (TrainerStatus.EXITED, TrainerStatus.ABSENT)
        verdict = verdicts.evaluation(p.laps, cur.spec.evaluation.laps, exited, code)
        return lc.Heartbeat(
            f"lap-{p.laps}" if p.laps else None,
            p.mtime,
            p.age_s,
            verdict.finished,
            finished_ok=verdict.ok,
            evidence=verdict.evidence,
        )

    # -- at start: the facts a resume decides on ------------------------------------------
    def finished(self, job_id: str, attempt: int) -> bool:
        """Does the attempt's prefix hold ``.finished``? (False when S3 cannot say.)"""
        try:
            return read_progress(self.ctx.store, model_prefix(job_id, attempt)).finished
        except StoreError:
            return False

    def elapsed_s(self, started_at: str | None) -> float:
        """Seconds since an attempt started, by the wall clock (0 when unknown)."""
        if not started_at:
            return 0.0
        try:
            started = parse_iso(started_at)
        except ValueError:
            return 0.0
        return max(0.0, (self.ctx.clock.wall() - started).total_seconds())
