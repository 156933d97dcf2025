"""The unit file passes `systemd-analyze verify` (and says what the design promises)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "pitstop-supervisor.service"


def test_unit_declares_boot_order_restart_and_notify() -> None:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(UNIT)
    assert (
        "network-online.target" in cp["Unit"]["After"] and "docker.service" in cp["Unit"]["After"]
    )
    assert cp["Service"]["Restart"] == "always"
    assert cp["Service"]["Type"] == "notify" and cp["Service"]["WatchdogSec"]
    assert cp["Service"]["ExecStart"].split()[1:3] == ["supervise", "--config"]
    assert cp["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify refuses an ExecStart that does not exist: point it at this environment's pitstop
    exe = Path(sys.executable).parent / "pitstop"
    assert exe.exists(), exe
    text = UNIT.read_text().replace("/opt/pitstop/venv/bin/pitstop", str(exe))
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    r = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    problems = [line for line in r.stderr.splitlines() if UNIT.name in line or "Unknown" in line]
    assert problems == [], r.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a typo'd key is reported."""
    exe = Path(sys.executable).parent / "pitstop"
    unit = tmp_path / UNIT.name
    unit.write_text(
        UNIT.read_text()
        .replace("/opt/pitstop/venv/bin/pitstop", str(exe))
        .replace("Restart=", "Restrat=")
    )
    r = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert "Unknown key" in r.stderr
