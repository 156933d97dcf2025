"""One job, read as one model: a DRfC-layout view of every attempt that deepracer-utils opens
in one call (``pitstop analysis JOB``).

A job trains in one model prefix per attempt, and simapp numbers each run's simtrace from
``0-iteration.csv`` and each run's episodes from 0 (issue 25's research, sections 1 and 3).
deepracer-utils (``deepracer/logs/log.py``) reads one prefix per ``DeepRacerLog`` and sizes
iterations from ``0-iteration.csv``: ``episodes_per_iteration = max(episode) + 1`` there,
then ``unique_episode = episode % that + iteration * that``. Its ``TrainingMetrics``
(``metrics.py``) takes ``max(trial)`` as the episodes of an iteration and the iteration of a
row as ``(episode - 1) // max(trial)``. So the view:

- ``training-simtrace/``: every attempt's iteration files in order, renumbered 0..M, with the
  ``episode`` column renumbered cumulatively (iteration m holds ``m*N .. m*N+N-1``, as simapp
  numbers one run). ``N`` is the episodes most iteration files hold. An attempt's files are
  taken from ``0-iteration.csv`` on while each is complete (``N`` episodes, each ending in a
  ``done`` row); the first incomplete one (what simapp uploads when it exits mid-iteration)
  and anything after it in that attempt are left out, and the view says so;
- ``metrics/TrainingMetrics.json``: the attempts' rows joined, training episodes renumbered
  by the same offsets (episode ``e`` of the view's metrics is simtrace episode ``e - 1``);
  an evaluation row keeps the last training ``episode`` and ``trial`` before it, as simapp
  writes it. The rows of a left-out iteration go too, except in the last attempt, whose
  metrics may run ahead of its simtrace as simapp's own do;
- ``evaluation-<14 digits>/evaluation-simtrace/``: every evaluation simtrace of the
  attempts and of the evaluation jobs of this job (``evaluate_on``, ``pitstop evaluate``),
  with their ``metrics/evaluation/`` files; a stamp taken twice moves on a second;
- ``model/model_metadata.json``, ``ip/hyperparameters.json`` and ``reward_function.py``
  from the newest attempt that has them.

With several rollout workers (``DR_WORKERS`` > 1) simapp writes each worker's simtrace under
``W/training-simtrace/`` and its metrics to ``TrainingMetrics_W.json`` (worker 0:
``TrainingMetrics.json``); deepracer-utils reads them from one prefix and numbers the
workers' episodes of an iteration together (``unique_episode``). The view keeps that
layout, each worker joined as above with its own episodes per iteration, and keeps an
iteration for every worker or none (the fewest complete files of any worker: an attempt
missing a worker's folder keeps none). An attempt of one worker (``training-simtrace/`` at
the top) beside attempts of several is refused: deepracer-utils sizes the workers from the
first iteration.

Every key is built with :mod:`pitstop.store.layout`; the view is written to a new folder or
to a prefix of the bucket.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from pitstop.core.records import JobSpec
from pitstop.errors import InvalidInput, NotFound, StoreError
from pitstop.store.jobs import JobStore
from pitstop.store.layout import MAX_WORKERS, ModelKeys
from pitstop.store.objects import ObjectStore

KeyOf = Callable[[ModelKeys], str]  # where a file of the view goes, under any model prefix
_HERE = ModelKeys("view")  # a stand-in prefix: keys under it, less it, are folder paths
_STAMP = "%Y%m%d%H%M%S"  # DRfC's evaluation stamp (layout.evaluation_stamp), UTC


# -- the pure parts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Trace:
    """A simtrace CSV: its header and rows, values as written."""

    header: list[str]
    rows: list[list[str]]

    @property
    def episodes(self) -> list[str]:
        """The ``episode`` values in order of first appearance."""
        col = self.header.index("episode")
        return list(dict.fromkeys(r[col] for r in self.rows))

    @property
    def unfinished(self) -> int:
        """Episodes whose last row is not ``done`` (all of them with no ``done`` column)."""
        if "done" not in self.header:
            return len(self.episodes)
        ep, done = self.header.index("episode"), self.header.index("done")
        last: dict[str, str] = {}
        for r in self.rows:
            last[r[ep]] = r[done]
        return sum(1 for v in last.values() if v != "True")

    def complete(self, per_iteration: int) -> bool:
        """``per_iteration`` episodes, each ending in a ``done`` row."""
        return len(self.episodes) == per_iteration and not self.unfinished

    def renumbered(self, first: int) -> bytes:
        """The file with its episodes numbered ``first, first + 1, ...`` in order."""
        col = self.header.index("episode")
        new = {old: str(first + i) for i, old in enumerate(self.episodes)}
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows([*r[:col], new[r[col]], *r[col + 1 :]] for r in self.rows)
        return out.getvalue().encode()


def parse_trace(body: bytes, where: str) -> Trace:
    """A simtrace CSV (``InvalidInput`` naming ``where`` when it is none)."""
    rows = list(csv.reader(io.StringIO(body.decode("utf-8", "replace"))))
    rows = [r for r in rows if r]
    if not rows or "episode" not in rows[0]:
        raise InvalidInput(f"{where}: not a simtrace (no header with an episode column)")
    header, data = rows[0], rows[1:]
    if any(len(r) != len(header) for r in data):
        raise InvalidInput(f"{where}: a row without {len(header)} values")
    return Trace(header, data)


def episodes_per_iteration(traces: Iterable[Trace]) -> int:
    """The episodes most iteration files hold (ties: the larger); 0 with no file."""
    counts = Counter(len(t.episodes) for t in traces)
    if not counts:
        return 0
    return max(counts, key=lambda n: (counts[n], n))


def kept_iterations(traces: list[Trace], per_iteration: int) -> int:
    """How many of an attempt's iteration files (from 0) are complete in a row."""
    for i, t in enumerate(traces):
        if not t.complete(per_iteration):
            return i
    return len(traces)


def join_metrics(
    attempts: list[tuple[list[dict[str, Any]], int]], per_iteration: int
) -> list[dict[str, Any]]:
    """The attempts' TrainingMetrics rows as one run: ``(rows, kept iterations)`` per attempt,
    in order. Training episodes move on by the view's episodes before the attempt; an
    evaluation row takes the last training ``(episode, trial)``; a training row past the
    attempt's kept iterations ends that attempt's rows, but in the last attempt."""
    out: list[dict[str, Any]] = []
    offset, last = 0, (0, 0)
    for i, (rows, kept) in enumerate(attempts):
        limit = kept * per_iteration
        final = i == len(attempts) - 1
        for row in rows:
            if row.get("phase") == "training":
                try:
                    episode, trial = int(row["episode"]), int(row["trial"])
                except (KeyError, TypeError, ValueError):
                    continue  # not a row deepracer-utils could place
                if not final and episode > limit:
                    break
                row = {**row, "episode": episode + offset}
                last = (row["episode"], trial)
            else:
                row = {**row, "episode": last[0], "trial": last[1]}
            out.append(row)
        offset += limit
    return out


def metrics_rows(body: bytes, where: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A TrainingMetrics.json's rows and its other fields (version, best_model_metric)."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidInput(f"{where}: not JSON") from None
    rows = doc.get("metrics") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise InvalidInput(f"{where}: no metrics list")
    rest = {k: v for k, v in doc.items() if k != "metrics"}
    return [r for r in rows if isinstance(r, dict)], rest


def stamp_ms(stamp: str) -> int:
    """A 14-digit evaluation stamp -> epoch ms (UTC, as ``layout.evaluation_stamp``)."""
    at = datetime.strptime(stamp, _STAMP).replace(tzinfo=timezone.utc)
    return int(at.timestamp()) * 1000


# -- what the view holds ----------------------------------------------------------------------
@dataclass
class AttemptPart:
    """One attempt's share of the view."""

    attempt: int
    prefix: str
    iterations: int  # iteration files taken
    first_iteration: int  # the view's number of its 0-iteration.csv
    training_rows: int  # training rows in its metrics (those of a left-out iteration too)
    left_out: list[str] = field(default_factory=list)  # keys not taken


@dataclass
class View:
    """A job's view: what each file of it holds, and what went into it."""

    job_id: str
    episodes_per_iteration: int = 0  # every rollout worker's together
    iterations: int = 0
    workers: int = 1  # rollout workers (DR_WORKERS)
    episodes_per_worker: list[int] = field(default_factory=list)
    attempts: list[AttemptPart] = field(default_factory=list)
    evaluations: list[str] = field(default_factory=list)  # the view's evaluation stamps
    training_rows: int = 0
    evaluation_rows: int = 0
    notes: list[str] = field(default_factory=list)
    files: list[tuple[KeyOf, bytes]] = field(default_factory=list, repr=False)

    def keys(self, prefix: str) -> dict[str, bytes]:
        """Every file of the view under the model prefix ``prefix``."""
        keys = ModelKeys(prefix)
        return {where(keys): body for where, body in self.files}

    def paths(self) -> dict[str, bytes]:
        """Every file of the view by its path in a folder (``training-simtrace/0-iteration.csv``)."""
        out: dict[str, bytes] = {}
        for key, body in self.keys(_HERE.prefix).items():
            rel = _HERE.relative(key)
            assert rel is not None
            out[rel] = body
        return out

    def doc(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("files")
        return d

    def summary(self) -> str:
        parts = [
            f"attempt {a.attempt}: "
            + (
                f"iterations {a.first_iteration}-{a.first_iteration + a.iterations - 1}"
                if a.iterations
                else "no iteration"
            )
            for a in self.attempts
        ]
        shares = ""
        if self.workers > 1:
            shares = (
                f" ({' + '.join(map(str, self.episodes_per_worker))} of {self.workers} workers)"
            )
        return (
            f"{self.iterations} iterations of {self.episodes_per_iteration} episodes{shares} from "
            f"{len(self.attempts)} attempts ({', '.join(parts)}); metrics: "
            f"{self.training_rows} training and {self.evaluation_rows} evaluation rows; "
            f"{len(self.evaluations)} evaluation{'' if len(self.evaluations) == 1 else 's'}"
        )


# -- reading the bucket -----------------------------------------------------------------------
def _read(store: ObjectStore, key: str) -> bytes | None:
    try:
        return store.get(key).body
    except NotFound:
        return None


def _under(prefix: str) -> str:
    """The listing prefix of everything under the model prefix ``prefix``."""
    return prefix.strip("/") + "/"


def _listing(store: ObjectStore, prefix: str) -> set[str]:
    return {i.key for i in store.list(_under(prefix))}


def _evaluation_jobs(jobs: JobStore, job_id: str, prefixes: set[str]) -> list[str]:
    """The evaluation jobs of ``job_id`` (by ``model_job``, or a model prefix of its own)."""
    out = []
    ids, _ = jobs.scan()
    for other in ids:
        try:
            spec: JobSpec = jobs.spec(other)
        except StoreError:
            continue
        ev = spec.evaluation
        if ev is not None and (ev.model_job == job_id or ev.model_prefix.strip("/") in prefixes):
            out.append(other)
    return out


def job_view(jobs: JobStore, job_id: str, *, evaluation_jobs: bool = True) -> View:
    """The view of training job ``job_id`` across its attempts (``NotFound``/``InvalidInput``
    in one line when there is no such training job or nothing to show)."""
    store = jobs.store
    spec = jobs.spec(job_id)
    if spec.kind != "training":
        model = spec.evaluation.model_job if spec.evaluation else None
        hint = f"; its training job is {model}" if model else ""
        raise InvalidInput(f"job {job_id} is an evaluation: give a training job{hint}")
    status, _ = jobs.status(job_id)
    view = View(job_id)
    # every attempt's iteration files, from 0, while they are there (each worker's)
    found: list[tuple[int, str, set[str], list[list[Trace]]]] = []
    for attempt in status.attempts:
        prefix = attempt.model_prefix.strip("/")
        listed = _listing(store, prefix)
        if not listed:
            view.notes.append(f"attempt {attempt.n}: nothing under {prefix}/")
            continue
        found.append((attempt.n, prefix, listed, _worker_traces(store, prefix, listed, view)))
    if not found:
        raise NotFound(f"job {job_id} has no files yet (state {status.state.value})")
    # one worker (``training-simtrace/`` at the top) or several (a folder each; an attempt
    # that ended before some worker wrote has fewer folders, and keeps no iteration)
    written = [(prefix, listed, ws) for _, prefix, listed, ws in found if any(ws)]
    top = any(not _per_worker(prefix, listed) for prefix, listed, _ in written)
    workers = max((len(ws) for p, listed, ws in written if _per_worker(p, listed)), default=1)
    if top and workers > 1:
        raise InvalidInput(
            f"job {job_id}: its attempts ran with 1 and {workers} rollout workers; "
            "deepracer-utils sizes a model's workers from its first iteration: open each "
            "attempt's prefix alone"
        )
    per = [
        episodes_per_iteration(t for *_, ws in found for t in _of(ws, w)) for w in range(workers)
    ]
    view.workers, view.episodes_per_worker = workers, per
    view.episodes_per_iteration = sum(per)
    metrics: list[list[tuple[list[dict[str, Any]], int]]] = [[] for _ in range(workers)]
    rest: dict[str, Any] = {}
    for n, prefix, listed, ws in found:
        keys = ModelKeys(prefix)
        # an iteration is kept for every worker or for none: deepracer-utils numbers the
        # workers' episodes of iteration m together
        kept = min(kept_iterations(_of(ws, w), per[w]) for w in range(workers))
        part = AttemptPart(n, prefix, kept, view.iterations, 0)
        for w in range(workers):
            traces = _of(ws, w)
            for i, trace in enumerate(traces[:kept]):
                m = view.iterations + i
                view.files.append((_simtrace(m, w, workers), trace.renumbered(m * per[w])))
            part.left_out += [_trace_key(keys, i, w, workers) for i in range(kept, len(traces))]
            if kept < len(traces):
                view.notes.append(_left_out_note(n, keys, traces, kept, w, workers, per[w]))
            key = keys.training_metrics(w)
            body = _read(store, key) if key in listed else None
            rows: list[dict[str, Any]] = []
            if body is not None:
                try:
                    rows, doc_rest = metrics_rows(body, key)
                    rest = doc_rest if w == 0 else rest
                except InvalidInput as e:
                    view.notes.append(str(e))
            metrics[w].append((rows, kept))
            part.training_rows += sum(1 for r in rows if r.get("phase") == "training")
        view.iterations += kept
        view.attempts.append(part)
    if view.episodes_per_iteration == 0:
        view.notes.append("no training simtrace yet: deepracer-utils will find no iteration")
    for w in range(workers):
        joined = join_metrics(metrics[w], per[w])
        view.training_rows += sum(1 for r in joined if r.get("phase") == "training")
        view.evaluation_rows += sum(1 for r in joined if r.get("phase") != "training")
        doc = {"metrics": joined, "version": rest.get("version", 2.0)}
        doc["best_model_metric"] = rest.get("best_model_metric", "progress")
        view.files.append((_metrics(w), json.dumps(doc).encode()))
    if workers > 1:
        view.notes.append(
            f"{workers} rollout workers: deepracer-utils reads the simtrace of all; its "
            f"TrainingMetrics reads worker 0's unless told: addRound(PREFIX, training_round=1, "
            f"workers={workers}) from S3, or addRound(None, fname=FILE, training_round=1, "
            "worker=W) per metrics/TrainingMetrics_W.json, worker 0 first"
        )

    # the model's own files, from the newest attempt that has them
    newest: list[tuple[KeyOf, str]] = [
        (lambda k: k.metadata, "model_metadata.json"),
        (lambda k: k.ip("hyperparameters.json"), "ip/hyperparameters.json"),
        (lambda k: k.reward_function, "reward_function.py"),
    ]
    for where, what in newest:
        for _, prefix, listed, _ in reversed(found):
            key = where(ModelKeys(prefix))
            if key in listed and (body := _read(store, key)) is not None:
                view.files.append((where, body))
                break
        else:
            view.notes.append(f"no attempt has {what}")

    # evaluations: the attempts' own, then the evaluation jobs' attempts'
    sources = [(prefix, listed) for _, prefix, listed, _ in found]
    if evaluation_jobs:
        for other in _evaluation_jobs(jobs, job_id, {p for p, _ in sources}):
            for attempt in jobs.status(other)[0].attempts:
                prefix = attempt.model_prefix.strip("/")
                sources.append((prefix, _listing(store, prefix)))
    taken: set[int] = set()
    for prefix, listed in sources:
        _add_evaluations(store, view, ModelKeys(prefix), listed, taken)
    return view


def _of(workers: list[list[Trace]], w: int) -> list[Trace]:
    """Worker ``w``'s iteration files of an attempt ([] when it has none)."""
    return workers[w] if w < len(workers) else []


def _trace_key(keys: ModelKeys, m: int, w: int, workers: int) -> str:
    """Iteration ``m``'s simtrace of worker ``w``: in ``training-simtrace/`` with one worker,
    in the worker's own folder with several (as simapp writes them)."""
    return keys.simtrace(m) if workers == 1 else keys.worker_simtrace(w, m)


def _simtrace(m: int, w: int = 0, workers: int = 1) -> KeyOf:
    return lambda k: _trace_key(k, m, w, workers)


def _metrics(w: int) -> KeyOf:
    return lambda k: k.training_metrics(w)


def _left_out_note(
    n: int, keys: ModelKeys, traces: list[Trace], kept: int, w: int, workers: int, per: int
) -> str:
    """Why attempt ``n``'s iteration files from ``kept`` on are not in the view."""
    t = traces[kept]
    key = _trace_key(keys, kept, w, workers)
    after = " and the files after it" if kept + 1 < len(traces) else ""
    if t.complete(per):  # another worker's iteration ``kept`` is the incomplete one
        return (
            f"attempt {n}: left out {key}{after} (complete, but another rollout worker's "
            "iteration is not: an iteration is kept for every worker or none)"
        )
    return (
        f"attempt {n}: left out {key}{after} ({len(t.episodes)} of {per} episodes, "
        f"{t.unfinished} unfinished: the attempt ended mid-iteration)"
    )


def _traces(
    store: ObjectStore, key_of: Callable[[int], str], listed: set[str], view: View
) -> list[Trace]:
    """Iteration files ``key_of(0)``, ``key_of(1)``... while they are there and readable."""
    traces: list[Trace] = []
    while (key := key_of(len(traces))) in listed:
        body = _read(store, key)
        if body is None:
            break
        try:
            traces.append(parse_trace(body, key))
        except InvalidInput as e:
            view.notes.append(str(e))
            break
    return traces


def _per_worker(prefix: str, listed: set[str]) -> bool:
    """Whether an attempt's simtrace is in worker folders (``0/training-simtrace/``), not at
    the top: deepracer-utils looks at the top first."""
    keys = ModelKeys(prefix)
    return keys.simtrace(0) not in listed and keys.worker_simtrace(0, 0) in listed


def _worker_traces(
    store: ObjectStore, prefix: str, listed: set[str], view: View
) -> list[list[Trace]]:
    """An attempt's iteration files per rollout worker: one list from ``training-simtrace/``,
    or one per worker folder ``0/``, ``1/``... (DR_WORKERS > 1), looked for as deepracer-utils
    looks: the top-level folder first."""
    keys = ModelKeys(prefix)
    if not _per_worker(prefix, listed):
        return [_traces(store, keys.simtrace, listed, view)]
    workers: list[list[Trace]] = []
    while len(workers) < MAX_WORKERS and keys.worker_simtrace(len(workers), 0) in listed:
        workers.append(_traces(store, partial(keys.worker_simtrace, len(workers)), listed, view))
    return workers


def _add_evaluations(
    store: ObjectStore, view: View, keys: ModelKeys, listed: set[str], taken: set[int]
) -> None:
    """The evaluation simtraces under ``keys`` (and their metrics files) into ``view``."""
    runs: dict[str, list[tuple[int, str]]] = {}
    for key in sorted(listed):
        if (found := keys.parse_evaluation_simtrace(key)) is not None:
            runs.setdefault(found[0], []).append((found[1], key))
    for stamp, files in sorted(runs.items()):
        ms = stamp_ms(stamp)
        at = ms
        while at in taken:  # two evaluations in one second: the later moves on a second
            at += 1000
        taken.add(at)
        if at != ms:
            view.notes.append(f"{keys.prefix}: evaluation {stamp} shown one second on")
        for iteration, key in files:
            if (body := _read(store, key)) is not None:
                view.files.append((_evaluation_trace(at, iteration), body))
        metrics_key = keys.evaluation_metrics(ms)
        if metrics_key in listed and (body := _read(store, metrics_key)) is not None:
            view.files.append((_evaluation_metrics(at), body))
        view.evaluations.append(datetime.fromtimestamp(at / 1000, timezone.utc).strftime(_STAMP))


def _evaluation_trace(at: int, iteration: int) -> KeyOf:
    return lambda k: k.evaluation_simtrace(at, iteration)


def _evaluation_metrics(at: int) -> KeyOf:
    return lambda k: k.evaluation_metrics(at)


# -- writing it -------------------------------------------------------------------------------
def check_folder(out: Path) -> None:
    """``out`` may take a view: new, or an empty directory."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out}: exists and is not an empty directory (give a new one)")


def check_prefix(jobs: JobStore, view: View, prefix: str) -> str:
    """``prefix`` (stripped) may take a view: not the bucket's root, outside the job's
    attempts, nothing under it yet."""
    prefix = prefix.strip("/")
    if not prefix:
        raise InvalidInput("--to: give a prefix, not the bucket's root")
    inside = [a.prefix for a in view.attempts if (prefix + "/").startswith(a.prefix + "/")]
    if inside:
        raise InvalidInput(f"--to {prefix}: inside the attempt's own prefix {inside[0]}")
    if next(iter(jobs.store.list(_under(prefix))), None) is not None:
        raise InvalidInput(f"--to {prefix}: already holds objects (give a new prefix)")
    return prefix


def write_folder(view: View, out: Path) -> list[str]:
    """The view into ``out`` (new, or an empty directory); the paths written."""
    check_folder(out)
    files = view.paths()
    for rel, body in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return sorted(files)


def write_prefix(jobs: JobStore, view: View, prefix: str) -> list[str]:
    """The view under ``prefix`` of the bucket (``check_prefix``); the keys written."""
    files = view.keys(check_prefix(jobs, view, prefix))
    for key, body in sorted(files.items()):
        jobs.store.put(key, body)
    return sorted(files)
