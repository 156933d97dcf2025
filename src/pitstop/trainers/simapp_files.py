"""What simapp writes, for the simulated trainer: simtrace CSVs, TrainingMetrics rows and
``ip/hyperparameters.json`` (pure, but for the track's waypoints).

The formats are simapp v6.0.4's, as deepracer-utils reads them (issue 25's research,
sections 1 and 3):

- simtrace: ``StepMetrics``' 19 columns in order, a header, then one row per step written
  with ``str(value)``; each episode starts with a ``prepare`` row and its last row has
  ``done=True`` and a terminal status; ``episode`` counts the process's finished training
  episodes (0, 1, ...); in an evaluation it counts the laps completed;
- TrainingMetrics.json: ``{"metrics": [...], "version": 2.0, "best_model_metric":
  "progress"}``, rows of nine fields, ints where simapp writes ints (``reward_score`` is
  ``int(round(reward))``, ``completion_percentage`` ``int(progress)``, times in simulation
  milliseconds); ``episode`` and ``trial`` count training episodes only, so an evaluation row
  keeps the last training episode's (simapp's "evaluate until a new checkpoint");
- ``ip/hyperparameters.json``: ``json.dumps(params, indent=2, sort_keys=True)`` of the PPO
  (or SAC) keys, the job's values where given, DRfC's defaults otherwise.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pitstop.action_space.hyperparameter_specs import SPEC_BY_KEY

# bundle/markov/metrics/constants.py StepMetrics, v6.0.4 (v5.3.3 lacks wall_clock)
SIMTRACE_COLUMNS = (
    "episode",
    "steps",
    "X",
    "Y",
    "yaw",
    "steer",
    "throttle",
    "action",
    "reward",
    "done",
    "all_wheels_on_track",
    "progress",
    "closest_waypoint",
    "track_len",
    "tstamp",
    "episode_status",
    "pause_duration",
    "obstacle_crash_counter",
    "wall_clock",
)
METRICS_FIELDS = (
    "reward_score",
    "metric_time",
    "start_time",
    "elapsed_time_in_milliseconds",
    "episode",
    "trial",
    "phase",
    "completion_percentage",
    "episode_status",
)
# simapp's episode_status values (simtrace) -> their TrainingMetrics labels
STATUS_LABELS = {
    "prepare": "Prepare",
    "in_progress": "In progress",
    "lap_complete": "Lap complete",
    "off_track": "Off track",
    "crashed": "Crashed",
    "immobilized": "Immobilized",
    "time_up": "Time Up",
    "reversed": "Reversed",
    "pause": "Pause",
    "park": "Park",
}
METRICS_VERSION = 2.0
BEST_MODEL_METRIC = "progress"
LAP_STEPS = 20  # simtrace rows of a full lap: the track sampled coarsely, not 15 steps a second
RESET_MS = 500  # simulation time between one episode's end and the next one's start

# sagemaker_graph_manager: every algorithm's keys, then clipped_ppo's or sac's own
_COMMON = (
    "batch_size",
    "stack_size",
    "lr",
    "exploration_type",
    "e_greedy_value",
    "epsilon_steps",
    "discount_factor",
    "loss_type",
    "num_episodes_between_training",
    "term_cond_max_episodes",
    "term_cond_avg_score",
)
_OWN = {"clipped_ppo": ("beta_entropy", "num_epochs"), "sac": ("sac_alpha",)}
_INTS = {"batch_size", "stack_size", "epsilon_steps", "num_episodes_between_training"}
_INTS |= {"term_cond_max_episodes", "num_epochs"}
_LOWER = {"exploration_type", "loss_type"}


def hyperparameters_json(given: dict[str, Any], algorithm: str = "clipped_ppo") -> str:
    """``ip/hyperparameters.json`` as simapp's trainer writes it: ``given`` (the job's file)
    where its value has the right type, DRfC's default otherwise."""
    keys = _COMMON + _OWN.get(algorithm.lower(), _OWN["clipped_ppo"])
    out: dict[str, Any] = {}
    for key in keys:
        default = SPEC_BY_KEY[key].default
        value = given.get(key, default)
        try:
            if key in _LOWER:
                out[key] = str(value).lower()
            elif key in _INTS:
                out[key] = int(value)
            else:
                out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = default
    return json.dumps(out, indent=2, sort_keys=True)


def metrics_json(rows: list[dict[str, Any]]) -> str:
    """The whole TrainingMetrics.json, rewritten after every episode."""
    return json.dumps(
        {"metrics": rows, "version": METRICS_VERSION, "best_model_metric": BEST_MODEL_METRIC}
    )


def simtrace_csv(rows: Sequence[Sequence[object]]) -> str:
    """A simtrace file: the header, then each row's values as ``str(value)``."""
    lines = [",".join(SIMTRACE_COLUMNS)]
    lines += [",".join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


# -- the car --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actions:
    """The action space as the simtrace writes it: discrete (steer, speed) pairs, or the
    continuous ranges."""

    discrete: tuple[tuple[float, float], ...] = ()
    steer: tuple[float, float] = (-30.0, 30.0)
    speed: tuple[float, float] = (0.5, 1.0)

    @property
    def mean_speed(self) -> float:
        if self.discrete:
            return sum(s for _, s in self.discrete) / len(self.discrete)
        return (self.speed[0] + self.speed[1]) / 2

    def pick(self, rng: random.Random) -> tuple[float, float, int | str]:
        """(steer, throttle, action): the action's index when discrete, ``"[s t]"`` when
        continuous (deepracer-utils then reads ``action`` as -1)."""
        if self.discrete:
            i = rng.randrange(len(self.discrete))
            return self.discrete[i][0], self.discrete[i][1], i
        steer = round(rng.uniform(*self.steer), 2)
        throttle = round(rng.uniform(*self.speed), 2)
        return steer, throttle, f"[{steer} {throttle}]"


DRFC_ACTIONS = Actions(tuple((a, 0.6) for a in (-30.0, -15.0, 0.0, 15.0, 30.0)))


def actions_of(metadata: dict[str, Any]) -> Actions:
    """A model_metadata.json's actions; DRfC's default space when it names none usable."""
    space = metadata.get("action_space")
    try:
        if isinstance(space, list) and space:
            pairs = tuple((float(a["steering_angle"]), float(a["speed"])) for a in space)
            if all(s > 0 for _, s in pairs):
                return Actions(pairs)
        if isinstance(space, dict):
            st, sp = space["steering_angle"], space["speed"]
            steer = (float(st["low"]), float(st["high"]))
            speed = (float(sp["low"]), float(sp["high"]))
            if 0 < speed[0] <= speed[1] and steer[0] <= steer[1]:
                return Actions(steer=steer, speed=speed)
    except (KeyError, TypeError, ValueError):
        pass
    return DRFC_ACTIONS


# -- the track ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Course:
    """A track's centre line (a loop: the last point is not the first again) and length."""

    points: tuple[tuple[float, float], ...]
    length: float

    def at(self, index: float) -> tuple[float, float, float]:
        """(x, y, yaw in degrees) at a fractional waypoint index, going round the loop."""
        n = len(self.points)
        i = math.floor(index) % n
        f = index - math.floor(index)
        (x0, y0), (x1, y1) = self.points[i], self.points[(i + 1) % n]
        yaw = math.degrees(math.atan2(y1 - y0, x1 - x0))
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0), yaw


def load_course(world: str, fallback: str = "reInvent2019_track") -> Course:
    """The bundled waypoints of ``world`` (``fallback``'s when pitstop does not bundle it)."""
    from pitstop import tracks  # numpy: loaded once per process, off the start path
    from pitstop.errors import InvalidInput

    try:
        track = tracks.load(world)
    except InvalidInput:
        track = tracks.load(fallback)
    centre = [(float(x), float(y)) for x, y in track.centre]
    if track.is_loop and len(centre) > 3:
        centre = centre[:-1]
    return Course(tuple(centre), float(track.length))


# -- training episodes ----------------------------------------------------------------------
@dataclass
class Clock:
    """The process's simulation time (ms) and its finished training episodes."""

    ms: int = 27_000
    episodes: int = 0  # finished training episodes: the simtrace's ``episode``
    trial: int = 0  # training episodes of the current training phase


@dataclass(frozen=True)
class Outcome:
    progress: float  # percent of the lap driven
    status: str  # simapp's terminal episode_status


def outcome(rng: random.Random, skill: int) -> Outcome:
    """How a training episode ends: more laps complete as training goes on."""
    if rng.random() < min(0.9, 0.12 * skill):
        return Outcome(100.0, "lap_complete")
    return Outcome(round(rng.uniform(2.0, min(99.0, 8.0 + 10.0 * skill)), 4), "off_track")


def episode_rows(
    course: Course,
    actions: Actions,
    rng: random.Random,
    *,
    episode: int,
    start: float,
    start_ms: int,
    end: Outcome,
    wall: Callable[[], float],
    first_step: int = 1,
) -> tuple[list[list[object]], float, int]:
    """One episode's simtrace rows from waypoint ``start``: a ``prepare`` row, then the car
    along the centre line to ``end.progress``; the last row ``done`` with ``end.status``.
    Returns the rows, the reward and the elapsed simulation ms."""
    moves = max(1, math.ceil(LAP_STEPS * end.progress / 100.0))
    n = len(course.points)
    driven = course.length * end.progress / 100.0
    elapsed_ms = max(200, round(1000 * driven / actions.mean_speed))
    rows: list[list[object]] = []
    total = 0.0
    for j in range(moves + 1):
        last = j == moves
        progress = end.progress * j / moves
        index = start + n * progress / 100.0
        x, y, yaw = course.at(index)
        steer, throttle, action = actions.pick(rng)
        status = "prepare" if j == 0 else end.status if last else "in_progress"
        on_track = not (last and end.status == "off_track")
        reward = 0.0 if j == 0 else 0.001 if not on_track else round(rng.uniform(0.5, 1.5), 4)
        total += reward
        rows.append(
            [
                episode,
                first_step + j,
                round(x, 4),
                round(y, 4),
                round(yaw, 4),
                steer,
                throttle,
                action,
                reward,
                last,
                on_track,
                round(progress, 4),
                round(index) % n,
                round(course.length, 2),
                round((start_ms + elapsed_ms * j / moves) / 1000.0, 3),
                status,
                0.0,
                0,
                round(wall(), 4),
            ]
        )
    return rows, total, elapsed_ms


def metrics_row(
    *,
    reward: float,
    start_ms: int,
    elapsed_ms: int,
    episode: int,
    trial: int,
    phase: str,
    progress: float,
    status: str,
) -> dict[str, Any]:
    """One TrainingMetrics.json row, typed as simapp's ``s3_metrics.TrainingMetrics``."""
    return {
        "reward_score": round(reward),  # int(round(reward))
        "metric_time": int(start_ms + elapsed_ms),
        "start_time": int(start_ms),
        "elapsed_time_in_milliseconds": int(elapsed_ms),
        "episode": int(episode),
        "trial": int(trial),
        "phase": phase,
        "completion_percentage": int(progress),
        "episode_status": STATUS_LABELS[status],
    }


def iteration(
    course: Course,
    actions: Actions,
    rng: random.Random,
    clock: Clock,
    *,
    episodes: int,
    evaluations: int,
    skill: int,
    wall: Callable[[], float],
) -> tuple[list[list[object]], list[dict[str, Any]]]:
    """One iteration of a rollout worker: ``episodes`` training episodes (simtrace rows and
    metrics rows), then ``evaluations`` evaluation episodes (metrics rows only, keeping the
    last training episode and trial). Advances ``clock``."""
    trace: list[list[object]] = []
    rows: list[dict[str, Any]] = []
    clock.trial = 0
    n = len(course.points)
    for _ in range(episodes):
        end = outcome(rng, skill)
        start = (clock.episodes * 0.05 % 1.0) * n  # DRfC's round robin, 5 % of the lap on
        ep_rows, reward, elapsed = episode_rows(
            course, actions, rng, episode=clock.episodes, start=start, start_ms=clock.ms,
            end=end, wall=wall,
        )  # fmt: skip
        trace += ep_rows
        clock.episodes += 1
        clock.trial += 1
        rows.append(
            metrics_row(
                reward=reward, start_ms=clock.ms, elapsed_ms=elapsed, episode=clock.episodes,
                trial=clock.trial, phase="training", progress=end.progress, status=end.status,
            )
        )  # fmt: skip
        clock.ms += elapsed + RESET_MS
    for _ in range(evaluations):
        rows.append(evaluation_row(rng, clock, skill, course, actions))
    return trace, rows


def evaluation_row(
    rng: random.Random, clock: Clock, skill: int, course: Course, actions: Actions
) -> dict[str, Any]:
    """An evaluation episode's TrainingMetrics row (the checkpoint evaluated while the next
    one trains): the last training ``episode`` and ``trial``. Advances ``clock``."""
    end = outcome(rng, skill + 1)
    elapsed = max(200, round(1000 * course.length * end.progress / 100.0 / actions.mean_speed))
    reward = sum(rng.uniform(0.5, 1.5) for _ in range(LAP_STEPS)) * end.progress / 100.0
    row = metrics_row(
        reward=reward, start_ms=clock.ms, elapsed_ms=elapsed, episode=clock.episodes,
        trial=clock.trial, phase="evaluation", progress=end.progress, status=end.status,
    )  # fmt: skip
    clock.ms += elapsed + RESET_MS
    return row


# -- an evaluation --------------------------------------------------------------------------
@dataclass(frozen=True)
class LapRun:
    """One evaluation lap, as the simtrace needs it."""

    time_ms: int
    completion: float  # percent
    off_tracks: int
    complete: bool


def evaluation_trace(
    course: Course,
    actions: Actions,
    rng: random.Random,
    laps: Sequence[LapRun],
    *,
    start_ms: int,
    wall: Callable[[], float],
) -> list[list[object]]:
    """A continuous evaluation's simtrace (``evaluation-simtrace/0-iteration.csv``): one
    ``prepare`` row, then every lap with ``episode`` = the laps completed before it and
    ``steps`` counting on; an off-track is a row with the car off the track (reset, the lap
    goes on); the last row is ``done`` with ``lap_complete`` or ``off_track``."""
    n = len(course.points)
    step, t = 1, float(start_ms)
    x, y, yaw = course.at(0.0)
    steer, throttle, action = actions.pick(rng)
    rows: list[list[object]] = [
        [0, step, round(x, 4), round(y, 4), round(yaw, 4), steer, throttle, action, 0.0,
         False, True, 0.0, 0, round(course.length, 2), round(t / 1000, 3), "prepare", 0.0, 0,
         round(wall(), 4)]
    ]  # fmt: skip
    for k, lap in enumerate(laps):
        moves = max(1, math.ceil(LAP_STEPS * lap.completion / 100.0))
        offs = sorted(rng.randrange(1, moves + 1) for _ in range(lap.off_tracks))
        final = k == len(laps) - 1
        lap_start = t
        for j in range(1, moves + 1):
            last = j == moves
            progress = lap.completion * j / moves
            index = n * progress / 100.0
            x, y, yaw = course.at(index)
            steer, throttle, action = actions.pick(rng)
            off = j in offs or (last and not lap.complete)
            status = "in_progress"
            if off:
                status = "off_track"
            elif last and final:
                status = "lap_complete"
            step += 1
            t = lap_start + lap.time_ms * j / moves
            rows.append(
                [k, step, round(x, 4), round(y, 4), round(yaw, 4), steer, throttle, action,
                 0.001 if off else round(rng.uniform(0.5, 1.5), 4), last and final, not off,
                 round(progress, 4), round(index) % n, round(course.length, 2),
                 round(t / 1000, 3), status, 0.0, 0, round(wall(), 4)]
            )  # fmt: skip
    return rows
