"""How fast a hung run is stopped: each known hang signature and a plain freeze, at the
default settings (poll 30 s, stall timeout 1800 s, hang_evaluation_lengths 30).

    python benchmarks/hang_detection.py [--trials 1000] [--episode-s 15] [--seed 0]

A simulated clock drives ``pitstop.core.lifecycle.step`` (the function the supervisor calls
each tick) with the observations the supervisor builds (``supervisor/observe.py``): the
trainer running, the heartbeat (the newest checkpoint, its write time and age), and
``hangs.Live``: the containers as ``docker ps -a`` shows them and the evaluation tail that
``hangs.evaluation_tail`` reads from worker 0's ``TrainingMetrics.json`` (re-read only when
the file changed, as the supervisor's ETag cache does).

The simulated trainer runs DeepRacer's iteration: ``--per-iteration`` training episodes,
then evaluation episodes while SageMaker trains (``--train-s``) until the new checkpoint
appears; simapp writes a metrics row at the end of every episode. Episode lengths are
uniform in [0.3, 1.7] x ``--episode-s``. The attempt starts at 0; the hang comes in
iteration 3 to 5, at a uniform random moment of it, and the supervisor's poll grid has a
uniform random phase, so the detection times below cover every phase of a poll.

What "appears" means, per row:

- ``sagemaker_exited``: the SageMaker container exits (RoboMaker goes on evaluating); the
  drfc backend reports it as the trainer's exit, which the lifecycle stops on;
- ``worker_exited``: one of two RoboMaker workers exits (the other goes on);
- ``restart_loop``: a container enters docker's ``restarting`` state (nothing more is written);
- ``silent_worker``: rollout worker 1 (of two; each trains ``--per-iteration`` episodes an
  iteration, written one row per episode to its own file) stops writing mid-rollout, its
  container up; worker 0 finishes its share and evaluates on (SageMaker waits for worker 1).
  Measured from the moment it stops, and from the moment its signature shows (worker 0
  has run ``hang_evaluation_lengths`` episode lengths past worker 1's last row);
- ``endless_evaluation``: SageMaker is stuck (all containers up): measured from the last
  training episode's row, where the evaluation phase that never ends begins (its first
  ``--train-s`` look like a normal evaluation phase); and, on the row below it, from the
  moment its signature shows (the metrics row after which evaluation has gone on for
  longer than ``hang_evaluation_lengths`` training-episode lengths: the issue's "for longer
  than N episode lengths"). The first figure is set by N, the second by the poll;
- ``freeze (stall)``: the trainer freezes (no row, no checkpoint, containers up); only the
  stall timeout can see it: measured from the freeze, so the time since the last checkpoint
  is already spent.

Printed per row: min / median / p99 / max seconds from the appearance to the tick whose
``step`` stops the trainer (``StopTrainer``; SIGTERM then waits at most ``stop_timeout_s``),
the signature the stop named, and whether the issue's goal (<= 120 s) holds at the max. A
second table shows the endless evaluation's detection against the episode length, and
normal iterations are checked for false stops (worker 1 writing as usual: a worker that
finished its share before worker 0 is waiting, never silent).
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pitstop.cli.output import format_table
from pitstop.config import Settings
from pitstop.core import hangs
from pitstop.core import lifecycle as lc
from pitstop.core.hangs import Container
from pitstop.core.records import JobSpec
from pitstop.core.states import JobState
from pitstop.supervisor.context import policy_for

GOAL_S = 120.0
SCENARIOS = (
    "sagemaker_exited",
    "worker_exited",
    "restart_loop",
    "silent_worker",
    "endless_evaluation",
    "freeze (stall)",
)
FROM_SIGNATURE = ("silent_worker", "endless_evaluation")  # measured from N lengths too
RUNNING = ("sagemaker", "robomaker-1", "robomaker-2")


@dataclass
class World:
    """What the trainer wrote by when: metrics rows and checkpoints, each with its time."""

    row_times: list[float] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    training: list[int] = field(default_factory=list)  # indexes of the training rows
    checkpoints: list[tuple[float, str]] = field(default_factory=list)
    worker_times: list[float] = field(default_factory=list)  # rollout worker 1's rows
    onset: float = math.inf
    containers_after: tuple[Container, ...] = ()  # from the onset on

    def episode(self, phase: str, start: float, end: float) -> None:
        """simapp's row at the end of an episode (the fields the hang check reads)."""
        if phase == "training":
            self.training.append(len(self.rows))
        self.row_times.append(end)
        self.rows.append(
            {
                "phase": phase,
                "elapsed_time_in_milliseconds": int(1000 * (end - start)),
                "metric_time": int(1000 * end),
            }
        )

    def tail_at(self, n: int) -> hangs.EvaluationTail:
        """``hangs.evaluation_tail`` of the file's first ``n`` rows. Only the rows from the
        20th-last training episode, and at least the last 200 (the timeline a worker's
        silence is measured on), are passed: the same answer without re-reading hours of
        rows each tick."""
        k = bisect.bisect_left(self.training, n)
        first = min(self.training[max(0, k - 20)] if k else 0, max(0, n - 200))
        return hangs.evaluation_tail(self.rows[first:n])

    def worker_file(self, t: float) -> tuple[str | None, int]:
        """Worker 1's ``TrainingMetrics_1.json`` at ``t``: (its ETag, its training episodes);
        the row count stands for the ETag."""
        rows = bisect.bisect_right(self.worker_times, t)
        return (str(rows) if rows else None), rows

    def worker_mark(self) -> hangs.WorkerMark:
        """Worker 1 marked at its last row, as soon as it was written (no poll's delay)."""
        last = self.worker_times[-1] if self.worker_times else -1.0
        seen = bisect.bisect_right(self.row_times, last)
        since = int(1000 * self.row_times[seen - 1]) if seen else -1
        return hangs.WorkerMark(1, "last", len(self.worker_times), since)


def _containers(state: dict[str, str] | None = None) -> tuple[Container, ...]:
    roles = {"sagemaker": "sagemaker", "robomaker-1": "robomaker", "robomaker-2": "robomaker"}
    state = state or {}
    return tuple(
        Container(
            name,
            roles[name],
            state.get(name, "running"),
            exit_code=1 if state.get(name) == "exited" else None,
        )
        for name in RUNNING
    )


NORMAL = _containers()


def build_world(
    scenario: str | None, rng: random.Random, a: argparse.Namespace, horizon: float
) -> World:
    """DeepRacer's iterations until ``horizon``; with ``scenario``, a hang in iteration 3-5."""
    w = World()
    hang_iteration = rng.randint(3, 5) if scenario else -1
    # restart_loop and a freeze write nothing more from the onset on; the others keep the
    # rollout worker evaluating (SageMaker never delivers the next checkpoint)
    silent = scenario in ("restart_loop", "freeze (stall)")
    quiet_worker = scenario == "silent_worker"  # worker 1 stops; worker 0 ends up evaluating

    def length() -> float:
        return rng.uniform(0.3, 1.7) * a.episode_s

    t, n = 0.0, 0
    while t < horizon:
        n += 1
        start = t
        episodes = []
        for _ in range(a.per_iteration):
            episodes.append((t, t + length()))
            t = episodes[-1][1]
        # rollout worker 1 runs its own share (as many episodes) of the iteration meanwhile
        ends = [start]
        for _ in range(a.per_iteration):
            ends.append(ends[-1] + length())
        ckpt_at = max(t, ends[-1]) + rng.uniform(0.5, 1.5) * a.train_s
        if n == hang_iteration:
            if scenario == "endless_evaluation":
                w.onset = max(t, ends[-1])  # every worker delivered; SageMaker never answers
            elif quiet_worker:  # mid-rollout: SageMaker then waits for its episodes forever
                w.onset = rng.uniform(start, ends[-1])
            else:
                w.onset = rng.uniform(start, ckpt_at)
        cut = w.onset if silent else math.inf
        w.worker_times += [
            e for e in ends[1:] if e <= (w.onset if silent or quiet_worker else math.inf)
        ]
        stuck = not silent and w.onset <= ckpt_at
        for begin, end in episodes:
            if end <= cut:
                w.episode("training", begin, end)
        until = horizon if stuck else ckpt_at
        while t < until:  # evaluation episodes while SageMaker trains (forever when stuck)
            begin, t = t, t + length()
            if t <= cut:
                w.episode("evaluation", begin, t)
        if stuck or t > cut:
            break
        w.checkpoints.append((ckpt_at, f"{n}_Step-{n * 1000}.ckpt"))
    if scenario == "sagemaker_exited":
        w.containers_after = _containers({"sagemaker": "exited"})
    elif scenario == "worker_exited":
        w.containers_after = _containers({"robomaker-2": "exited"})
    elif scenario == "restart_loop":
        w.containers_after = _containers({"robomaker-1": "restarting"})
    else:
        w.containers_after = NORMAL
    return w


def detect(
    w: World, policy: lc.Policy, poll_s: float, phase: float, horizon: float
) -> tuple[float, str] | None:
    """Drive ``step`` at the supervisor's ticks: (time of the stop, its reason), or None."""
    run, _ = lc.step(
        lc.claimed_run(JobState.PENDING, attempts=0, restarts=0, reboots=0, trained_s=0.0),
        lc.Observation(lc.TrainerStatus.ABSENT),
        0.0,
        policy,
    )
    ckpt_times = [c[0] for c in w.checkpoints]
    rows_seen, tail = -1, None
    marks: tuple[hangs.WorkerMark, ...] = ()
    k = 0
    while True:
        t = phase + k * poll_s
        k += 1
        if t > horizon:
            return None
        i = bisect.bisect_right(ckpt_times, t)
        if i:
            at, name = w.checkpoints[i - 1]
            hb = lc.Heartbeat(name, at, t - at)
        else:  # simapp's initial checkpoint, saved at the start
            hb = lc.Heartbeat("0_Step-0.ckpt", 0.0, t, initial=True)
        rows = bisect.bisect_right(w.row_times, t)
        if rows != rows_seen:  # the file's ETag changed: read it again
            rows_seen = rows
            tail = w.tail_at(rows) if rows else None
        marks = hangs.mark_workers(marks, {1: w.worker_file(t)}, tail)
        containers = w.containers_after if t >= w.onset else NORMAL
        # the drfc backend reads SageMaker as the trainer: its exit is the trainer's
        gone = t >= w.onset and any(
            c.role == "sagemaker" and not c.running for c in w.containers_after
        )
        status = lc.TrainerStatus.EXITED if gone else lc.TrainerStatus.RUNNING
        obs = lc.Observation(
            status,
            1 if gone else None,
            hb,
            live=None if gone else hangs.Live(containers, tail, marks),
        )
        run, actions = lc.step(run, obs, t, policy)
        if any(isinstance(x, (lc.StopTrainer, lc.EndAttempt)) for x in actions):
            return t, run.reason or run.stop_reason or ""


def signature_of(reason: str) -> str:
    names = ("sagemaker exited", "worker exited", "restart loop", "silent worker", "endless evaluation")  # fmt: skip
    for name in names:
        if name in reason:
            return name.replace(" ", "_")
    if "trainer exited" in reason:
        return "trainer_exit"  # SageMaker's exit, as the drfc backend reports it
    return "stall timeout" if "no new checkpoint" in reason else reason[:40]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def signature_shows(w: World, policy: lc.Policy) -> float:
    """When a metrics signature appears: the write of worker 0's first metrics row after
    which its evaluation tail (or worker 1's silence: worker 1 marked at its last row) is
    longer than ``hang_evaluation_lengths`` episodes."""
    start = bisect.bisect_right(w.row_times, w.onset)
    mark = (w.worker_mark(),)
    for n in range(max(1, start), len(w.rows) + 1):
        live = hangs.Live((), w.tail_at(n), mark)
        if hangs.detect(live, evaluation_lengths=policy.hang_evaluation_lengths):
            return w.row_times[n - 1]
    return math.inf


def measure(
    scenario: str,
    a: argparse.Namespace,
    policy: lc.Policy,
    poll_s: float,
    *,
    from_signature: bool = False,
) -> tuple[list[float], set[str], int]:
    """Detection times of ``trials`` hangs: from the hang's onset, or (``from_signature``,
    the endless evaluation) from the moment its signature shows in the metrics."""
    rng = random.Random(f"{a.seed}/{scenario}/{a.episode_s}")
    times: list[float] = []
    named: set[str] = set()
    missed = 0
    horizon = 6 * (a.per_iteration * a.episode_s + a.train_s) + policy.stall_timeout_s * 1.5
    for _ in range(a.trials):
        w = build_world(scenario, rng, a, horizon)
        found = detect(w, policy, poll_s, rng.uniform(0, poll_s), horizon)
        if found is None or found[0] < w.onset:
            missed += 1  # never stopped, or stopped before the hang (a false stop)
            continue
        shown = signature_shows(w, policy) if from_signature else w.onset
        times.append(found[0] - shown)
        named.add(signature_of(found[1]))
    return times, named, missed


def row(name: str, times: list[float], named: set[str], missed: int) -> list[object]:
    if not times:
        return [name, "-", "-", "-", "-", ", ".join(sorted(named)), missed, "no"]
    worst = max(times)
    return [
        name,
        f"{min(times):.0f}",
        f"{statistics.median(times):.0f}",
        f"{pct(times, 99):.0f}",
        f"{worst:.0f}",
        ", ".join(sorted(named)),
        missed,
        "yes" if worst <= GOAL_S and not missed else "no",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=1000, help="hangs per row (1000)")
    ap.add_argument("--episode-s", type=float, default=15.0, help="mean episode length (15 s)")
    ap.add_argument("--per-iteration", type=int, default=20, help="training episodes (20)")
    ap.add_argument("--train-s", type=float, default=90.0, help="SageMaker's training (90 s)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    started = time.perf_counter()
    settings = Settings.model_construct(bucket="hang-detection")  # the defaults, no env
    spec = JobSpec(id="hang-detection-0000000000", name="bench", submitted_at="x")
    policy = policy_for(settings, spec)
    poll_s = settings.poll_interval_s
    print(
        f"defaults: poll {poll_s:g} s, stall timeout {policy.stall_timeout_s:g} s, "
        f"hang_evaluation_lengths {policy.hang_evaluation_lengths:g}; "
        f"{a.trials} hangs per row, episodes {a.episode_s:g} s (mean), "
        f"{a.per_iteration} per iteration, SageMaker training {a.train_s:g} s"
    )
    print("seconds from the hang's appearance to the stop (the tick whose step stops it)")
    table = []
    for scenario in SCENARIOS:
        times, named, missed = measure(scenario, a, policy, poll_s)
        table.append(row(scenario, times, named, missed))
        if scenario in FROM_SIGNATURE:
            times, named, missed = measure(scenario, a, policy, poll_s, from_signature=True)
            label = f"  from its signature ({policy.hang_evaluation_lengths:g} lengths)"
            table.append(row(label, times, named, missed))
    head = ["hang", "min", "median", "p99", "max", "stopped as", "missed", "<= 120 s"]
    print(format_table(head, table))

    print()
    print("endless evaluation against the episode length (its threshold is in episode lengths)")
    lengths_table = []
    for ep in (5.0, 10.0, 15.0, 20.0, 30.0):
        b = argparse.Namespace(**{**vars(a), "episode_s": ep, "trials": max(200, a.trials // 4)})
        times, named, missed = measure("endless_evaluation", b, policy, poll_s)
        # the largest hang_evaluation_lengths whose worst case still fits 120 s: a poll and
        # an episode's write on top of the threshold
        fits = max(0.0, (GOAL_S - poll_s - 1.7 * ep) / ep)
        lengths_table.append([*row(f"{ep:g} s episodes", times, named, missed)[:5], f"{fits:.1f}"])
    print(
        format_table(
            ["episodes", "min", "median", "p99", "max", "lengths for 120 s"], lengths_table
        )
    )

    print()
    runs = max(50, a.trials // 20)
    hours = 30 * (a.per_iteration * a.episode_s + a.train_s)
    print(
        f"endless evaluation by hang_evaluation_lengths ({a.episode_s:g} s episodes), and false "
        f"stops in normal training ({runs} runs of {hours / 3600:.1f} h, no hang)"
    )
    by_length = []
    for lengths in (5.0, 10.0, 15.0, 20.0, 30.0):
        p = replace(policy, hang_evaluation_lengths=lengths)
        times, named, missed = measure("endless_evaluation", a, p, poll_s)
        rng = random.Random(f"{a.seed}/normal")
        false_stops = 0
        for _ in range(runs):
            w = build_world(None, rng, a, hours)
            if detect(w, p, poll_s, rng.uniform(0, poll_s), hours) is not None:
                false_stops += 1
        cells = row(f"{lengths:g}", times, named, missed)
        by_length.append([*cells[:5], false_stops, cells[7] if not false_stops else "no"])
    head = ["lengths", "min", "median", "p99", "max", "false stops", "<= 120 s"]
    print(format_table(head, by_length))
    print(f"total time: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
