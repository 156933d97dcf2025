"""A Python client whose futures are pitstop jobs: sweeps from a notebook or a GA.

``Client`` submits, reads and cancels jobs with the same settings as the CLI. ``Executor``
is a real ``concurrent.futures.Executor``: ``submit(fn, *args)`` calls ``fn`` *here* to
build a job spec (a dict: the ``job.json`` fields plus ``reward_function`` source text and
optionally ``model_metadata``/``hyperparameters`` dicts) and queues it; the future
resolves to the job's document (``pitstop job ID --json``) when the job ends, or raises
``JobFailed`` for a failed or rejected job. ``Future.cancel()`` is ``pitstop cancel``.

Waiting costs one listing of the terminal index per poll (one request per 1,000 ended
jobs), however many futures are outstanding; a job's document is read once, when it ends.
The waiter survives anything it reads: a job whose document cannot be read resolves with
``CorruptObject``; a bucket that is gone or no longer accessible (``BucketUnavailable``), or
any other error that persists, fails every pending future after ``give_up_after_s``
(default 60 s). A passing outage (S3 unreachable) is waited out.

The same spec twice is the same job (ids come from the content): both futures resolve to
its document. Give each a different ``name`` to train it twice.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, Future
from concurrent.futures import Executor as _Executor
from pathlib import Path
from typing import Any

from pitstop import queue
from pitstop.config import Settings, load_settings
from pitstop.core.states import JobState
from pitstop.errors import (
    BucketUnavailable,
    CorruptObject,
    InvalidInput,
    JobFailed,
    PitstopError,
    StoreError,
)
from pitstop.intake import Submission, submit
from pitstop.store import listing
from pitstop.store.jobs import JobStore, job_document
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store

__all__ = ["Client", "Executor", "JobFailed", "JobFuture", "spec_submission"]

SPEC_FILES = {"model_metadata": "model_metadata.json", "hyperparameters": "hyperparameters.json"}


def spec_submission(spec: dict[str, Any], source: str = "client") -> Submission:
    """A spec dict as a submission; a one-line ``InvalidInput`` when it is not one."""
    if not isinstance(spec, dict):
        raise InvalidInput(f"{source}: a job spec must be a dict, not {type(spec).__name__}")
    fields = dict(spec)
    reward = fields.pop("reward_function", None)
    if not isinstance(reward, str | bytes) or not reward:
        raise InvalidInput(f"{source}: 'reward_function' (the source text) is required")
    files = {"reward_function.py": reward.encode() if isinstance(reward, str) else reward}
    for key, fname in SPEC_FILES.items():
        doc = fields.pop(key, None)
        if doc is not None:
            if not isinstance(doc, dict):
                raise InvalidInput(f"{source}: {key!r} must be a dict")
            files[fname] = json.dumps(doc, indent=2).encode()
    name = str(fields.pop("name", "sweep"))
    labels = {"reward_function.py": f"{source}: reward_function", "job.json": source}
    return Submission(name=name, files=files, fields=fields, source=source, labels=labels)


class JobFuture(Future[dict[str, Any]]):
    """A future bound to one job; ``cancel()`` cancels the job too."""

    def __init__(self, client: Client, job_id: str) -> None:
        super().__init__()
        self.client = client
        self.job_id = job_id

    def cancel(self) -> bool:
        if self.done():
            return False
        if not self.client.cancel(self.job_id)["cancel_requested"]:
            return False  # it ended meanwhile: the waiter will resolve it
        return _cancel_future(self)


class Client:
    """Jobs in one bucket and prefix; arguments override the CLI's settings sources."""

    def __init__(
        self,
        bucket: str | None = None,
        prefix: str | None = None,
        endpoint_url: str | None = None,
        *,
        region: str | None = None,
        config: str | Path | None = None,
        poll_interval_s: float = 5.0,
        validate: bool = True,
        give_up_after_s: float = 60.0,
    ) -> None:
        self.settings: Settings = load_settings(
            config, bucket=bucket, prefix=prefix, s3_endpoint_url=endpoint_url, region=region
        )
        self.store = S3Store.from_settings(self.settings)
        self.job_store = JobStore(self.store, Layout(self.settings.prefix))
        if not (poll_interval_s > 0 and give_up_after_s > 0):
            raise InvalidInput("poll_interval_s and give_up_after_s must be positive")
        self.poll_interval_s = poll_interval_s
        # a bucket gone, access lost or an error that keeps coming back: how long until
        # every pending future raises it
        self.give_up_after_s = give_up_after_s
        self._failing_since: float | None = None
        self.validate = validate  # the sandboxed reward check (about a second per spec)
        self._lock = threading.Lock()
        self._waiting: dict[str, list[JobFuture]] = {}
        self._wake = threading.Event()
        self._waiter: threading.Thread | None = None

    # -- jobs ------------------------------------------------------------------------------
    def submit_job(self, spec: dict[str, Any]) -> JobFuture:
        sub = spec_submission(spec)
        made, _ = submit(self.job_store, sub, self.settings.bucket, dynamic=self.validate)
        future = JobFuture(self, made.id)
        with self._lock:
            self._waiting.setdefault(made.id, []).append(future)
            if self._waiter is None or not self._waiter.is_alive():
                self._waiter = threading.Thread(target=self._wait_loop, daemon=True)
                self._waiter.start()
        self._wake.set()
        return future

    def job(self, job_id: str) -> dict[str, Any]:
        return job_document(self.job_store, job_id)

    def jobs(self) -> list[dict[str, Any]]:
        """Every job: id, name, state, reason (the listing: two requests per 1,000 jobs)."""
        return [
            {"id": j.id, "name": j.name, "state": j.state, "reason": j.reason}
            for j in listing.read(self.job_store).jobs
            if not j.invalid
        ]

    def cancel(self, job_id: str) -> dict[str, Any]:
        """``pitstop cancel``: ``cancel_requested`` is False when the job had already ended."""
        return queue.cancel(self.job_store, job_id).doc()

    def ended(self) -> set[str]:
        """Ids of every ended job: one listing of the terminal index per 1,000."""
        return set(self.job_store.ended_job_ids())

    # -- waiting ---------------------------------------------------------------------------
    def outstanding(self) -> int:
        with self._lock:
            return sum(1 for fs in self._waiting.values() for f in fs if not f.done())

    def poll_once(self) -> int:
        """Resolve every future whose job ended; returns how many were resolved.

        A job whose document cannot be read (``CorruptObject``) resolves with that error;
        other errors propagate (the waiter decides how long to wait them out)."""
        with self._lock:
            waiting = {j: list(fs) for j, fs in self._waiting.items()}
        if not waiting:
            return 0
        ended = self.ended() & set(waiting)
        resolved = 0
        for job_id in sorted(ended):
            try:
                doc: dict[str, Any] | CorruptObject = self.job(job_id)
            except CorruptObject as e:
                doc = e
            with self._lock:
                futures = self._waiting.pop(job_id, [])
            for f in futures:
                resolved += _resolve(f, doc)
        return resolved

    def _fail_all(self, error: BaseException) -> None:
        with self._lock:
            futures = [f for fs in self._waiting.values() for f in fs]
            self._waiting.clear()
        for f in futures:
            if not f.done():
                f.set_exception(error)

    def _wait_loop(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._waiter = None
                    return
            try:
                self.poll_once()
                self._failing_since = None
            except BaseException as e:  # never dies: a dead waiter hangs every future
                self._note_failure(e)
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()

    def _note_failure(self, error: BaseException) -> None:
        """Wait out a passing outage; give up on every future when the bucket is gone, access
        is lost, or something else keeps failing, for ``give_up_after_s``."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if isinstance(error, StoreError) and not isinstance(
            error, (BucketUnavailable, CorruptObject)
        ):
            return  # S3 unreachable for a moment: poll again
        if now - self._failing_since >= self.give_up_after_s:
            self._failing_since = None
            if isinstance(error, PitstopError):
                self._fail_all(error)
            else:
                self._fail_all(PitstopError(f"waiting for jobs failed: {error!r}"))


def _cancel_future(future: Future[dict[str, Any]]) -> bool:
    """Cancel a pending future and tell wait()/as_completed() (as a pool's worker would)."""
    if not Future.cancel(future):
        return False
    # cancel() and the waiter (which saw the job cancelled) may race: notified once
    with contextlib.suppress(RuntimeError):
        future.set_running_or_notify_cancel()
    return True


def _resolve(future: JobFuture, doc: dict[str, Any] | CorruptObject) -> int:
    if future.done():
        return 0
    if isinstance(doc, CorruptObject):
        future.set_exception(doc)
        return 1
    state = doc.get("state")
    if state == JobState.CANCELLED.value:
        _cancel_future(future)  # cancelled elsewhere: result() raises CancelledError
    elif state in (JobState.FAILED.value, JobState.REJECTED.value):
        future.set_exception(JobFailed(doc))
    else:
        future.set_result(doc)
    return 1


class Executor(_Executor):
    """``concurrent.futures.Executor`` over a pitstop queue (see the module docstring).

    ``max_queued``: at most this many jobs outstanding; ``submit`` waits for room.
    """

    def __init__(self, client: Client, *, max_queued: int | None = None) -> None:
        self.client = client
        self.max_queued = max_queued
        self._futures: list[JobFuture] = []
        self._shutdown = False
        self._lock = threading.Lock()

    def submit(  # type: ignore[override]
        self, fn: Callable[..., dict[str, Any]], /, *args: Any, **kwargs: Any
    ) -> Future[dict[str, Any]]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
        while self.max_queued is not None and self.client.outstanding() >= self.max_queued:
            time.sleep(min(0.2, self.client.poll_interval_s))
        try:
            spec = fn(*args, **kwargs)
            future = self.client.submit_job(spec)
        except Exception as e:  # the standard contract: the error surfaces at result()
            failed: Future[dict[str, Any]] = Future()
            failed.set_exception(e)
            return failed
        with self._lock:
            self._futures.append(future)
        return future

    def map(  # type: ignore[override]
        self,
        fn: Callable[..., dict[str, Any]],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterable[dict[str, Any]]:
        return super().map(fn, *iterables, timeout=timeout, chunksize=chunksize)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            futures = list(self._futures)
        if cancel_futures:
            for f in futures:
                if not f.done():
                    f.cancel()
        if wait:
            for f in futures:
                if not f.cancelled():
                    with contextlib.suppress(CancelledError):  # cancelled meanwhile
                        f.exception()
