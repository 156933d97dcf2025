"""Evaluating a speed scale on the fleet: evaluation jobs submitted, waited for, read back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pitstop.core.records import Evaluation
from pitstop.errors import StoreError
from pitstop.evaluation.jobs import evaluation_spec, read_results, submit_evaluation
from pitstop.evaluation.tune import Candidate
from pitstop.store.jobs import JobStore

WAITING_LINE_S = 15.0  # a line this often while a candidate's evaluations are not done


def _waiting_line(scale: float, n: int, states: dict[str, str]) -> str:
    """What a candidate waits for; all still pending means no supervisor has claimed them."""
    counts: dict[str, int] = {}
    for s in states.values():
        counts[s] = counts.get(s, 0) + 1
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "reading"
    hint = ""
    if states and set(states.values()) == {"pending"}:
        hint = "; none claimed yet: is a supervisor running on this bucket (pitstop supervise)?"
    return f"scale {scale:g}: waiting for {len(states)} of {n} evaluation(s) ({shown}){hint}"


def fleet_evaluator(
    jobs: JobStore,
    base: Evaluation,
    world: str,
    *,
    name: str,
    simulation: dict[str, Any] | None = None,
    poll_s: float = 10.0,
    timeout_s: float | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Callable[[float, int], Candidate]:
    """``evaluate(scale, n)``: n evaluation jobs of ``base`` at ``scale``, run in parallel
    by whatever instances serve the queue. Job ids follow from the name, the scale and the
    repetition, so running the same tune again reuses what already ran."""

    def evaluate(scale: float, n: int) -> Candidate:
        ids = []
        for i in range(n):
            ev = base.model_copy(update={"speed_scale": scale})
            spec = evaluation_spec(
                f"{name}-x{scale:g}-{i + 1}",
                world,
                ev,
                source="tune",
                simulation=simulation,
                run=f"{i + 1}",
            )
            submit_evaluation(jobs, spec)
            ids.append(spec.id)
        progress(f"scale {scale:g}: {n} evaluation(s) queued ({', '.join(ids)})")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        waiting = set(ids)
        said = time.monotonic()
        while waiting:
            states: dict[str, str] = {}
            for job_id in sorted(waiting):
                try:
                    state, _ = jobs.status(job_id)
                except StoreError:
                    continue
                if state.state.is_terminal():
                    waiting.discard(job_id)
                else:
                    states[job_id] = state.state.value
            if waiting and time.monotonic() - said >= WAITING_LINE_S:
                said = time.monotonic()
                progress(_waiting_line(scale, len(ids), states))
            if waiting:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"evaluations still running: {', '.join(sorted(waiting))}")
                time.sleep(poll_s)
        bests: list[int | None] = []
        laps = off = 0
        for job_id in ids:
            try:
                res = read_results(jobs, job_id)
            except StoreError:  # failed or cancelled: no lap from it
                bests.append(None)
                continue
            bests.append(res.summary.best_ms)
            laps += res.summary.laps
            off += res.summary.off_tracks
        return Candidate(scale, bests, laps, off, ids)

    return evaluate
