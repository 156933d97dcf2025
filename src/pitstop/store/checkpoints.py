"""Reading a DRfC model prefix: the heartbeat, complete checkpoints, stale locks."""

from __future__ import annotations

from dataclasses import dataclass

from pitstop.errors import NotFound
from pitstop.store.layout import ModelKeys, checkpoint_number, checkpoint_of_index_file
from pitstop.store.objects import ObjectStore


@dataclass(frozen=True)
class Progress:
    """One heartbeat read of a model prefix's markers."""

    checkpoint: str | None
    checkpoint_mtime: float | None
    age_s: float | None
    finished: bool
    checkpoint_etag: str = ""
    locked: bool = False  # model/.lock is present


def read_progress(store: ObjectStore, prefix: str, known: Progress | None = None) -> Progress:
    """One listing of ``model/.`` gives ``.coach_checkpoint``, ``.finished`` and ``.lock``.

    The listing carries each marker's LastModified and the server's Date (ages by the
    server's clock). ``.coach_checkpoint`` is only fetched when its ETag changed since
    ``known``, so a poll costs one request, whatever the number of checkpoints. Raises
    ``StoreError`` when S3 cannot be read: the caller treats that as *unknown*.
    """
    keys = ModelKeys(prefix)
    page = store.list_page(keys.markers)
    found = {item.key: item for item in page.items}
    marker = found.get(keys.coach_checkpoint)
    finished = keys.finished in found
    locked = keys.lock in found
    if marker is None:
        return Progress(None, None, None, finished, locked=locked)
    mtime = marker.last_modified.timestamp()
    age = (page.server_time - marker.last_modified).total_seconds()
    if known is not None and known.checkpoint_etag == marker.etag and known.checkpoint:
        name: str | None = known.checkpoint
    else:
        try:
            name = store.get(keys.coach_checkpoint).body.decode("utf-8", "replace").strip()
        except NotFound:  # replaced between the listing and the read: next poll sees it
            return Progress(None, None, None, finished, locked=locked)
        name = name or None
    return Progress(name, mtime, age, finished, marker.etag, locked)


def complete_checkpoints(store: ObjectStore, prefix: str) -> list[str]:
    """Checkpoint names whose every file is present (index, meta, data, model_N.pb), oldest first."""
    keys = ModelKeys(prefix)
    present = {item.key for item in store.list(keys.model_dir)}
    found: list[tuple[int, str]] = []
    for key in present:
        name = checkpoint_of_index_file(key)
        if name is not None and all(k in present for k in keys.checkpoint_files(name)):
            found.append((checkpoint_number(name), name))
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
