"""The unit file passes `systemd-analyze verify` (and says what the design promises)."""

from __future__ import annotations

import configparser
import os
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


def _unit() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(UNIT)
    return cp


def test_unit_shares_the_hosts_tmp_with_docker() -> None:
    # rl_coach bind-mounts the host's /tmp/sagemaker; dr-start-training creates it and
    # dr-stop-training looks for SageMaker there (tests/drfc runs them in this unit's /tmp)
    value = _unit()["Service"].get("PrivateTmp", "false").lower()
    assert value in ("false", "no", "0", "off")


def test_unit_starts_after_cloud_init_wrote_the_settings_without_a_cycle() -> None:
    after = _unit()["Unit"]["After"].split()
    # cloud-final runs the user data (it writes /etc/pitstop/pitstop.toml); it is ordered
    # after multi-user.target, which this unit is wanted by: ordering after both avoids a cycle
    assert "cloud-final.service" in after and "multi-user.target" in after


def test_watchdog_outlasts_the_longest_tick_and_is_raised_for_slower_settings(
    tmp_path: Path, bucket: str, s3_endpoint: str
) -> None:
    from pitstop.config import load_settings
    from pitstop.supervisor.runtime import watchdog_s

    defaults = load_settings(None, bucket="my-bucket")
    assert float(_unit()["Service"]["WatchdogSec"]) >= watchdog_s(defaults)
    # a supervisor whose settings need more asks systemd for it (WATCHDOG_USEC=)
    import socket

    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PITSTOP_")},
        "NOTIFY_SOCKET": str(sock_path),
        "WATCHDOG_USEC": str(900 * 1_000_000),
        "PITSTOP_BUCKET": bucket,
        "PITSTOP_S3_ENDPOINT_URL": s3_endpoint,
        "PITSTOP_INSTANCE_ID": "i-watchdog",
        "PITSTOP_TRAINER": "simulated",
        "PITSTOP_STATE_DIR": str(tmp_path / "state"),
        "PITSTOP_POLL_INTERVAL_S": "1200",
        "PITSTOP_STALL_TIMEOUT_S": "1800",
        "PITSTOP_STOP_TIMEOUT_S": "300",
        "PITSTOP_LEASE_TTL_S": "900",  # longer than a stop (the settings refuse less)
        "PITSTOP_IMDS_ENDPOINT": "http://127.0.0.1:9",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pitstop.cli.main", "supervise"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        messages: list[str] = []
        while not any(m.startswith("WATCHDOG_USEC=") for m in messages):
            messages.append(sock.recv(4096).decode())
    finally:
        proc.terminate()
        proc.wait(30)
        sock.close()
    asked = int(next(m for m in messages if m.startswith("WATCHDOG_USEC=")).split("=")[1])
    assert messages[0] == "READY=1"
    assert asked / 1e6 >= 1200 + 2 * 300 and asked / 1e6 == watchdog_s(
        load_settings(
            None,
            bucket="my-bucket",
            poll_interval_s=1200,
            stall_timeout_s=1800,
            stop_timeout_s=300,
            lease_ttl_s=900,
        )
    )
