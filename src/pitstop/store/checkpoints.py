"""Reading a DRfC model prefix: the heartbeat, complete checkpoints, resume points, stale locks."""

from __future__ import annotations

from dataclasses import dataclass

from pitstop.errors import CorruptObject, NotFound
from pitstop.store import parse
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


@dataclass(frozen=True)
class ResumePoint:
    """The checkpoint a DeepRacer trainer loads from a pretrained prefix, and how to ask for it.

    ``selector`` is the ``DR_LOCAL_S3_PRETRAINED_CHECKPOINT`` value (``last`` or ``best``)
    that makes DRfC/simapp load exactly ``name``.
    """

    name: str
    selector: str


def _named(doc: object, which: str) -> str | None:
    entry = doc.get(f"{which}_checkpoint") if isinstance(doc, dict) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    return str(name) if name else None


def _read_selectors(store: ObjectStore, keys: ModelKeys) -> tuple[set[str], object, str | None]:
    """The prefix's model files, ``deepracer_checkpoints.json`` and ``.coach_checkpoint``."""
    present = {item.key for item in store.list(keys.model_dir)}
    doc: object = None
    if keys.checkpoints_json in present:
        try:
            doc = parse.load_json(store.get(keys.checkpoints_json).body, keys.checkpoints_json)
        except (NotFound, CorruptObject):
            doc = None
    fallback: str | None = None
    if keys.coach_checkpoint in present:
        try:
            fallback = store.get(keys.coach_checkpoint).body.decode("utf-8", "replace").strip()
        except NotFound:
            fallback = None
    return present, doc, fallback


def resume_point(store: ObjectStore, prefix: str) -> ResumePoint | None:
    """What loading ``prefix`` as pretrained resumes from; None when nothing complete is there.

    simapp accepts only ``last`` or ``best``, resolved from ``model/deepracer_checkpoints.json``
    (written after each evaluation, so it can lag the newest checkpoint), falling back to
    ``.coach_checkpoint`` when that file is missing. ``last`` is taken when every file of the
    checkpoint it names is present, else ``best``. Recording this name, rather than the
    newest complete checkpoint, is recording what the trainer really loads.
    """
    keys = ModelKeys(prefix)
    present, doc, fallback = _read_selectors(store, keys)
    for selector in ("last", "best"):
        name = _named(doc, selector) or fallback
        if _complete(keys, present, name):
            return ResumePoint(str(name), selector)
    return None


def select_checkpoint(store: ObjectStore, prefix: str, which: str) -> str:
    """The complete checkpoint ``which`` (``best``, ``last`` or a name) names in ``prefix``,
    resolved as simapp does; ``NotFound`` saying what is missing."""
    keys = ModelKeys(prefix)
    present, doc, fallback = _read_selectors(store, keys)
    name = (_named(doc, which) or fallback) if which in ("best", "last") else which
    if not name:
        raise NotFound(f"{prefix}: no checkpoint ({which}) there", key=keys.model_dir)
    if not _complete(keys, present, name):
        raise NotFound(f"{prefix}: checkpoint {name} ({which}) is not complete", key=keys.model_dir)
    return name


def _complete(keys: ModelKeys, present: set[str], name: str | None) -> bool:
    if not name or checkpoint_of_index_file(f"{name}.index") != name:
        return False
    return all(k in present for k in keys.checkpoint_files(name))


def is_initial_checkpoint(name: str | None, pretrained: str | None) -> bool:
    """Is ``name`` the checkpoint simapp saves at start, before any episode?

    A fresh run saves iteration 0; a resumed run saves the model it loaded, numbered as the
    pretrained checkpoint. Trained checkpoints are numbered above it.
    """
    if name is None:
        return False
    try:
        start = checkpoint_number(pretrained) if pretrained else 0
        return checkpoint_number(name) <= start
    except ValueError:
        return False


def clear_stale_lock(store: ObjectStore, prefix: str) -> bool:
    """Remove ``model/.lock`` left by a dead trainer (it blocks the next run forever)."""
    keys = ModelKeys(prefix)
    if store.head(keys.lock) is None:
        return False
    store.delete(keys.lock)
    return True
