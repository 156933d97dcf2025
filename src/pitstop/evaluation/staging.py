"""The model an evaluation job evaluates, resolved and copied into the attempt's own prefix.

Evaluating a copy means the evaluated model is only ever read (a training run may still be
writing to it, or it may belong to someone else's job), and DRfC's ``DR_EVAL_CHECKPOINT``
(``best``/``last`` only) loads exactly the chosen checkpoint: both name it in the copy.
Copies are server-side and idempotent: a retried or resumed attempt stages again.
"""

from __future__ import annotations

import json

from pitstop.action_space.edit import scale_speeds
from pitstop.action_space.io import parse_metadata
from pitstop.core.records import Evaluation
from pitstop.errors import NotFound, PitstopError
from pitstop.store.checkpoints import select_checkpoint
from pitstop.store.jobs import JobStore
from pitstop.store.layout import ModelKeys
from pitstop.store.objects import ObjectStore


def stage(store: ObjectStore, ev: Evaluation, target_prefix: str) -> str:
    """Copy the checkpoint ``ev`` names (and its metadata, speeds scaled) into
    ``target_prefix``; return the checkpoint's name. ``NotFound`` when it is gone."""
    name = select_checkpoint(store, ev.model_prefix, ev.checkpoint)
    src, dst = ModelKeys(ev.model_prefix), ModelKeys(target_prefix)
    for s_key, d_key in zip(src.checkpoint_files(name), dst.checkpoint_files(name), strict=True):
        store.copy(s_key, d_key)
    store.put(dst.metadata, scaled_metadata(store, ev))
    store.put(dst.coach_checkpoint, name.encode())
    entry = {"name": name, "avg_eval_metric": 0.0, "time_stamp": 0.0}
    doc = {"best_checkpoint": entry, "last_checkpoint": entry}
    store.put(dst.checkpoints_json, json.dumps(doc).encode())
    return name


def scaled_metadata(store: ObjectStore, ev: Evaluation) -> bytes:
    """The model's ``model_metadata.json``, every speed times ``ev.speed_scale``."""
    key = ModelKeys(ev.model_prefix).metadata
    body = store.get(key).body
    if ev.speed_scale == 1.0:
        return body
    source = f"s3://{getattr(store, 'bucket', '')}/{key}"
    try:
        meta = parse_metadata(body.decode("utf-8", "replace"), source, strict=False)
        scaled, _ = scale_speeds(meta, ev.speed_scale)
    except PitstopError as e:
        raise NotFound(f"{source}: cannot scale its speeds: {e}", key=key) from None
    return json.dumps(scaled.to_dict(), indent=2).encode()


def model_of_job(jobs: JobStore, job_id: str) -> str:
    """The model prefix of training job ``job_id``: its newest attempt with a checkpoint."""
    status, _ = jobs.status(job_id)
    spec = jobs.spec(job_id)
    if spec.kind != "training":
        raise NotFound(f"job {job_id} is an evaluation, not a training job")
    for attempt in reversed(status.attempts):
        if attempt.last_checkpoint or _has_checkpoint(jobs.store, attempt.model_prefix):
            return attempt.model_prefix
    raise NotFound(f"job {job_id} has no checkpoint yet (state {status.state.value})")


def _has_checkpoint(store: ObjectStore, prefix: str) -> bool:
    try:
        select_checkpoint(store, prefix, "last")
    except NotFound:
        return False
    return True
