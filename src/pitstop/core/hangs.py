"""Known hangs, named while the trainer still runs: each well before the stall timeout.

The stall timeout (no new checkpoint for 30 min by default) catches every hang, late. These
signatures catch the known ones within a poll of appearing (REFERENCE.md, "What DeepRacer
users run into"):

- ``sagemaker_exited``: the SageMaker container exited while RoboMaker still runs (it keeps
  evaluating, waiting for a checkpoint that never comes). The drfc backend reads SageMaker
  as the trainer, so its exit is the trainer's exit, seen on the same poll and classified
  with this signature (``failures.classify``); ``detect`` leaves it to that path, since a
  ``docker ps`` a moment after the status read would otherwise turn the crash into a stall;
- ``worker_exited``: with ``DR_WORKERS`` > 1, one RoboMaker worker exited while others run
  (training waits for its rollouts forever);
- ``silent_worker``: with ``DR_WORKERS`` > 1, one RoboMaker worker still runs but stopped
  short of its share of the iteration (DRfC divides ``num_episodes_between_training`` over
  the workers, so each trains as many episodes as worker 0) and has written no episode (its
  ``TrainingMetrics_<idx>.json`` unchanged) while worker 0 ran for longer than N
  training-episode lengths: the same wait, with the worker's container looking healthy. A
  worker that finished its share and waits for the checkpoint is never called silent: that
  wait is SageMaker's (the endless evaluation);
- ``restart_loop``: a container restarting in a loop (docker's ``restarting`` state, or its
  RestartCount at the limit);
- ``endless_evaluation``: evaluation episodes keep coming with no training episode between
  them (SageMaker stuck: rollout worker 0 evaluates ``while new_checkpoint < last + 1``) for
  longer than N training-episode lengths. Measured in the episodes' own simulated time, so
  a slow or busy host does not trip it.

Each is an observation the lifecycle turns into a stop and a restart, the signature named.
Pure: the supervisor reads ``docker ps -a``, ``TrainingMetrics.json`` and the other workers'
metrics files' ETags (``WorkerMark``: which of worker 0's episodes each was last seen
changing after).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import median
from typing import Any

_RECENT_EPISODES = 20  # training episodes whose median length is "an episode length"
_TIMELINE = 200  # worker 0's newest episodes kept to measure another worker's silence by


RESTART_LIMIT = 3  # a container restarted this many times is in a loop


@dataclass(frozen=True)
class Container:
    """One container as ``docker ps -a`` / ``docker inspect`` report it."""

    name: str
    role: str  # sagemaker | robomaker | rl_coach | other
    state: str  # docker's: created, running, restarting, exited, dead, ...
    exit_code: int | None = None
    restarts: int = 0  # docker's RestartCount
    oom_killed: bool = False  # State.OOMKilled

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting")


@dataclass(frozen=True)
class EvaluationTail:
    """The evaluation episodes written after the newest training episode."""

    episodes: int = 0
    seconds: float = 0.0  # their simulated time
    episode_s: float | None = None  # the median length of the recent training episodes
    # worker 0's newest episodes, (metric_time ms, simulated seconds), oldest first
    timeline: tuple[tuple[int, float], ...] = ()
    trained: int = 0  # worker 0's training episodes in the file

    @property
    def newest_ms(self) -> int:
        """When worker 0's newest episode ended (its ``metric_time``); -1: none yet."""
        return self.timeline[-1][0] if self.timeline else -1

    def seconds_after(self, ms: int) -> float:
        """Worker 0's simulated time in the episodes that ended after ``ms``: all it kept
        when ``ms`` is older than them (a worker silent for longer than the timeline)."""
        return sum(s for t, s in self.timeline if t > ms)


@dataclass(frozen=True)
class WorkerMark:
    """Rollout worker ``worker`` (1..): its metrics file's ETag (None: not written yet), the
    training episodes in it, and worker 0's newest episode (``EvaluationTail.newest_ms``)
    when that ETag was first seen."""

    worker: int
    etag: str | None
    episodes: int
    since_ms: int


@dataclass(frozen=True)
class Live:
    """What the running attempt shows each poll."""

    containers: tuple[Container, ...] = ()
    evaluation: EvaluationTail | None = None  # None: not read (an evaluation job, no metrics)
    workers: tuple[WorkerMark, ...] = ()  # the other rollout workers (DR_WORKERS > 1)


@dataclass(frozen=True)
class Hang:
    signature: str
    detail: str

    def describe(self) -> str:
        return f"{self.signature.replace('_', ' ')} ({self.detail})"


def evaluation_tail(rows: Iterable[Mapping[str, Any]]) -> EvaluationTail:
    """Summarise ``TrainingMetrics.json``'s rows (simapp's order: each iteration's training
    episodes, then evaluations until the next checkpoint arrives). Rows without a usable
    phase or time are skipped, never guessed."""
    training: list[float] = []
    timeline: list[tuple[int, float]] = []
    tail_n, tail_s = 0, 0.0
    for row in rows:
        ms = row.get("elapsed_time_in_milliseconds")
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms >= 0:
            continue
        ended = row.get("metric_time")
        if isinstance(ended, int) and not isinstance(ended, bool):
            timeline.append((ended, float(ms) / 1000.0))
        phase = row.get("phase")
        if phase == "training":
            training.append(float(ms) / 1000.0)
            tail_n, tail_s = 0, 0.0
        elif phase == "evaluation":
            tail_n += 1
            tail_s += float(ms) / 1000.0
    recent = training[-_RECENT_EPISODES:]
    length = median(recent) if recent else None
    return EvaluationTail(
        tail_n, tail_s, length if length else None, tuple(timeline[-_TIMELINE:]), len(training)
    )


def training_episodes(rows: Iterable[Mapping[str, Any]]) -> int:
    """The training episodes of a worker's ``TrainingMetrics_<idx>.json`` rows."""
    return sum(1 for row in rows if row.get("phase") == "training")


def mark_workers(
    prev: Iterable[WorkerMark],
    files: Mapping[int, tuple[str | None, int]],
    tail: EvaluationTail | None,
) -> tuple[WorkerMark, ...]:
    """This poll's marks from each worker's (ETag, training episodes): a worker whose file
    is unchanged keeps its mark; a new or changed one is marked at worker 0's newest episode."""
    before = {m.worker: m for m in prev}
    now_ms = tail.newest_ms if tail is not None else -1
    marks = []
    for worker in sorted(files):
        old = before.get(worker)
        etag, episodes = files[worker]
        same = old is not None and old.etag == etag
        marks.append(old if same and old else WorkerMark(worker, etag, episodes, now_ms))
    return tuple(marks)


def container_hang(cs: tuple[Container, ...], restart_limit: int) -> Hang | None:
    """What the containers' states show: a restart loop, SageMaker gone while RoboMaker
    runs, or one RoboMaker worker of several gone. None: nothing known."""
    looping = [
        c for c in cs if c.state == "restarting" or (restart_limit and c.restarts >= restart_limit)
    ]
    if looping:
        c = looping[0]
        return Hang("restart_loop", f"container {c.name} {c.state}, restarted {c.restarts} times")
    sagemaker = [c for c in cs if c.role == "sagemaker"]
    robomaker = [c for c in cs if c.role == "robomaker"]
    if sagemaker and not any(c.running for c in sagemaker) and any(c.running for c in robomaker):
        code = sagemaker[0].exit_code
        return Hang("sagemaker_exited", f"SageMaker exited with code {code}, RoboMaker still runs")
    down = [c for c in robomaker if not c.running]
    if len(robomaker) > 1 and down and len(down) < len(robomaker):
        c = down[0]
        return Hang(
            "worker_exited",
            f"RoboMaker worker {c.name} exited with code {c.exit_code}, "
            f"{len(robomaker) - len(down)} of {len(robomaker)} still run",
        )
    return None


LIVE_SIGNATURES = ("worker_exited", "restart_loop")  # what the containers show a run hangs on


def running_hang(cs: tuple[Container, ...], restart_limit: int = RESTART_LIMIT) -> Hang | None:
    """What the containers show a *running* attempt hangs on (``LIVE_SIGNATURES``)."""
    hang = container_hang(cs, restart_limit)
    return hang if hang is not None and hang.signature in LIVE_SIGNATURES else None


def endless_evaluation(tail: EvaluationTail | None, lengths: float) -> Hang | None:
    """Evaluation for longer than ``lengths`` training-episode lengths (0: never)."""
    if (
        tail is None
        or not tail.episode_s
        or lengths <= 0
        or tail.episodes < 2
        or tail.seconds < lengths * tail.episode_s
    ):
        return None
    return Hang(
        "endless_evaluation",
        f"{tail.episodes} evaluation episodes, {tail.seconds / tail.episode_s:.0f} episode "
        "lengths, with no training episode or checkpoint",
    )


def _quietest_behind(
    tail: EvaluationTail, marks: Iterable[WorkerMark]
) -> tuple[float, WorkerMark] | None:
    """The worker short of worker 0's training episodes that has been quiet longest (the
    others may only be waiting for its rollouts), with its quiet in simulated seconds."""
    behind = [(tail.seconds_after(m.since_ms), m) for m in marks if m.episodes < tail.trained]
    return max(behind, key=lambda qm: qm[0], default=None)


def _silent(quiet: float, mark: WorkerMark, tail: EvaluationTail, episode_s: float) -> Hang:
    what = "no episode yet" if mark.etag is None else "no new episode"
    return Hang(
        "silent_worker",
        f"RoboMaker worker {mark.worker} runs but wrote {what} while worker 0 ran "
        f"{quiet / episode_s:.0f} episode lengths ({mark.episodes} training episodes "
        f"to worker 0's {tail.trained})",
    )


def silent_worker(
    tail: EvaluationTail | None, marks: Iterable[WorkerMark], lengths: float
) -> Hang | None:
    """A worker short of worker 0's training episodes that wrote nothing while worker 0 ran
    ``lengths`` training-episode lengths (0: never). Measured in worker 0's simulated time,
    like the endless evaluation."""
    if tail is None or not tail.episode_s or lengths <= 0:
        return None
    found = _quietest_behind(tail, marks)
    if found is None or found[0] < lengths * tail.episode_s:
        return None
    return _silent(*found, tail, tail.episode_s)


def stuck(live: Live | None, lengths: float) -> Hang | None:
    """What the metrics show a run with no new checkpoint hangs on: a silent worker (the
    cause, named first), or the endless evaluation, which is a silent worker's doing too
    when a worker is still short of its share (SageMaker waits for its episodes)."""
    if live is None:
        return None
    hang = silent_worker(live.evaluation, live.workers, lengths)
    if hang is not None:
        return hang
    hang = endless_evaluation(live.evaluation, lengths)
    tail = live.evaluation
    if hang is None or tail is None or not tail.episode_s:
        return hang
    found = _quietest_behind(tail, live.workers)
    return hang if found is None else _silent(*found, tail, tail.episode_s)


def detect(
    live: Live, *, evaluation_lengths: float, restart_limit: int = RESTART_LIMIT
) -> Hang | None:
    """The first known hang the running attempt shows, or None."""
    return running_hang(live.containers, restart_limit) or stuck(live, evaluation_lengths)
