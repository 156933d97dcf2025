"""Evidence that a training run that wrote ``model/.finished`` really finished.

simapp uploads ``model/.finished`` from a ``finally:`` block (REFERENCE.md section 1), so a
run that died of an exception leaves the same marker as one that trained to the end. Two
things tell them apart: the episodes the run trained (``metrics/TrainingMetrics*.json``,
phase ``training``) against the job's ``term_cond_max_episodes``, and how the trainer (the
SageMaker container, the simulated process) exited. Reading is here; the verdict is the core's
(``core/verdicts.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from pitstop.core import hangs
from pitstop.core.hangs import EvaluationTail, WorkerMark
from pitstop.core.verdicts import Evidence
from pitstop.errors import CorruptObject, NotFound
from pitstop.store import parse
from pitstop.store.layout import ModelKeys
from pitstop.store.objects import ObjectStore

DEFAULT_MAX_EPISODES = 1000  # DRfC's term_cond_max_episodes (REFERENCE.md section 5)


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
    for item in store.list(keys.metrics_dir):
        if keys.parse_training_metrics(item.key) is None:
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


def evaluation_tail(
    store: ObjectStore, prefix: str, cached: tuple[str, EvaluationTail] | None
) -> tuple[str, EvaluationTail] | None:
    """Worker 0's evaluation episodes since its newest training episode (the endless
    evaluation's measure): one HEAD a poll, the file read again only when its ETag changed.
    None: no readable metrics yet (nothing to judge)."""
    key = ModelKeys(prefix).metrics
    head = store.head(key)
    if head is None:
        return None
    if cached is not None and cached[0] == head.etag:
        return cached
    try:
        doc = parse.json_object(store.get(key).body, key, non_finite="null")
    except (NotFound, CorruptObject):
        return None
    rows = doc.get("metrics")
    if not isinstance(rows, list):
        return None
    return head.etag, hangs.evaluation_tail(r for r in rows if isinstance(r, dict))


def worker_files(
    store: ObjectStore, prefix: str, workers: int, known: Iterable[WorkerMark] = ()
) -> dict[int, tuple[str | None, int]]:
    """Each other rollout worker's ``TrainingMetrics_<idx>.json`` (1 .. ``workers`` - 1):
    its ETag (None: not written yet) and training episodes. One LIST of the metrics folder;
    a file is read only when its ETag differs from the worker's ``known`` mark. An
    unreadable file counts no episode (a changed ETag still shows the worker alive)."""
    if workers <= 1:
        return {}
    keys = ModelKeys(prefix)
    marks = {m.worker: m for m in known}
    etags: dict[int, str | None] = dict.fromkeys(range(1, workers))
    for item in store.list(keys.metrics_dir):
        worker = keys.parse_training_metrics(item.key)
        if worker is not None and worker in etags:
            etags[worker] = item.etag or None
    files: dict[int, tuple[str | None, int]] = {}
    for worker, etag in etags.items():
        mark = marks.get(worker)
        if etag is None:
            files[worker] = (None, 0)
        elif mark is not None and mark.etag == etag:
            files[worker] = (etag, mark.episodes)
        else:
            files[worker] = (etag, _training_rows(store, keys.training_metrics(worker)))
    return files


def _training_rows(store: ObjectStore, key: str) -> int:
    try:
        doc = parse.json_object(store.get(key).body, key, non_finite="null")
    except (NotFound, CorruptObject):
        return 0
    rows = doc.get("metrics")
    if not isinstance(rows, list):
        return 0
    return hangs.training_episodes(r for r in rows if isinstance(r, dict))
