"""Evidence that a training run that wrote ``model/.finished`` really finished.

simapp uploads ``model/.finished`` from a ``finally:`` block (REFERENCE.md section 1), so a
run that died of an exception leaves the same marker as one that trained to the end. Two
things tell them apart: the episodes the run trained (``metrics/TrainingMetrics*.json``,
phase ``training``) against the job's ``term_cond_max_episodes``, and how the trainer (the
SageMaker container, the simulated process) exited. Reading is here; ``finished_ok`` is the
pure rule the daemon hands to the lifecycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pitstop.errors import CorruptObject, NotFound
from pitstop.store import parse
from pitstop.store.layout import ModelKeys
from pitstop.store.objects import ObjectStore

DEFAULT_MAX_EPISODES = 1000  # DRfC's term_cond_max_episodes (REFERENCE.md section 5)
_METRICS = re.compile(r"/metrics/TrainingMetrics(_\d+)?\.json$")


@dataclass(frozen=True)
class Evidence:
    """What the model prefix says about how far the run got."""

    episodes: int | None  # training episodes in the metrics files; None: none readable
    target: int  # the job's term_cond_max_episodes

    @property
    def complete(self) -> bool:
        return self.episodes is not None and self.episodes >= self.target

    def describe(self) -> str:
        got = "no readable TrainingMetrics.json" if self.episodes is None else self.episodes
        return f"{got} of {self.target} training episodes"


def max_episodes(hyperparameters: bytes | None) -> int:
    """``term_cond_max_episodes`` of a hyperparameters.json, DRfC's default when absent."""
    if not hyperparameters:
        return DEFAULT_MAX_EPISODES
    key = "hyperparameters.json"
    try:
        doc = parse.json_object(hyperparameters, key)
        return max(
            1, parse.integer(doc, "term_cond_max_episodes", key, default=DEFAULT_MAX_EPISODES)
        )
    except CorruptObject:
        return DEFAULT_MAX_EPISODES


def training_episodes(store: ObjectStore, prefix: str) -> int | None:
    """Training-phase episodes over every worker's metrics file (worker 0 and ``_<idx>``)."""
    keys = ModelKeys(prefix)
    total: int | None = None
    for item in store.list(keys.metrics.rsplit("/", 1)[0] + "/"):
        if not _METRICS.search(item.key):
            continue
        try:
            doc = parse.json_object(store.get(item.key).body, item.key, non_finite="null")
        except (NotFound, CorruptObject):
            continue
        rows = doc.get("metrics")
        if not isinstance(rows, list):
            continue
        count = sum(1 for r in rows if isinstance(r, dict) and r.get("phase") == "training")
        total = (total or 0) + count
    return total


def read_evidence(store: ObjectStore, prefix: str, hyperparameters_key: str) -> Evidence:
    """The model prefix's training episodes and the job's target (two to three requests)."""
    try:
        hyper: bytes | None = store.get(hyperparameters_key).body
    except NotFound:
        hyper = None
    return Evidence(training_episodes(store, prefix), max_episodes(hyper))


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
