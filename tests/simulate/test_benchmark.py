"""benchmarks/goodput.py runs over a directory of small traces and prints its tables."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_goodput_benchmark_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, data in {"a": [0] * 30 + [1] * 5 + [0] * 200, "b": [0, 1] * 120}.items():
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"metadata": {"gap_seconds": 600}, "data": data})
        )
    spec = importlib.util.spec_from_file_location("goodput", ROOT / "benchmarks" / "goodput.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--traces", str(tmp_path), "--offsets", "2", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "headline" in out and "total time" in out
    assert out.count("restart-from-scratch") == 2 * 9 + 9  # per trace x H x C, then headline
    assert mod.main(["--traces", str(tmp_path / "none")]) == 2


def test_deadline_benchmark_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    coll = tmp_path / "collection"
    coll.mkdir()
    for name, data in {"a": [0] * 30 + [1] * 50 + [0] * 400, "b": [0, 1, 1] * 160}.items():
        (coll / f"{name}.json").write_text(
            json.dumps({"metadata": {"gap_seconds": 600}, "data": data})
        )
    spec = importlib.util.spec_from_file_location("deadlines", ROOT / "benchmarks" / "deadlines.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    argv = ["--traces", str(tmp_path), "--offsets", "2", "--jobs", "1", "--zones", "1,2", "--by-hd"]
    assert mod.main(argv) == 0
    out = capsys.readouterr().out
    assert "1 zone: 2 trace sets" in out and "2 zones: 2 trace sets" in out
    assert "total time" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("pitstop-deadline")]
    assert len(rows) == 4  # one per scope: 1 and 2 zones, AWS billing and every second billed
    assert "1 zone, every second billed: 2 trace sets" in out
    for i, row in enumerate(rows):
        assert row[1] == "100.0%"  # the shipped policy meets every deadline
        # max vs on-demand: never above with AWS billing (the first two scopes); every
        # second billed, at most one attempt's risk above (2 h jobs: 0.306 / 6.375)
        assert float(row[4]) <= (1.0 if i < 2 else 1.048)
    assert out.count("uniform-progress-deadline") == 4 + 9  # per scope, then per H x D
    assert mod.main(["--traces", str(tmp_path / "none")]) == 2
