"""The heartbeat of an evaluation: its metrics file, rewritten after every lap.

One listing of ``metrics/evaluation/`` per poll gives the newest file's ``LastModified``
against the server's ``Date``; the file is fetched only when its ETag changed, to count the
laps. An evaluation writes no checkpoints, so a new lap is its progress, and how many laps
are recorded decides, once the trainer exits, whether it finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pitstop.errors import CorruptObject, NotFound
from pitstop.evaluation.results import LapRow, parse_metrics
from pitstop.store.layout import ModelKeys
from pitstop.store.objects import ObjectStore


@dataclass(frozen=True)
class EvalProgress:
    laps: int  # laps recorded
    mtime: float | None  # LastModified of the metrics file (server epoch s)
    age_s: float | None
    etag: str = ""
    key: str = ""
    rows: list[LapRow] = field(default_factory=list)


def read_evaluation(store: ObjectStore, prefix: str, known: EvalProgress | None) -> EvalProgress:
    """Raises ``StoreError`` when S3 cannot be read (the caller treats it as unknown)."""
    keys = ModelKeys(prefix)
    page = store.list_page(keys.evaluation_dir)
    files = [i for i in page.items if keys.parse_evaluation_metrics(i.key)]
    if not files:
        return EvalProgress(0, None, None)
    newest = max(files, key=lambda i: (i.last_modified, i.key))
    age = (page.server_time - newest.last_modified).total_seconds()
    mtime = newest.last_modified.timestamp()
    if known is not None and known.etag == newest.etag and known.key == newest.key:
        return EvalProgress(known.laps, mtime, age, newest.etag, newest.key, known.rows)
    try:
        rows = parse_metrics(store.get(newest.key).body, newest.key)
    except NotFound:
        return EvalProgress(0, None, None)
    except CorruptObject:  # caught mid-write by a stand-in, or garbage: no laps yet
        rows = []
    return EvalProgress(len(rows), mtime, age, newest.etag, newest.key, rows)
