"""Did an attempt succeed? The training and evaluation verdicts, as pure rules.

simapp uploads ``model/.finished`` from a ``finally:`` block (REFERENCE.md section 1), so the
marker alone is no proof. The supervisor reads the facts (``store.metrics``: the episodes
trained; ``evaluation.progress``: the laps recorded; the trainer's exit) and these rules
judge them; the lifecycle acts on the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Evidence:
    """What the model prefix says about how far a training run got."""

    episodes: int | None  # training episodes in the metrics files; None: none readable
    target: int  # the job's term_cond_max_episodes

    @property
    def complete(self) -> bool:
        return self.episodes is not None and self.episodes >= self.target

    def describe(self) -> str:
        got = "no readable TrainingMetrics.json" if self.episodes is None else self.episodes
        return f"{got} of {self.target} training episodes"


@dataclass(frozen=True)
class Verdict:
    """``finished``: the attempt is over by its own account; ``ok`` then says whether it
    succeeded (False: a crash); ``evidence``: what the verdict rests on, for the reason."""

    finished: bool
    ok: bool | None = None
    evidence: str = ""


NOT_YET = Verdict(False)


def finished_ok(evidence: Evidence, exited: bool, exit_code: int | None) -> bool | None:
    """Did a run that wrote ``.finished`` succeed? None: cannot tell yet (still running).

    Enough training episodes prove it; otherwise the trainer's exit decides: 0 is a
    success, anything else (or an exit whose code is unknown) is a crash.
    """
    if evidence.complete:
        return True
    if not exited:
        return None
    return exit_code == 0


def training(evidence: Evidence, exited: bool, exit_code: int | None) -> Verdict:
    """A training attempt whose prefix holds ``.finished``. While the trainer still runs and
    the episodes fall short, it is not finished yet (simapp may still be uploading)."""
    ok = finished_ok(evidence, exited, exit_code)
    if ok is None:
        return NOT_YET
    how = f"trainer exit code {exit_code}" if exited else "trainer still running"
    return Verdict(True, ok, f"{evidence.describe()}, {how}")


def evaluation(laps: int, needed: int, exited: bool, exit_code: int | None) -> Verdict:
    """An evaluation finished when its trainer exited with every lap recorded; then its exit
    code says whether it succeeded. Exited short of the laps: not finished (a crash, and it
    runs again); still running: not finished."""
    if not (exited and laps >= needed):
        return NOT_YET
    return Verdict(
        True,
        exit_code in (0, None),
        f"{laps} of {needed} laps recorded, trainer exit code {exit_code}",
    )


def is_interruption(kind: str, rebalance_is_notice: bool) -> bool:
    """A spot notice to act on (stop, hand the job back) rather than one to record: an
    interruption always; a rebalance recommendation only when the settings say so."""
    return kind == "interruption" or rebalance_is_notice
