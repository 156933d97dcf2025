"""Claim order spreading and the local cache."""

from __future__ import annotations

from pathlib import Path

from pitstop.supervisor.cache import LocalCache
from pitstop.supervisor.claims import spread


def test_spread_permutes_only_the_window_and_keeps_every_job() -> None:
    jobs = [f"j{i}" for i in range(12)]
    out = spread(jobs, "i-abc", window=8)
    assert sorted(out) == sorted(jobs) and out[8:] == jobs[8:]
    assert sorted(out[:8]) == sorted(jobs[:8]) and out[:8] != jobs[:8]
    assert spread(jobs, "i-abc", window=8) == out  # the same instance, the same order
    assert spread(jobs, "i-abc", window=1) == jobs  # a window of one: the order as listed


def test_spread_differs_between_instances() -> None:
    jobs = [f"j{i}" for i in range(8)]
    firsts = {spread(jobs, f"i-{n:04d}")[0] for n in range(40)}
    assert len(firsts) > 3  # instances waking together start on different jobs


def test_spread_of_one_is_itself() -> None:
    assert spread(["only"], "i-1") == ["only"] and spread([], "i-1") == []


def test_cache_round_trip_and_unreadable_file(tmp_path: Path) -> None:
    cache = LocalCache(tmp_path / "current.json")
    assert cache.read() == {}
    cache.save(job_id="j", handle={"pid": 42})
    assert cache.read() == {"job_id": "j", "handle": {"pid": 42}}
    (tmp_path / "current.json").write_text("{torn")
    assert cache.read() == {}  # a torn file is no job, never a crash
    cache.clear()
    assert not (tmp_path / "current.json").exists()
