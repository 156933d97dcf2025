"""The simulated DeepRacer trainer process (``python -m pitstop.trainers.simulated_run``).

It follows simapp's semantics (REFERENCE.md section 1) under ``$PITSTOP_MODEL_PREFIX``, at
the pace of the job's ``simulation`` block:

- at start, what DRfC writes (training params, reward function, ``ip/``, metadata), then the
  *initial* checkpoint, at once: the model as loaded (``0_Step-0.ckpt`` for a fresh run, the
  pretrained checkpoint's own name when resuming), before any episode;
- per iteration: the checkpoint in DRfC's upload order (``.lock``, ckpt files,
  ``.coach_checkpoint``, ``model_N.pb``, delete ``.lock``), then that iteration's episodes in
  ``metrics/TrainingMetrics.json`` (``num_episodes_between_training`` training episodes from
  the job's hyperparameters, then evaluation episodes), its simtrace
  ``training-simtrace/{n}-iteration.csv`` (``n`` from 0 in every run, whatever checkpoint it
  resumed from; with ``simulation.workers`` > 1 each worker's share in its own
  ``W/training-simtrace/``, worker 0's too, as simapp writes them), then ``deepracer_checkpoints.json`` (best/last), which simapp writes after
  the evaluation; the last 4 checkpoints plus the best are kept. The files are simapp's
  formats (``simapp_files``), the rows written at once: the pace is the checkpoint interval;
- trained checkpoints are numbered 1..checkpoints over the whole job, continuing from the
  pretrained one (``$PITSTOP_PRETRAINED_CHECKPOINT``: a name, or ``last``/``best`` resolved
  like simapp from ``deepracer_checkpoints.json``, falling back to ``.coach_checkpoint``;
  every file of it must be present); after the last one it writes ``model/.finished`` and
  exits 0.

Faults (the ``simulation.faults`` list; ``attempt`` unset = every attempt; ``after_checkpoint``
counts the attempt's trained checkpoints): ``freeze`` (keeps rewriting TrainingMetrics.json
with evaluation rows, like the known "endless evaluation" hang; every row stays complete; an
evaluation's freeze writes nothing more), ``crash`` with an exit code, ``exception``
(raised while the next checkpoint is evaluated: that checkpoint is uploaded but
``deepracer_checkpoints.json`` still names the one before, which is what ``last`` resumes
from; ``model/.finished`` is written all the same, as simapp's ``finally:`` does, and the
process exits with the code), ``crash_during_upload`` (dies holding ``model/.lock``),
``ignore_sigterm``, ``slow_start``
(seconds between the initial and the first trained checkpoint: image pulls, simulator start),
``silent_worker`` (with ``simulation.workers`` > 1, ``num_episodes_between_training`` is
divided over the workers as DRfC does, and each other rollout worker ``k`` writes its share
of every iteration's training episodes to ``metrics/TrainingMetrics_<k>.json``; at the
fault, worker ``worker`` writes nothing more, the others finish that iteration's share, and
no checkpoint comes again while worker 0 evaluates: SageMaker waiting for the silent
worker's rollouts), and the two that say why they stop as the real stack does
(REFERENCE.md, "How simapp says why it stopped"):

- ``reward_error``: the reward function raises at ``step`` of the attempt's iteration
  ``after_checkpoint + 1`` (steps counted from that iteration's start; an iteration is
  ``steps_per_checkpoint`` steps and lasts ``checkpoint_interval_s``, so the error comes
  ``step / steps_per_checkpoint`` of the way through it, at its end when ``step`` is past
  it). Nothing of that iteration is uploaded. The log holds what simapp prints: the Python
  traceback whose innermost frame is the reward function (simapp's copy,
  ``custom_files/agent/customer_reward_function.py``), at ``line`` (default: the job's
  reward_function.py's first ``return`` line, else 1) with ``message`` (default
  ``KeyError: 'closest_objects'``), chained to simapp's ``RewardFunctionError``; then
  simapp's one JSON line (``eventType`` ``user_error``, ``errorCode`` ``400``,
  ``exceptionType`` ``simulation_worker.exceptions``, ``message`` ``Reward function error:
  Reward function exception <the exception's text>``), then ``ERROR: FAULT_CODE: 41``
  (simapp's FAULT_MAP "Reward function error"); the process exits 1 (simapp's
  ``os._exit(1)``), whatever ``exit_code`` says. Training only.
- ``gpu_error``: at the start of iteration ``after_checkpoint + 1`` (an evaluation: before
  lap ``after_checkpoint + 1``), a GPU fault's lines, then exit ``exit_code``: ``variant``
  ``xid`` is the kernel's ``NVRM: Xid (PCI:0000:00:1e): 79, pid=..., GPU has fallen off the
  bus.`` and the CUDA launch failure TensorFlow logs after it; ``cuda_oom`` is TensorFlow's
  BFC allocator warning and ``ResourceExhaustedError: OOM when allocating tensor ...``.

S3 errors are retried: an unreachable store delays the trainer, it does not kill it.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pitstop.core.records import Evaluation, Fault, Simulation
from pitstop.errors import PitstopError, StoreError
from pitstop.store.layout import ModelKeys, checkpoint_name, checkpoint_number, custom_file_key
from pitstop.store.objects import S3Store
from pitstop.trainers import simapp_files as simapp


def _log(msg: str) -> None:
    print(f"[simulated-trainer {time.time():.3f}] {msg}", flush=True)


class Writer:
    def __init__(self, store: S3Store) -> None:
        self.store = store

    def put(self, key: str, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        delay = 0.1
        while True:
            try:
                self.store.put(key, data)
                return
            except StoreError as e:
                _log(f"upload of {key} failed, retrying: {e}")
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def delete(self, key: str) -> None:
        try:
            self.store.delete(key)
        except StoreError as e:
            _log(f"delete of {key} failed: {e}")

    def exists(self, key: str) -> bool:
        while True:
            try:
                return self.store.head(key) is not None
            except StoreError:
                time.sleep(0.2)

    def read(self, key: str) -> bytes | None:
        while True:
            try:
                return self.store.get(key).body
            except StoreError as e:
                if "not found" in str(e):
                    return None
                time.sleep(0.2)


def _faults(sim: Simulation, attempt: int, kind: str) -> list[Fault]:
    return [f for f in sim.faults if f.kind == kind and f.attempt in (None, attempt)]


def _at(faults: list[Fault], done: int) -> Fault | None:
    return next((f for f in faults if f.after_checkpoint == done), None)


def _resolve(w: Writer, pre: ModelKeys, which: str) -> str:
    """simapp's ``best``/``last``: deepracer_checkpoints.json, else ``.coach_checkpoint``."""
    doc = json.loads(w.read(pre.checkpoints_json) or b"{}")
    name = str((doc.get(f"{which}_checkpoint") or {}).get("name") or "")
    if not name:
        name = (w.read(pre.coach_checkpoint) or b"").decode("utf-8", "replace").strip()
    return name


def _json_object(body: bytes | None) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _per_iteration(hyperparameters: dict[str, Any]) -> int:
    try:
        return max(1, int(hyperparameters.get("num_episodes_between_training", 20)))
    except (ValueError, TypeError):
        return 20


class _Course:
    """The world's waypoints, loaded in a thread from the start (numpy takes a while to
    import; the first simtrace is an interval away)."""

    def __init__(self, world: str) -> None:
        self._value: simapp.Course | None = None
        self._thread = threading.Thread(target=self._load, args=(world,), daemon=True)
        self._thread.start()

    def _load(self, world: str) -> None:
        self._value = simapp.load_course(world)

    def get(self) -> simapp.Course:
        self._thread.join()
        if self._value is None:  # the thread failed: its traceback is in the log already
            self._value = simapp.load_course("reInvent2019_track")
        return self._value


def main() -> int:
    env = os.environ
    sim = Simulation.model_validate_json(env.get("PITSTOP_SIMULATION", "{}"))
    attempt = int(env["PITSTOP_ATTEMPT"])
    keys = ModelKeys(env["PITSTOP_MODEL_PREFIX"])
    store = S3Store(
        env["PITSTOP_BUCKET"],
        region=env.get("PITSTOP_REGION") or None,
        endpoint_url=env.get("PITSTOP_S3_ENDPOINT_URL") or None,
    )
    w = Writer(store)
    if _faults(sim, attempt, "ignore_sigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _log("ignoring SIGTERM")
    if env.get("PITSTOP_KIND") == "evaluation":
        return evaluate(w, keys, sim, attempt)

    course = _Course(env.get("PITSTOP_WORLD", "") or "reInvent2019_track")
    first = 1
    initial = checkpoint_name(0, 0)
    pre_prefix, pre_ckpt = (
        env.get("PITSTOP_PRETRAINED_PREFIX"),
        env.get("PITSTOP_PRETRAINED_CHECKPOINT"),
    )
    if pre_prefix and pre_ckpt:
        pre = ModelKeys(pre_prefix)
        if pre_ckpt in ("last", "best"):  # DRfC's DR_LOCAL_S3_PRETRAINED_CHECKPOINT values
            which, pre_ckpt = pre_ckpt, _resolve(w, pre, pre_ckpt)
            if not pre_ckpt:
                _log(f"no {which} checkpoint in {pre_prefix}")
                return 4
        missing = [k for k in pre.checkpoint_files(pre_ckpt) if not w.exists(k)]
        if missing:
            _log(f"pretrained checkpoint incomplete, missing {missing}")
            return 4
        first = checkpoint_number(pre_ckpt) + 1
        initial = pre_ckpt
        _log(f"loaded pretrained {pre_prefix}/{pre_ckpt}; continuing at {first}")

    # what DRfC writes at start
    custom = env.get("PITSTOP_CUSTOM_FILES_PREFIX", "")
    reward = w.read(custom_file_key(custom, "reward_function.py")) or b""
    given = _json_object(w.read(custom_file_key(custom, "hyperparameters.json")))
    per_iteration = _per_iteration(given)
    if not w.exists(keys.training_params):  # unless DRfC's start script wrote them already
        w.put(
            keys.training_params,
            f"WORLD_NAME: {env.get('PITSTOP_WORLD', '')}\nJOB_ID: {env['PITSTOP_JOB_ID']}\n",
        )
    if not w.exists(keys.reward_function):
        w.put(keys.reward_function, reward)
    w.put(keys.ip("ip.json"), json.dumps({"IP": "127.0.0.1"}))
    metadata = w.read(custom_file_key(custom, "model_metadata.json"))
    meta_doc = _json_object(metadata)
    algorithm = str(meta_doc.get("training_algorithm") or "clipped_ppo")
    w.put(keys.ip("hyperparameters.json"), simapp.hyperparameters_json(given, algorithm))
    w.put(keys.ip("done"), "")
    w.put(keys.metadata, metadata or json.dumps({"action_space_type": "discrete", "version": "5"}))
    actions = simapp.actions_of(meta_doc)

    # simapp saves the model it starts from as soon as SageMaker is up, before any episode
    kept: list[str] = []
    _upload_checkpoint(w, keys, initial)
    kept.append(initial)
    w.put(keys.ready, b"")
    _log(f"initial checkpoint {initial}")

    for f in _faults(sim, attempt, "slow_start"):
        _log(f"slow start: {f.seconds} s")
        time.sleep(f.seconds)

    rng = random.Random(attempt)
    metrics: list[dict[str, Any]] = []
    clock = simapp.Clock()
    best: tuple[float, str] | None = None
    done = 0
    freezes, crashes = _faults(sim, attempt, "freeze"), _faults(sim, attempt, "crash")
    exceptions = _faults(sim, attempt, "exception")
    upload_crashes = _faults(sim, attempt, "crash_during_upload")
    reward_errors, gpu_errors = _faults(sim, attempt, "reward_error"), _faults(sim, attempt, "gpu_error")  # fmt: skip
    skill = first

    def frozen() -> Callable[[], None]:
        """The endless evaluation: a complete evaluation row more each time, the rows before
        the freeze all kept, of the freeze's own the last 50."""
        before = list(metrics)
        extra: list[dict[str, Any]] = []

        def step() -> None:
            extra.append(simapp.evaluation_row(rng, clock, skill, course.get(), actions))
            del extra[:-50]
            w.put(keys.metrics, simapp.metrics_json(before + extra))

        return step

    # the other rollout workers (DR_WORKERS > 1): each writes its own TrainingMetrics_<k>
    peers: dict[int, tuple[list[dict[str, Any]], simapp.Clock, random.Random]] = {
        k: ([], simapp.Clock(), random.Random(attempt * 100 + k)) for k in range(1, sim.workers)
    }
    # DRfC divides num_episodes_between_training over the workers: each trains the same share
    share = max(1, per_iteration // sim.workers)  # episodes per worker and iteration
    silents = _faults(sim, attempt, "silent_worker")
    quiet: set[int] = set()

    def simtrace(worker: int, index: int) -> str:
        """Where a worker's iteration file goes: ``training-simtrace/`` with one worker, each
        worker's own ``W/training-simtrace/`` with several (as simapp writes them)."""
        return keys.simtrace(index) if sim.workers == 1 else keys.worker_simtrace(worker, index)

    def rollouts(n: int, index: int) -> None:
        """Iteration ``n``'s training episodes of each worker still writing (this run's
        iteration file ``index``)."""
        for k, (rows_k, clock_k, rng_k) in peers.items():
            if k in quiet:
                continue
            trace_k, more = simapp.iteration(
                course.get(), actions, rng_k, clock_k, episodes=share, evaluations=0,
                skill=n, wall=time.time,
            )  # fmt: skip
            rows_k += more
            w.put(keys.training_metrics(k), simapp.metrics_json(rows_k))
            w.put(simtrace(k, index), simapp.simtrace_csv(trace_k))

    for n in range(first, sim.checkpoints + 1):
        _maybe_fault(freezes, crashes, done, frozen, gpu_errors)
        if (silent := _at(silents, done)) is not None:
            # worker k stops mid-iteration: the others finish their share, then SageMaker
            # waits for k's episodes forever while worker 0 evaluates (its endless evaluation)
            quiet.add(silent.worker)
            _log(f"rollout worker {silent.worker} silent after {done} checkpoints")
            time.sleep(sim.checkpoint_interval_s)
            rollouts(n, done)
            _, rows = simapp.iteration(
                course.get(), actions, rng, clock, episodes=share, evaluations=0,
                skill=n, wall=time.time,
            )  # fmt: skip
            metrics += rows
            w.put(keys.metrics, simapp.metrics_json(metrics))
            _maybe_fault([silent], [], done, frozen)
        if (raising := _at(reward_errors, done)) is not None:
            part = min(raising.step, sim.steps_per_checkpoint) / sim.steps_per_checkpoint
            time.sleep(sim.checkpoint_interval_s * part)
            _log(f"reward function raises at step {raising.step} of iteration {done + 1}")
            print(reward_error_lines(raising, reward), flush=True)
            return 1  # simapp's os._exit(1)
        time.sleep(sim.checkpoint_interval_s)
        name = checkpoint_name(n, n * sim.steps_per_checkpoint)
        if (crash := _at(upload_crashes, done)) is not None:
            w.put(keys.lock, b"")
            w.put(keys.checkpoint_files(name)[0], os.urandom(64))
            _log(f"crash during upload of {name} (holding model/.lock), exit {crash.exit_code}")
            return crash.exit_code
        _upload_checkpoint(w, keys, name)
        kept.append(name)
        if (raised := _at(exceptions, done)) is not None:
            # simapp uploads .finished from a finally: block, so an exception ends like a success
            w.put(keys.finished, b"")
            _log(f"exception evaluating {name}; model/.finished written, exit {raised.exit_code}")
            return raised.exit_code
        score = 20.0 * n + rng.uniform(-5, 5)
        if best is None or score >= best[0]:
            best = (score, name)
        _prune(w, keys, kept, best[1])
        # the iteration's episodes, then the evaluation's verdict on the new checkpoint
        skill = n
        trace, rows = simapp.iteration(
            course.get(), actions, rng, clock, episodes=share,
            evaluations=rng.randint(2, 4), skill=n, wall=time.time,
        )  # fmt: skip
        metrics += rows
        w.put(keys.metrics, simapp.metrics_json(metrics))
        rollouts(n, done)
        w.put(simtrace(0, done), simapp.simtrace_csv(trace))
        w.put(
            keys.checkpoints_json,
            json.dumps(
                {
                    "best_checkpoint": {
                        "name": best[1],
                        "avg_eval_metric": best[0],
                        "time_stamp": n * 60.0,
                    },
                    "last_checkpoint": {
                        "name": name,
                        "avg_eval_metric": score,
                        "time_stamp": n * 60.0,
                    },
                }
            ),
        )
        done += 1
        _log(f"checkpoint {name}")
    _maybe_fault(freezes, crashes, done, frozen, gpu_errors)
    w.put(keys.finished, b"")
    _log("finished")
    return 0


def evaluate(w: Writer, keys: ModelKeys, sim: Simulation, attempt: int) -> int:
    """An evaluation (``dr-start-evaluation``): laps of the staged checkpoint, the metrics
    file rewritten after each, as simapp does; a lap every ``checkpoint_interval_s``; at the
    end the evaluation's simtrace, once, stamped like the metrics file. Faults count laps as
    ``after_checkpoint``."""
    # here, not at the top: a training run never pays for numpy and the track model
    from pitstop.action_space.io import parse_metadata
    from pitstop.evaluation.laps import LAP_COMPLETE
    from pitstop.evaluation.laps import simulate as simulate_laps
    from pitstop.evaluation.results import metrics_doc

    env = os.environ
    ev = Evaluation.model_validate_json(env["PITSTOP_EVALUATION"])
    name = (w.read(keys.coach_checkpoint) or b"").decode().strip()
    metadata = w.read(keys.metadata)
    if not name or metadata is None:
        _log(f"nothing to evaluate in {keys.prefix} (checkpoint {name!r})")
        return 4
    try:
        meta = parse_metadata(metadata.decode("utf-8", "replace"), keys.metadata, strict=False)
    except PitstopError as e:
        _log(f"cannot read the model's metadata: {e}")
        return 4
    speeds = [a.speed for a in meta.actions] or [
        meta.action_space.speed.low,  # type: ignore[union-attr]
        meta.action_space.speed.high,  # type: ignore[union-attr]
    ]
    world = env.get("PITSTOP_WORLD", "reInvent2019_track")
    laps = simulate_laps(
        world,
        speeds,
        ev.laps,
        seed=env["PITSTOP_JOB_ID"],
        penalty_s=ev.off_track_penalty_s,
        max_resets=ev.max_resets,
    )
    _log(f"evaluating {name} on {world}: {ev.laps} laps")
    started_ms = int(time.time() * 1000)
    key = keys.evaluation_metrics(started_ms)
    freezes, crashes = _faults(sim, attempt, "freeze"), _faults(sim, attempt, "crash")
    gpu_errors = _faults(sim, attempt, "gpu_error")
    for i in range(len(laps)):
        _maybe_fault(freezes, crashes, i, lambda: lambda: None, gpu_errors)  # a frozen simulator
        time.sleep(sim.checkpoint_interval_s)
        w.put(key, json.dumps(metrics_doc(laps[: i + 1], started_ms)))
        _log(f"lap {i + 1}: {laps[i].time_ms} ms, {laps[i].status}, resets {laps[i].resets}")
    runs = [
        simapp.LapRun(x.time_ms, x.completion, x.off_tracks, x.status == LAP_COMPLETE) for x in laps
    ]
    trace = simapp.evaluation_trace(
        simapp.load_course(world), simapp.actions_of(_json_object(metadata)),
        random.Random(f"{env['PITSTOP_JOB_ID']}/trace"), runs, start_ms=0, wall=time.time,
    )  # fmt: skip
    w.put(keys.evaluation_simtrace(started_ms), simapp.simtrace_csv(trace))
    _log("evaluation finished")
    return 0


def _upload_checkpoint(w: Writer, keys: ModelKeys, name: str) -> None:
    """DRfC's upload order: .lock, ckpt files, .coach_checkpoint, model_N.pb, delete .lock."""
    files = keys.checkpoint_files(name)
    w.put(keys.lock, b"")
    for key in files[:3]:
        w.put(key, os.urandom(256))
    w.put(keys.coach_checkpoint, name)
    w.put(files[3], os.urandom(256))
    w.delete(keys.lock)


def _maybe_fault(
    freezes: list[Fault],
    crashes: list[Fault],
    done: int,
    frozen: Callable[[], Callable[[], None]],
    gpu_errors: Sequence[Fault] = (),
) -> None:
    """A crash or a GPU error exits; a freeze never returns, calling ``frozen()``'s step
    every 0.5 s."""
    if (f := _at(crashes, done)) is not None:
        _log(f"crash after {done} checkpoints, exit {f.exit_code}")
        sys.exit(f.exit_code)
    if (f := _at(list(gpu_errors), done)) is not None:
        _log(f"GPU error ({f.variant}) after {done} checkpoints, exit {f.exit_code}")
        print(gpu_error_lines(f), flush=True)
        sys.exit(f.exit_code)
    if _at(freezes, done) is not None:
        _log(f"freeze after {done} checkpoints (metrics keep changing, no checkpoints)")
        step = frozen()
        while True:  # the endless-evaluation hang: TrainingMetrics.json changes, nothing else
            step()
            time.sleep(0.5)


# where simapp's rollout worker runs the reward function (its copy of the job's file)
_MARKOV = "/opt/amazon/install/sagemaker_rl_agent/lib/python3.8/site-packages/markov"
REWARD_PATH = "/opt/amazon/custom_files/agent/customer_reward_function.py"
DEFAULT_REWARD_ERROR = "KeyError: 'closest_objects'"
REWARD_FAULT_CODE = 41  # simapp's FAULT_MAP: "Reward function error"
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?:: (.*))?$", re.S)


def reward_line(reward: bytes) -> tuple[int, str]:
    """The job's reward function's first ``return`` line (number, text), else line 1."""
    lines = reward.decode("utf-8", "replace").splitlines()
    for i, text in enumerate(lines, start=1):
        if re.match(r"\s*return\b", text):
            return i, text.strip()
    return 1, (lines[0].strip() if lines else "")


def reward_error_lines(fault: Fault, reward: bytes) -> str:
    """What simapp prints when the reward function raises: the traceback (the reward
    function's frame innermost, chained to simapp's RewardFunctionError), simapp's
    ``simapp_exception`` JSON line and ``ERROR: FAULT_CODE: 41``."""
    message = " ".join((fault.message or DEFAULT_REWARD_ERROR).split())
    m = _EXCEPTION_LINE.match(message)
    if m is not None:
        text = m.group(2) or ""
    else:
        text, message = message, f"Exception: {message}"
    number, source = reward_line(reward)
    if fault.line is not None:
        number = fault.line
    agent = f"{_MARKOV}/agent_ctrl/rollout_agent_ctrl.py"
    simapp_message = f"Reward function error: Reward function exception {text}"
    exception = {
        "date": str(datetime.now()),
        "function": "deepracer_exceptions.py::log_except_and_exit::23",
        "message": simapp_message,
        "exceptionType": "simulation_worker.exceptions",
        "eventType": "user_error",
        "errorCode": "400",
    }
    return "\n".join(
        [
            "Traceback (most recent call last):",
            f'  File "{agent}", line 862, in judge_action',
            "    reward = float(self._reward_(copy.deepcopy(self._reward_params_)))",
            f'  File "{REWARD_PATH}", line {number}, in reward_function',
            *([f"    {source}"] if source and fault.line is None else []),
            message,
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            f'  File "{_MARKOV}/rollout_worker.py", line 313, in rollout_worker',
            "    graph_manager.act(act_steps)",
            f'  File "{agent}", line 864, in judge_action',
            '    raise RewardFunctionError("Reward function exception {}".format(ex))',
            f"markov.log_handler.deepracer_exceptions.RewardFunctionError: "
            f"Reward function exception {text}",
            json.dumps({"simapp_exception": exception}),
            f"ERROR: FAULT_CODE: {REWARD_FAULT_CODE}",
        ]
    )


def gpu_error_lines(fault: Fault) -> str:
    """A GPU fault as the instance shows it: the kernel's Xid line and TensorFlow's CUDA
    failure after it, or TensorFlow running out of GPU memory."""
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    if fault.variant == "cuda_oom":
        return "\n".join(
            [
                f"{stamp}: W tensorflow/core/common_runtime/bfc_allocator.cc:467] Allocator "
                "(GPU_0_bfc) ran out of memory trying to allocate 1.50GiB (rounded to "
                "1610612736) requested by op main_level/agent/main/online/network_0/Conv2d",
                "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when "
                "allocating tensor with shape[64,32,79,59] and type float on "
                "/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc",
            ]
        )
    return "\n".join(
        [
            f"NVRM: Xid (PCI:0000:00:1e): 79, pid={os.getpid()}, GPU has fallen off the bus.",
            f"{stamp}: E tensorflow/stream_executor/cuda/cuda_driver.cc:1010] failed to "
            "synchronize the stop event: CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure",
        ]
    )


def _prune(w: Writer, keys: ModelKeys, kept: list[str], best: str) -> None:
    """Keep the last 4 checkpoints plus the best, as DeepRacer does."""
    while len(kept) > 4:
        old = kept.pop(0)
        if old == best:
            continue
        for key in keys.checkpoint_files(old):
            w.delete(key)


def run() -> int:
    """``main`` and its exit code, left in ``$PITSTOP_EXIT_FILE`` for an adopting supervisor."""
    try:
        code = main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    exit_file = os.environ.get("PITSTOP_EXIT_FILE")
    if exit_file:
        try:
            with open(exit_file, "w") as f:
                f.write(f"{code}\n")
        except OSError as e:
            _log(f"cannot write {exit_file}: {e}")
    return code


if __name__ == "__main__":
    sys.exit(run())
