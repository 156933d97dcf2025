"""An evaluation job on DRfC (``dr-start-evaluation``): what ``run.env`` says, and how the
stack's state maps to the trainer port's status. Pure; ``drfc.py`` does the calls.

What DRfC does with it (its ``scripts/evaluation/{start,stop}.sh`` and ``prepare-config.py``,
v5.3.3 and v6.0.4; issue 25's research, section 6):

- ``dr-start-evaluation -q`` uploads the evaluation yaml to the model prefix and deploys stack
  ``deepracer-eval-$DR_RUN_ID``: ``rl_coach`` (echoes and exits at once) and ``robomaker``
  (simapp's evaluation worker); without ``-q`` it tails the logs forever. In swarm mode it
  refuses to start while the stack has any task, a Complete one too: ``dr-stop-evaluation``
  goes first.
- The worker evaluates ``DR_EVAL_CHECKPOINT`` (``best``/``last``) of
  ``DR_LOCAL_S3_MODEL_PREFIX``: the supervisor staged the chosen checkpoint into the attempt's
  own prefix as both, so ``last`` is exactly it. It writes the metrics file
  ``$DR_LOCAL_S3_METRICS_PREFIX/evaluation/evaluation-<stamp>.json`` after every lap (with
  the prefix ``<model prefix>/metrics``, the key pitstop's ``ModelKeys.evaluation_metrics``
  reads) and the simtrace ``<model prefix>/evaluation-<stamp>/evaluation-simtrace/`` at its
  end, then exits 0: the robomaker container ends; under swarm the stack stays until
  ``dr-stop-evaluation``.
- The collision penalty is read from ``DR_COLLISION_PENALTY`` (not the template's
  ``DR_EVAL_COLLISION_PENALTY``); a job has no collision penalty, so DRfC's 5.0 applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pitstop.core.records import Evaluation
from pitstop.core.states import TrainerStatus

START = "dr-start-evaluation -q"  # -q: no log tail (which never ends)
STOP = "dr-stop-evaluation"
LIVE_TASK = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")


def stack_name(run_id: str) -> str:
    """DRfC's evaluation stack (swarm) or compose project: ``deepracer-eval-$DR_RUN_ID``."""
    return f"deepracer-eval-{run_id}"


def eval_keys(ev: Evaluation) -> dict[str, str]:
    """The ``DR_EVAL_*`` keys of ``run.env`` for ``ev`` (values in envfile's grammar)."""
    return {
        "DR_EVAL_NUMBER_OF_TRIALS": str(ev.laps),
        "DR_EVAL_IS_CONTINUOUS": str(ev.continuous),
        "DR_EVAL_MAX_RESETS": str(ev.max_resets),
        "DR_EVAL_OFF_TRACK_PENALTY": f"{ev.off_track_penalty_s:g}",
        "DR_EVAL_REVERSE_DIRECTION": str(ev.reverse),
        # the staged copy names the chosen checkpoint as both best and last
        "DR_EVAL_CHECKPOINT": "last",
        "DR_EVAL_SAVE_MP4": "False",
    }


@dataclass(frozen=True)
class Seen:
    """One container of the evaluation stack, as ``docker ps -a`` shows it."""

    name: str
    running: bool
    exit_code: int | None = None  # when exited (``docker inspect``), else None


def is_robomaker(name: str, stack: str) -> bool:
    """swarm ``<stack>_robomaker.1.<task>``, compose ``<stack>-robomaker-1``."""
    return name.startswith((f"{stack}_robomaker.", f"{stack}-robomaker-"))


def in_stack(name: str, stack: str) -> bool:
    return name.startswith((f"{stack}_", f"{stack}-"))


def status(
    robomaker: Sequence[Seen],
    tasks: Sequence[tuple[str, str, str]] | None,
    swarm: bool,
) -> tuple[TrainerStatus, int | None]:
    """The evaluation's status once ``dr-start-evaluation`` returned 0: RUNNING while the
    robomaker container runs (or its task is still scheduled), EXITED with its exit code
    when it ended, EXITED without one when it never ran (``tasks`` is None when swarm did
    not answer: unknown, so RUNNING)."""
    if any(c.running for c in robomaker):
        return TrainerStatus.RUNNING, None
    if robomaker:
        return TrainerStatus.EXITED, robomaker[0].exit_code
    if swarm:
        if tasks is None:
            return TrainerStatus.RUNNING, None
        ours = [t for t in tasks if "_robomaker." in t[0]]
        if any(state in LIVE_TASK for _, state, _ in ours):
            return TrainerStatus.RUNNING, None
    return TrainerStatus.EXITED, None
