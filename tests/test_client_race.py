"""``cancel()`` racing the waiter: both see the job cancelled; the future is cancelled and
its waiters notified once, and neither side raises (seen on a busy machine)."""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

from pitstop.client import JobFuture, _cancel_future, _resolve


def test_cancel_after_the_waiter_resolved_the_cancelled_job_does_not_raise() -> None:
    future = JobFuture(client=None, job_id="job-a")  # type: ignore[arg-type]
    doc: dict[str, Any] = {"id": "job-a", "state": "cancelled"}
    assert _resolve(future, doc) == 1  # the waiter saw the job cancelled first
    assert _cancel_future(future)  # then cancel() finishes its own part
    assert future.cancelled()
    done, _ = cf.wait([future], timeout=0)
    assert done == {future}
    assert _resolve(future, doc) == 0  # resolved once
