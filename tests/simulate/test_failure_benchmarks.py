"""Issue 26's benchmarks run and say what they should: benchmarks/hang_detection.py (known
hangs stopped within a poll, a freeze only at the stall timeout) and goodput.py's user
error rows (one attempt instead of eleven)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_hang_detection_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert load("hang_detection").main(["--trials", "40"]) == 0
    out = capsys.readouterr().out
    rows = {
        m.group(1): [int(x) for x in m.group(2, 3, 4, 5)] + [int(m.group(7))]
        for m in re.finditer(
            r"^(\S+(?: \(stall\))?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+(?: timeout)?)\s+(\d+)",
            out,
            re.M,
        )
    }
    for name in ("sagemaker_exited", "worker_exited", "restart_loop"):
        low, _, _, high, missed = rows[name]
        assert low >= 0 and high <= 30 and missed == 0, (name, rows[name])  # within a poll
    low, _, _, high, missed = rows["freeze (stall)"]
    assert low >= 1800 - 15 * 60 and high <= 1800 + 30 and missed == 0
    assert rows["endless_evaluation"][4] == 0
    assert "stall timeout" in out and "false stops" in out


def test_user_error_rows(capsys: pytest.CaptureFixture[str]) -> None:
    goodput = load("goodput")
    old = goodput.user_error_job(300.0, 60.0, classified=False)
    new = goodput.user_error_job(300.0, 60.0, classified=True)
    assert old[:2] == (11, 10)  # max_restarts = 10: ten restarts, eleven attempts
    assert new[:2] == (1, 0)
    assert 360 <= new[2] <= 360 + 30  # start-up, the minute of training, at most a poll
    assert old[2] > 11 * 360
    goodput.user_errors(0.05, 5.0, 1.0)
    out = capsys.readouterr().out
    assert "saved per user-error job: 10 restarts" in out
