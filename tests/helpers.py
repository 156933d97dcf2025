"""Helpers for tests: poll with a deadline instead of sleeping, and one time scale.

``PITSTOP_TEST_TIME_SCALE`` (default ``TIME_SCALE_DEFAULT``) multiplies every real-time
setting the end-to-end tests give their supervisors (stall timeout, startup grace, lease
TTL, stop timeout, fault delays: ``scaled``) and every ``wait_for`` deadline. The default
is sized so the suite passes on a 2-core machine with two CPU burners beside it
(``benchmarks/suite_under_load.py``); raise it on a slower machine, lower it (not below
1) to hunt for races. Tests never assert a tight wall-clock bound: a lower bound is a rule
(no stall before the timeout), an upper bound is generous and scaled.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TIME_SCALE_DEFAULT = 2.5


def _time_scale() -> float:
    raw = os.environ.get("PITSTOP_TEST_TIME_SCALE", "")
    try:
        value = float(raw) if raw else TIME_SCALE_DEFAULT
    except ValueError:
        raise SystemExit(f"PITSTOP_TEST_TIME_SCALE must be a number, not {raw!r}") from None
    if not 0.5 <= value <= 50:
        raise SystemExit(f"PITSTOP_TEST_TIME_SCALE must be between 0.5 and 50, not {value}")
    return value


TIME_SCALE = _time_scale()


def scaled(seconds: float) -> float:
    """A real-time setting or fault delay, in this run's scale."""
    return seconds * TIME_SCALE


def wait_for(
    predicate: Callable[[], T], timeout: float, description: str, interval: float = 0.05
) -> T:
    """Call ``predicate`` until it returns something truthy; fail after ``timeout`` seconds
    (times the time scale, when that is above 1: a generous deadline on a busy machine)."""
    timeout *= max(1.0, TIME_SCALE)
    deadline = time.monotonic() + timeout
    last: T = predicate()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {description}")
        time.sleep(interval)
        last = predicate()
    return last
