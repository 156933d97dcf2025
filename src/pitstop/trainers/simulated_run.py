"""The simulated DeepRacer trainer process (``python -m pitstop.trainers.simulated_run``).

It writes what DRfC writes (REFERENCE.md section 1) under ``$PITSTOP_MODEL_PREFIX`` at the
pace of the job's ``simulation`` block, in DRfC's upload order (``.lock``, ckpt files,
``.coach_checkpoint``, ``model_N.pb``, delete ``.lock``), keeps the last 4 checkpoints plus
the best, and continues numbering from ``$PITSTOP_PRETRAINED_CHECKPOINT`` (whose files must
all be present, as a real trainer needs them). Checkpoints are numbered 1..checkpoints over
the whole job; when the last is written it writes ``model/.finished`` and exits 0.

Faults (the ``simulation.faults`` list; ``attempt`` unset = every attempt):
``freeze`` after N checkpoints (keeps rewriting TrainingMetrics.json, like the known
"endless evaluation" hang), ``crash`` with an exit code, ``crash_during_upload`` (dies
holding ``model/.lock``), ``ignore_sigterm``, ``slow_start`` (seconds before the first one).
S3 errors are retried: an unreachable store delays the trainer, it does not kill it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from typing import Any

from pitstop.errors import StoreError
from pitstop.store.jobs import Fault, Simulation
from pitstop.store.layout import ModelKeys, checkpoint_name, checkpoint_number
from pitstop.store.objects import S3Store


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

    first = 1
    pre_prefix, pre_ckpt = (
        env.get("PITSTOP_PRETRAINED_PREFIX"),
        env.get("PITSTOP_PRETRAINED_CHECKPOINT"),
    )
    if pre_prefix and pre_ckpt:
        pre = ModelKeys(pre_prefix)
        if pre_ckpt in ("last", "best"):  # DRfC's DR_LOCAL_S3_PRETRAINED_CHECKPOINT values
            doc = json.loads(w.read(pre.checkpoints_json) or b"{}")
            pre_ckpt = str(doc.get(f"{pre_ckpt}_checkpoint", {}).get("name", ""))
            if not pre_ckpt:
                _log(f"no deepracer_checkpoints.json in {pre_prefix}")
                return 4
        missing = [k for k in pre.checkpoint_files(pre_ckpt) if not w.exists(k)]
        if missing:
            _log(f"pretrained checkpoint incomplete, missing {missing}")
            return 4
        first = checkpoint_number(pre_ckpt) + 1
        _log(f"loaded pretrained {pre_prefix}/{pre_ckpt}; continuing at {first}")

    # what DRfC writes at start
    reward = w.read(env.get("PITSTOP_CUSTOM_FILES_PREFIX", "") + "reward_function.py") or b""
    w.put(
        keys.training_params,
        f"WORLD_NAME: {env.get('PITSTOP_WORLD', '')}\nJOB_ID: {env['PITSTOP_JOB_ID']}\n",
    )
    w.put(keys.reward_function, reward)
    w.put(keys.ip("ip.json"), json.dumps({"IP": "127.0.0.1"}))
    w.put(keys.ip("hyperparameters.json"), "{}")
    w.put(keys.ip("done"), "")
    w.put(keys.metadata, json.dumps({"action_space_type": "discrete", "version": "5"}))

    for f in _faults(sim, attempt, "slow_start"):
        _log(f"slow start: {f.seconds} s")
        time.sleep(f.seconds)
    w.put(keys.ready, b"")

    rng = random.Random(attempt)
    metrics: list[dict[str, Any]] = []
    kept: list[int] = []
    best: tuple[float, str] | None = None
    done = 0
    freezes, crashes = _faults(sim, attempt, "freeze"), _faults(sim, attempt, "crash")
    upload_crashes = _faults(sim, attempt, "crash_during_upload")
    for n in range(first, sim.checkpoints + 1):
        _maybe_fault(w, keys, freezes, crashes, done, metrics)
        time.sleep(sim.checkpoint_interval_s)
        name = checkpoint_name(n, n * sim.steps_per_checkpoint)
        w.put(keys.lock, b"")
        files = keys.checkpoint_files(name)
        if (crash := _at(upload_crashes, done)) is not None:
            w.put(files[0], os.urandom(64))
            _log(f"crash during upload of {name} (holding model/.lock), exit {crash.exit_code}")
            return crash.exit_code
        for key in files[:3]:
            w.put(key, os.urandom(256))
        w.put(keys.coach_checkpoint, name)
        w.put(files[3], os.urandom(256))
        score = 20.0 * n + rng.uniform(-5, 5)
        if best is None or score >= best[0]:
            best = (score, name)
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
        w.delete(keys.lock)
        kept.append(n)
        _prune(w, keys, kept, best[1], sim)
        metrics += _episodes(n, score, rng)
        w.put(
            keys.metrics,
            json.dumps({"metrics": metrics, "version": 2.0, "best_model_metric": "progress"}),
        )
        w.put(keys.simtrace(n), "episode,steps,x,y\n0,1,0.0,0.0\n")
        done += 1
        _log(f"checkpoint {name}")
    _maybe_fault(w, keys, freezes, crashes, done, metrics)
    w.put(keys.finished, b"")
    _log("finished")
    return 0


def _maybe_fault(
    w: Writer,
    keys: ModelKeys,
    freezes: list[Fault],
    crashes: list[Fault],
    done: int,
    metrics: list[dict[str, Any]],
) -> None:
    if (f := _at(crashes, done)) is not None:
        _log(f"crash after {done} checkpoints, exit {f.exit_code}")
        sys.exit(f.exit_code)
    if _at(freezes, done) is not None:
        _log(f"freeze after {done} checkpoints (metrics keep changing, no checkpoints)")
        episode = len(metrics)
        while True:  # the endless-evaluation hang: TrainingMetrics.json changes, nothing else
            episode += 1
            metrics.append(
                {
                    "episode": episode,
                    "phase": "evaluation",
                    "reward_score": 0.0,
                    "completion_percentage": 0,
                    "episode_status": "Off track",
                }
            )
            w.put(
                keys.metrics,
                json.dumps(
                    {"metrics": metrics[-50:], "version": 2.0, "best_model_metric": "progress"}
                ),
            )
            time.sleep(0.5)


def _prune(w: Writer, keys: ModelKeys, kept: list[int], best: str, sim: Simulation) -> None:
    """Keep the last 4 checkpoints plus the best, as DeepRacer does."""
    best_n = checkpoint_number(best)
    while len(kept) > 4:
        old = kept.pop(0)
        if old == best_n:
            continue
        for key in keys.checkpoint_files(checkpoint_name(old, old * sim.steps_per_checkpoint)):
            w.delete(key)


def _episodes(n: int, score: float, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(3):
        out.append(
            {
                "reward_score": round(score + rng.uniform(-3, 3), 2),
                "metric_time": n * 60000 + i * 1000,
                "start_time": n * 60000,
                "elapsed_time_in_milliseconds": 15000,
                "episode": n * 3 + i,
                "trial": i + 1,
                "phase": "training" if i < 2 else "evaluation",
                "completion_percentage": min(100, int(10 * n + rng.uniform(0, 10))),
                "episode_status": "Lap complete" if n > 5 else "Off track",
            }
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
