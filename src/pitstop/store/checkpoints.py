"""Reading a DRfC model prefix: the heartbeat, complete checkpoints, stale locks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pitstop.errors import NotFound
from pitstop.store.layout import ModelKeys
from pitstop.store.objects import ObjectStore

_CKPT = re.compile(r"^(\d+)_Step-(\d+)\.ckpt\.index$")


@dataclass(frozen=True)
class Progress:
    """One heartbeat read: two requests whatever the size of the prefix."""

    checkpoint: str | None
    checkpoint_mtime: float | None
    age_s: float | None
    finished: bool


def read_progress(store: ObjectStore, prefix: str) -> Progress:
    """GET ``model/.coach_checkpoint`` (name, LastModified, server Date) and HEAD ``.finished``.

    Raises ``StoreError`` when S3 cannot be read: the caller treats that as *unknown*.
    """
    keys = ModelKeys(prefix)
    try:
        obj = store.get(keys.coach_checkpoint)
        name: str | None = obj.body.decode("utf-8", "replace").strip() or None
        mtime: float | None = obj.head.last_modified.timestamp()
        age: float | None = obj.head.age_s
    except NotFound:
        name, mtime, age = None, None, None
    finished = store.head(keys.finished) is not None
    return Progress(name, mtime, age, finished)


def complete_checkpoints(store: ObjectStore, prefix: str) -> list[str]:
    """Checkpoint names whose every file is present (index, meta, data, model_N.pb), oldest first."""
    keys = ModelKeys(prefix)
    present = {item.key for item in store.list(keys.model_dir)}
    found: list[tuple[int, str]] = []
    for key in present:
        m = _CKPT.match(key.rsplit("/", 1)[-1])
        if not m:
            continue
        name = f"{m.group(1)}_Step-{m.group(2)}.ckpt"
        if all(k in present for k in keys.checkpoint_files(name)):
            found.append((int(m.group(1)), name))
    return [name for _, name in sorted(found)]


def last_complete_checkpoint(store: ObjectStore, prefix: str) -> str | None:
    names = complete_checkpoints(store, prefix)
    return names[-1] if names else None


def clear_stale_lock(store: ObjectStore, prefix: str) -> bool:
    """Remove ``model/.lock`` left by a dead trainer (it blocks the next run forever)."""
    keys = ModelKeys(prefix)
    if store.head(keys.lock) is None:
        return False
    store.delete(keys.lock)
    return True
