"""Seeded chaos: real supervisors and trainers, S3 behind the fault proxy, faults at random.

One run: a few jobs, two supervisor processes (their own instance ids and state dirs), and
for ``window_s`` seconds a fault every ``every_s`` on average, drawn from a seeded RNG:
a lost S3 reply, a reset request, a slow reply, S3 cut for a moment, SIGKILL or SIGSTOP of
a supervisor, SIGKILL of a trainer, and SIGKILL of a supervisor just after it recorded an
attempt, before it launched the trainer and saved its handle (``kill_start``: the reply to
the ``state.json`` write that records the attempt is held back, and the supervisor killed
while it waits; every run starts with one). Then everything is restored and the jobs must end.

``check(run)`` returns the broken invariants (an empty list when all hold):
every job ends exactly once; attempt records never overlap; every attempt is closed (an end
time no earlier than its start, an outcome, its time counted); no trainer outlives its job;
every attempt after the first loads a complete checkpoint no older than what its
predecessor recorded (nothing trained is lost beyond the attempt in progress). The CI test
runs a few seeds; ``benchmarks/chaos.py`` runs many.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pitstop.store.checkpoints import complete_checkpoints
from pitstop.store.layout import checkpoint_number
from tests.e2e.harness import (
    ENDED,
    FAST,
    LEASE_TTL_S,
    SupervisorProc,
    job,
    jobs_store,
    kill_trainers,
    recorded_end,
    submit,
    trainer_pids,
)
from tests.faults.proxy import FaultProxy, Rule
from tests.helpers import scaled

FAULTS = [  # drawn uniformly: the repeats weigh them
    *("drop_reply", "drop_reply", "reset", "delay", "cut"),
    *("kill", "kill_mid", "kill_mid", "kill_start", "stop", "trainer"),
]
TERMINAL_EVENTS = ("run.succeeded", "run.failed", "run.cancelled", "job.rejected")
S3_OPS = [
    ("PUT", r"/lease\.json$"),
    ("PUT", r"/state\.json$"),
    ("GET", r"/state\.json$"),
    ("PUT", r"/events/"),
    ("GET", r"list-type=2"),
    ("PUT", r"/instances/"),
]


def _at(iso: object) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def records_attempt(instance_id: str) -> Callable[[bytes], bool]:
    """A proxy ``body`` predicate: a ``state.json`` write that records a new attempt of
    ``instance_id`` (its last attempt open, started by it moments before the write, the job
    not yet running). The supervisor launches the trainer and saves its handle only after
    this write's reply: holding the reply back holds it in that window."""

    def check(body: bytes) -> bool:
        try:
            doc = json.loads(body)
        except ValueError:
            return False
        attempts = doc.get("attempts") if isinstance(doc, dict) else None
        if not isinstance(attempts, list) or not attempts or not isinstance(attempts[-1], dict):
            return False
        last = attempts[-1]
        started, written = _at(last.get("started_at")), _at(doc.get("updated_at"))
        return (
            last.get("instance_id") == instance_id
            and last.get("ended_at") is None
            and doc.get("state") in ("pending", "preempted", "restarting", "starting")
            and started is not None
            and written is not None
            and written - started < 3.0
        )

    return check


@dataclass
class ChaosRun:
    seed: int
    env: dict[str, str]
    job_ids: list[str]
    injected: Counter[str] = field(default_factory=Counter)
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    ended_in_s: float = 0.0


def run_chaos(
    seed: int,
    base_env: dict[str, str],
    moto_port: int,
    work: Path,
    *,
    jobs: int = 3,
    window_s: float = 12.0,
    every_s: float = 0.8,
    end_timeout_s: float = scaled(120.0),
) -> ChaosRun:
    rng = random.Random(seed)
    proxy = FaultProxy(moto_port).start()
    env = {**base_env, **FAST, "PITSTOP_MAX_RESTARTS": "30", "PITSTOP_STOP_TIMEOUT_S": "1.0"}
    run = ChaosRun(seed, env, [])
    for i in range(jobs):
        faults = []
        if rng.random() < 0.6:
            faults.append({"kind": "freeze", "attempt": 1, "after_checkpoint": rng.randint(1, 3)})
            faults.append({"kind": "ignore_sigterm", "attempt": 1})  # a long stop to die in
        if rng.random() < 0.5:
            faults.append({"kind": "crash", "attempt": rng.randint(1, 2), "after_checkpoint": 1})
        sim = {"checkpoint_interval_s": 0.25, "checkpoints": 8, "faults": faults}
        run.job_ids.append(submit(env, f"chaos-{seed}-{i}", sim))
    sups: dict[str, SupervisorProc] = {}

    def start(name: str) -> None:
        sup_env = {
            **env,
            "PITSTOP_S3_ENDPOINT_URL": proxy.endpoint,
            "PITSTOP_INSTANCE_ID": f"i-chaos{seed}{name}",
            "PITSTOP_STATE_DIR": str(work / name / "state"),
        }
        sups[name] = SupervisorProc(sup_env, work / "logs" / f"{name}.log").start()

    def kill_start(name: str, wait_s: float) -> None:
        """SIGKILL ``name`` once it recorded an attempt, before it launched the trainer and
        saved its handle (the record's reply is held back); nothing if none comes in time."""
        iid = sups[name].env["PITSTOP_INSTANCE_ID"]
        rule = proxy.add(
            Rule(
                "hold", method="PUT", key=r"/state\.json$", seconds=30.0, body=records_attempt(iid)
            )
        )
        until = time.monotonic() + wait_s
        while not rule.hits and time.monotonic() < until:
            time.sleep(0.02)
        with contextlib.suppress(ValueError):
            proxy.rules.remove(rule)
        if not rule.hits:
            return
        run.injected["kill_start"] += 1
        sups[name].kill(signal.SIGKILL)
        sups[name].wait()
        time.sleep(rng.uniform(0.1, 1.0))
        start(name)

    for name in ("a", "b"):
        start(name)
    stopped: set[str] = set()
    try:
        kill_start("a", 15.0)  # every run lands in this window at least once
        deadline = time.monotonic() + window_s
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.2, 2 * every_s))
            kind = rng.choice(FAULTS)
            name = rng.choice(sorted(sups))
            if kind in ("drop_reply", "reset", "delay"):
                method, key = rng.choice(S3_OPS)
                proxy.add(Rule(kind, method=method, key=key, seconds=rng.uniform(0.2, 1.5)))
                continue  # counted by the proxy when it fires
            if kind == "kill_start":
                kill_start(name, 3.0)  # counted when it landed
                continue
            run.injected[kind] += 1
            if kind == "cut":
                proxy.cut()
                time.sleep(rng.uniform(0.3, 2.0))
                proxy.restore()
            elif kind == "kill_mid":
                # die in the middle of something: a stall being stopped, a fresh checkpoint
                sup = sups[name]
                seen = len(sup.events())
                until = time.monotonic() + 3
                while time.monotonic() < until:
                    new = [e.get("event") for e in sup.events()[seen:]]
                    if any(e in ("run.stalled", "run.checkpointed", "run.crashed") for e in new):
                        break
                    time.sleep(0.02)
                sup.kill(signal.SIGKILL)
                sup.wait()
                time.sleep(rng.uniform(0.1, 1.0))
                start(name)
            elif kind == "kill":
                sups[name].kill(signal.SIGKILL)
                sups[name].wait()
                time.sleep(rng.uniform(0.1, 1.0))
                start(name)
            elif kind == "stop" and name not in stopped:
                sups[name].kill(signal.SIGSTOP)
                stopped.add(name)
                # sometimes past the lease TTL (5/3 of it at most)
                time.sleep(rng.uniform(0.5, 5.0) * LEASE_TTL_S / 3.0)
                sups[name].kill(signal.SIGCONT)
                stopped.discard(name)
            elif kind == "trainer":
                pids = [p for j in run.job_ids for p in trainer_pids(j)]
                if pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(rng.choice(pids), signal.SIGKILL)
        # restore: no more faults; every supervisor up and running
        proxy.rules.clear()
        proxy.restore()
        for name, sup in sups.items():
            sup.kill(signal.SIGCONT)
            if not sup.alive():
                start(name)
        began = time.monotonic()
        end = began + end_timeout_s
        while time.monotonic() < end:
            # ended, and the end recorded: a supervisor writes the state, then the event
            # (a read between the two is not a lost event)
            if all(recorded_end(env, j) for j in run.job_ids):
                break
            for name, sup in list(sups.items()):
                if not sup.alive():  # crash-only: a supervisor that gave up is restarted
                    start(name)
            time.sleep(0.2)
        run.ended_in_s = time.monotonic() - began
        run.docs = {j: job(env, j) for j in run.job_ids}
        # trainers must go with their jobs
        end = time.monotonic() + 15
        while time.monotonic() < end and any(trainer_pids(j) for j in run.job_ids):
            time.sleep(0.1)
        run.injected.update(proxy.injected)
        run.injected["leftover_trainers"] = sum(len(trainer_pids(j)) for j in run.job_ids)
    finally:
        for sup in sups.values():
            sup.kill(signal.SIGCONT)
            sup.close()
        kill_trainers(run.job_ids)
        proxy.close()
    return run


def check(run: ChaosRun) -> list[str]:
    """Broken invariants, one line each."""
    problems: list[str] = []
    if run.injected["leftover_trainers"]:
        problems.append(f"{run.injected['leftover_trainers']} trainers outlived their jobs")
    store = jobs_store(run.env).store
    for job_id, doc in run.docs.items():
        where = f"seed {run.seed} job {job_id}"
        if doc["state"] not in ENDED:
            problems.append(f"{where}: did not end (state {doc['state']})")
            continue
        ends = [e for e in doc["events"] if e["event"] in TERMINAL_EVENTS]
        if len(ends) != 1:
            problems.append(f"{where}: ended {len(ends)} times: {[e['event'] for e in ends]}")
        attempts = doc["attempts"]
        problems += [f"{where}: {p}" for p in unclosed(attempts)]
        for prev, nxt in itertools.pairwise(attempts):
            if prev["ended_at"] and nxt["started_at"] and prev["ended_at"] > nxt["started_at"]:
                problems.append(f"{where}: attempts {prev['n']} and {nxt['n']} overlap")
        for i, a in enumerate(attempts[1:], start=1):
            recorded = [
                checkpoint_number(p["last_checkpoint"])
                for p in attempts[:i]
                if p.get("last_checkpoint")
            ]
            if not recorded:
                continue
            name, prefix = a.get("pretrained_checkpoint"), a.get("pretrained_prefix")
            if not name or not prefix:
                problems.append(f"{where}: attempt {a['n']} started from scratch")
                continue
            if name not in complete_checkpoints(store, prefix):
                problems.append(f"{where}: attempt {a['n']} loaded incomplete {prefix}/{name}")
            if checkpoint_number(name) < max(recorded):
                problems.append(
                    f"{where}: attempt {a['n']} loaded {name}, older than recorded "
                    f"checkpoint {max(recorded)}: training lost"
                )
    return problems


def unclosed(attempts: list[dict[str, Any]]) -> list[str]:
    """The invariant "every attempt is closed", for an ended job: each attempt has an end
    no earlier than its start and an outcome other than ``running``, and its time is
    counted (``training_s`` > 0 when it lasted a second or more; at most its duration)."""
    problems = []
    for a in attempts:
        started, ended = _at(a.get("started_at")), _at(a.get("ended_at"))
        if ended is None or a.get("outcome") in (None, "running"):
            problems.append(
                f"attempt {a['n']} never closed (outcome {a.get('outcome')}, "
                f"training_s {a.get('training_s')})"
            )
            continue
        if started is None or ended < started:
            problems.append(f"attempt {a['n']} ends before it starts")
            continue
        spent, lasted = float(a.get("training_s") or 0.0), ended - started
        if lasted >= 1.0 and spent <= 0.0:
            problems.append(f"attempt {a['n']}: {lasted:.1f} s long, none of it counted")
        if spent > lasted + 1.0:
            problems.append(f"attempt {a['n']}: {spent:.1f} s counted in {lasted:.1f} s")
    return problems
