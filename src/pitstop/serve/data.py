"""What the dashboard shows, read from S3: the documents of its JSON API.

Reads are cheap by construction: the queue is one listing of ``index/jobs/`` per 1,000
jobs (``store/listing.py``; a listing of ``jobs/`` too every ``scan_interval_s``, to find
jobs the index does not know yet); per-job objects are read only for the job on screen;
a log is fetched again only when its size in the listing changed. The HTTP side
(``serve/server.py``) only routes to these functions.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from pitstop.config import Settings
from pitstop.core.records import Attempt
from pitstop.core.states import JobState
from pitstop.core.times import timestamp
from pitstop.errors import NotFound, StoreError
from pitstop.fleet.progress import PREEMPTIONS, RESTARTS, attempt_hours, training_metrics
from pitstop.job_views import last_failure
from pitstop.store import listing, parse
from pitstop.store.jobs import JobStore, job_document

# events drawn on the job chart as vertical markers, and the word each gets
MARKERS = {
    "run.restarted": "restart",
    "run.stalled": "stall",
    "run.crashed": "crash",
    "run.interrupted": "crash",
    "run.preempted": "preemption",
    "spot.notice_received": "preemption",
    "run.stop_failed": "crash",
}


# a heartbeat older than this many heartbeat intervals marks its supervisor stale
STALE_HEARTBEATS = 3
# specs read per refresh of the queue to learn jobs' kinds (each job's once)
KIND_READS = 200
DEFAULT_HEARTBEAT_S = float(Settings.model_fields["heartbeat_interval_s"].default)


def _epoch(s: str | None) -> float | None:
    return timestamp(s)


class Dashboard:
    """The dashboard's reads over one ``JobStore`` (thread-safe: one instance per server)."""

    def __init__(
        self,
        jobs: JobStore,
        *,
        spot_price: float | None = None,
        on_demand_price: float | None = None,
        scan_interval_s: float = 30.0,
        min_refresh_s: float = 1.0,
        heartbeat_interval_s: float = DEFAULT_HEARTBEAT_S,
    ) -> None:
        self.jobs = jobs
        self.spot_price = spot_price
        self.on_demand_price = on_demand_price
        self.scan_interval_s = scan_interval_s
        self.min_refresh_s = min_refresh_s
        # a supervisor silent for this long is marked stale on the fleet page
        self.stale_after_s = STALE_HEARTBEATS * heartbeat_interval_s
        self._kinds: dict[str, str] = {}  # job id -> kind (a spec never changes)
        self._lock = threading.Lock()
        self._last_scan: float | None = None
        # the last listing and when it was read: tabs polling together share one listing
        self._cached: tuple[float, listing.Listing, bool] | None = None

    def _listing(self) -> tuple[listing.Listing, bool]:
        """The job listing, read at most once per ``min_refresh_s`` whatever the number of
        open pages; a full read (``jobs/`` too) every ``scan_interval_s``."""
        with self._lock:
            now_m = time.monotonic()
            if self._cached is not None and now_m - self._cached[0] < self.min_refresh_s:
                return self._cached[1], self._cached[2]
            scan = self._last_scan is None or now_m - self._last_scan >= self.scan_interval_s
            got = listing.read(self.jobs, scan=scan, repair=True, verify_active=scan)
            if scan:
                self._last_scan = now_m
            self._cached = (time.monotonic(), got, scan)
            return got, scan

    def index(self) -> listing.Listing:
        """A full read now (at start: jobs the index lacks are backfilled before any page)."""
        with self._lock:
            self._last_scan = None
            self._cached = None
        return self._listing()[0]

    # -- the queue -------------------------------------------------------------------------
    def queue(self, states: set[str] | None = None) -> dict[str, Any]:
        """``/api/jobs``: every job's row, plus cost so far when a spot price is set."""
        got, scan = self._listing()
        now = datetime.now(timezone.utc).timestamp()
        self._read_kinds([j.id for j in got.jobs if not j.invalid])
        rows = []
        counts: dict[str, int] = {}
        for j in got.jobs:
            counts[j.state] = counts.get(j.state, 0) + 1
            if states and j.state not in states:
                continue
            row = j.row()
            since = _epoch(j.running_since)
            hours = (j.ended_s + (max(0.0, now - since) if since else 0.0)) / 3600.0
            row["instance_hours"] = round(hours, 4)
            row["cost"] = None if self.spot_price is None else round(hours * self.spot_price, 2)
            row["slack_s"] = None  # to the deadline, once jobs have deadlines
            row["kind"] = "training" if j.invalid else self._kinds.get(j.id)
            rows.append(row)
        return {
            "jobs": rows,
            "counts": counts,
            "total": len(got.jobs),
            "scanned": scan,
            "spot_price": self.spot_price,
        }

    def _read_kinds(self, ids: list[str]) -> None:
        """Learn the kind of jobs not seen before from their specs (a spec never changes,
        so each is read once for the life of the server): at most ``KIND_READS`` per
        refresh, in parallel; a job whose kind is not known yet has kind null (the page
        shows it with the training jobs) until a later refresh."""
        todo = [i for i in ids if i not in self._kinds][:KIND_READS]
        if not todo:
            return

        def read(job_id: str) -> tuple[str, str | None]:
            try:
                spec = self.jobs.spec(job_id)
            except (StoreError, NotFound):
                return job_id, None
            return job_id, spec_kind(spec.kind, spec.source)

        with ThreadPoolExecutor(min(8, len(todo))) as pool:
            for job_id, kind in pool.map(read, todo):
                if kind is not None:
                    self._kinds[job_id] = kind

    # -- one job ---------------------------------------------------------------------------
    def job(self, job_id: str) -> dict[str, Any]:
        """``/api/jobs/ID``: the job's document, its curves on one time axis, markers for
        restarts/stalls/crashes/preemptions, checkpoints, logs and cost."""
        doc = job_document(self.jobs, job_id)
        status, _ = self.jobs.status(job_id)
        now_dt = self.jobs.store.server_time()
        now = now_dt.timestamp()
        series = []
        for a in status.attempts:
            start = _epoch(a.started_at)
            if start is None:
                continue
            end = _epoch(a.ended_at) or now
            metrics = [
                m
                for m in training_metrics(self.jobs, a.model_prefix)
                if m.get("phase") != "evaluation"
            ]
            points = []
            for i, m in enumerate(metrics):
                t = _metric_time(m, start, end)
                if t is None:  # no wall time in the metric: spread over the attempt
                    t = start + (end - start) * (i + 1) / (len(metrics) + 1)
                try:  # NaN, infinity or null: null in the API, a gap in the chart
                    reward = _finite(m.get("reward_score", 0))
                    progress = _finite(m.get("completion_percentage", 0))
                except (TypeError, ValueError):
                    continue
                points.append([round(t, 3), reward, progress])
            series.append({"attempt": a.n, "outcome": a.outcome, "points": points})
        markers = []
        checkpoints = []
        for e in doc["events"]:
            t = _epoch(e.get("at"))
            if t is None:
                continue
            kind = MARKERS.get(str(e.get("event")))
            if kind:
                markers.append(
                    {"t": t, "kind": kind, "event": e["event"], "attempt": e.get("attempt")}
                )
            if e.get("event") == "run.checkpointed":
                checkpoints.append(
                    {"t": t, "attempt": e.get("attempt"), "checkpoint": e.get("checkpoint")}
                )
        for a in status.attempts:  # an attempt's end, when no event says why (older jobs)
            t = _epoch(a.ended_at)
            kind = (
                "preemption"
                if a.outcome in PREEMPTIONS
                else "crash"
                if a.outcome in RESTARTS
                else None
            )
            if t is not None and kind and not any(abs(m["t"] - t) < 5 for m in markers):
                markers.append({"t": t, "kind": kind, "event": a.outcome, "attempt": a.n})
        markers.sort(key=lambda m: m["t"])
        hours = sum(attempt_hours(a, now_dt) for a in status.attempts)
        kind = spec_kind(doc["spec"].get("kind"), doc["spec"].get("source"))
        return {
            "kind": kind,
            "trained_s": round(trained_s(status.attempts, now), 3),
            "last_checkpoint": newest_checkpoint(checkpoints, status.attempts),
            "laps": self.laps(job_id) if doc["spec"].get("kind") == "evaluation" else None,
            "job": doc,
            "failure": last_failure(doc["attempts"]),  # the class and why, in one line
            "series": series,
            "markers": markers,
            "checkpoints": checkpoints,
            "logs": self.logs(job_id),
            "instance_hours": round(hours, 4),
            "cost": None if self.spot_price is None else round(hours * self.spot_price, 2),
            "ended": status.state.is_terminal(),
            "now": now,
        }

    def laps(self, job_id: str) -> list[dict[str, Any]]:
        """An evaluation job's laps (from its results, once it has them; [] before)."""
        from pitstop.evaluation.jobs import read_results

        try:
            res = read_results(self.jobs, job_id)
        except (StoreError, NotFound):
            return []
        return [lap.model_dump() | {"complete": lap.complete} for lap in res.laps]

    def exists(self, job_id: str) -> bool:
        """Whether the job has a state in S3 (an unknown id gets the 404 page)."""
        try:
            self.jobs.status(job_id)
        except NotFound:
            return False
        return True

    def logs(self, job_id: str) -> list[dict[str, Any]]:
        layout = self.jobs.layout
        return [
            {"name": layout.parse_log(job_id, i.key), "size": i.size}
            for i in self.jobs.store.list(layout.logs(job_id))
        ]

    def log_tail(
        self, job_id: str, name: str, offset: int, limit: int = 64 * 1024
    ) -> dict[str, Any]:
        """``/api/jobs/ID/log``: the text of log ``name`` after byte ``offset`` (its last
        ``limit`` bytes at most). One listing; the object is read only when it grew."""
        key = self.jobs.layout.log(job_id, name)
        size = next((i.size for i in self.jobs.store.list(key) if i.key == key), None)
        if size is None:
            return {"name": name, "size": 0, "offset": 0, "text": "", "missing": True}
        if size <= offset:
            # a log shipped anew is the file's last 5 MB: shrinking means it was cut or
            # restarted, so the caller starts over
            return {
                "name": name,
                "size": size,
                "offset": size if size == offset else 0,
                "text": "",
                "reset": size < offset,
            }
        body = self.jobs.store.get(key).body
        start = max(offset, len(body) - limit)
        return {
            "name": name,
            "size": len(body),
            "offset": len(body),
            "text": body[start:].decode("utf-8", errors="replace"),
        }

    def cancel(self, job_id: str) -> dict[str, Any]:
        from pitstop.queue import cancel

        done = cancel(self.jobs, job_id)  # an ended job: cancel_requested false, as the CLI
        with self._lock:
            self._cached = None  # the next refresh shows it
        return done.doc()

    def leaderboards(self, top: int = 20) -> dict[str, Any]:
        """``/api/leaderboard``: every world's board, each model's best run first, with its
        laps (``evaluation.board.boards_with_laps``)."""
        from pitstop.evaluation.board import boards_with_laps

        return {"boards": boards_with_laps(self.jobs, top)}

    # -- the fleet -------------------------------------------------------------------------
    def fleet(self) -> dict[str, Any]:
        """``/api/fleet``: each instance's last heartbeat and its age by the S3 server's clock."""
        page = self.jobs.store.list_page(self.jobs.layout.instances)
        now = page.server_time
        out = []
        for item in page.items:
            try:
                doc = parse.json_object(
                    self.jobs.store.get(item.key).body, item.key, non_finite="null"
                )
            except StoreError:  # CorruptObject included: an unreadable heartbeat is skipped
                continue
            doc["age_s"] = round((now - item.last_modified).total_seconds(), 1)
            doc["stale"] = doc["age_s"] > self.stale_after_s
            out.append(doc)
        out.sort(key=lambda d: str(d.get("instance_id")))
        busy = sum(1 for d in out if d.get("job_id"))
        return {
            "instances": out,
            "busy": busy,
            "stale_after_s": self.stale_after_s,
            "spot_price": self.spot_price,
            "on_demand_price": self.on_demand_price,
        }


def spec_kind(kind: Any, source: Any) -> str:
    """What the queue groups a job under: tune (a candidate ``pitstop tune`` submitted),
    evaluation or training."""
    if source == "tune":
        return "tune"
    return "evaluation" if kind == "evaluation" else "training"


def trained_s(attempts: list[Attempt], now: float) -> float:
    """Seconds trained over every attempt: an attempt still running counts up to ``now``
    (its ``training_s`` is written when it ends)."""
    total = 0.0
    for a in attempts:
        start = _epoch(a.started_at)
        if a.ended_at is None and start is not None:
            total += max(a.training_s, now - start)
        else:
            total += a.training_s
    return total


def newest_checkpoint(checkpoints: list[dict[str, Any]], attempts: list[Attempt]) -> str | None:
    """The job's newest checkpoint: the latest ``run.checkpointed`` event's, else the
    last attempt's that names one."""
    named = [c for c in checkpoints if c.get("checkpoint")]
    if named:
        return str(max(named, key=lambda c: c["t"])["checkpoint"])
    return next((a.last_checkpoint for a in reversed(attempts) if a.last_checkpoint), None)


def _finite(v: Any) -> float | None:
    """A metric's number, or None when it is null, NaN or infinite (JSON has no word for
    the last two; the chart leaves a gap)."""
    if v is None:
        return None
    try:
        f = float(v)
    except OverflowError:  # an int too large for a float
        return None
    return f if math.isfinite(f) else None


def _metric_time(m: dict[str, Any], start: float, end: float) -> float | None:
    """The episode's wall time when the metric carries one inside the attempt (simapp
    writes epoch milliseconds); None when it does not."""
    for k in ("metric_time", "start_time"):
        v = m.get(k)
        if isinstance(v, int | float) and v > 0:
            t = v / 1000.0 if v > 1e11 else float(v)
            if start - 60 <= t <= end + 60:
                return t
    return None


def state_names() -> list[str]:
    return [s.value for s in JobState]
