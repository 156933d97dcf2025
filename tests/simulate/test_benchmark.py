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
    for name, data in {"a": [0] * 30 + [1] * 50 + [0] * 400, "b": [0, 1, 1] * 160}.items():
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"metadata": {"gap_seconds": 600}, "data": data})
        )
    spec = importlib.util.spec_from_file_location("deadlines", ROOT / "benchmarks" / "deadlines.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--traces", str(tmp_path), "--offsets", "2", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "all H and D together" in out and "total time" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("pitstop-deadline")]
    assert rows and rows[0][1] == "100.0%"  # the shipped policy meets every deadline
    assert out.count("uniform-progress-deadline") == 9 + 1  # per H x D, then overall
    assert mod.main(["--traces", str(tmp_path / "none")]) == 2
