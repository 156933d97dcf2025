"""``pitstop doctor`` reads the last attempt's logs on the instance: which class and signature
they show, and what to do (issue 26)."""

from __future__ import annotations

import os
from pathlib import Path

from pitstop.config import load_settings
from pitstop.doctor.checks import Doctor

REWARD = (
    '  File "/opt/amazon/custom_files/agent/customer_reward_function.py", line 12, in reward_function\n'
    "KeyError: 'closest_objects'\n"
    '{"simapp_exception": {"message": "Reward function error: \'closest_objects\'", '
    '"eventType": "user_error", "errorCode": "400"}}\nERROR: FAULT_CODE: 41\n'
)


def doctor(tmp_path: Path) -> Doctor:
    settings = load_settings(
        None, bucket="pitstop-doctor", trainer="simulated", state_dir=tmp_path / "state"
    )
    return Doctor(settings)


def write(tmp_path: Path, job: str, name: str, text: str, age_s: float) -> None:
    path = tmp_path / "state" / "jobs" / job / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    t = path.stat().st_mtime - age_s
    os.utime(path, (t, t))


def test_no_attempt_yet(tmp_path: Path) -> None:
    check = doctor(tmp_path).check_last_attempt()
    assert check.status == "ok" and "no attempt" in check.detail


def test_the_newest_attempt_with_a_reward_error_says_the_line_and_what_to_do(
    tmp_path: Path,
) -> None:
    write(tmp_path, "job-old", "attempt-1.log", "NVRM: Xid (PCI:0000:00:1e): 79, x\n", 600)
    write(tmp_path, "job-new", "attempt-2.log", "INFO: starting\n", 10)
    write(tmp_path, "job-new", "attempt-2-containers.log", REWARD, 5)
    check = doctor(tmp_path).check_last_attempt()
    assert check.status == "warn"
    assert check.detail.startswith("job-new attempt 2: user_error: ")
    assert "line 12" in check.detail and "[reward_error]" in check.detail
    assert "pitstop reward validate" in check.fix and "line 12" in check.fix
    assert "\n" not in check.line()


def test_an_infrastructure_fault_names_its_fix(tmp_path: Path) -> None:
    write(
        tmp_path,
        "job-a",
        "attempt-3.log",
        "Failed to initialize NVML: Driver/library version mismatch\n",
        1,
    )
    check = doctor(tmp_path).check_last_attempt()
    assert check.status == "warn" and "infrastructure" in check.detail
    assert "[driver_mismatch]" in check.detail and "NVIDIA driver" in check.fix


def test_nothing_known_is_ok_and_garbage_is_no_error(tmp_path: Path) -> None:
    write(tmp_path, "job-a", "attempt-1.log", "INFO: checkpoint 3\n", 1)
    assert doctor(tmp_path).check_last_attempt().status == "ok"
    (tmp_path / "state" / "jobs" / "job-a" / "attempt-1.log").write_bytes(b"\xff\x00" * 5000)
    assert doctor(tmp_path).check_last_attempt().status == "ok"
