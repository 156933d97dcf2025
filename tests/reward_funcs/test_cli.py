"""`pitstop reward ...` through the real entry point: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pitstop.cli.main import main
from pitstop.reward_funcs import catalog

BAD = Path(__file__).parent / "bad"


def test_list_shows_every_library_function(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reward", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "SUMMARY"]
    for name in catalog.names():
        assert name in out
    assert main(["reward", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in doc} == set(catalog.names())


def test_show_prints_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reward", "show", "racing_line"]) == 0
    out = capsys.readouterr().out
    assert "def reward_function(params):" in out and "RACING_LINE = [" in out


def test_show_unknown_name_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reward", "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("pitstop: error: no reward function named 'nope'") and err.count("\n") == 1
    )


def test_new_copies_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["reward", "new", "mine", "--from", "heading_alignment"]) == 0
    text = (tmp_path / "mine.py").read_text()
    assert catalog.get("heading_alignment").source() in text
    assert main(["reward", "new", "mine", "--from", "centerline"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["reward", "new", "mine", "--from", "centerline", "--force"]) == 0
    assert main(["reward", "check", "mine.py", "--track", "Straight_track"]) == 0
    assert "mine.py: ok on Straight_track" in capsys.readouterr().out


def test_check_valid_file_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "r.py"
    f.write_text("def reward_function(params):\n    return 1.0\n")
    assert main(["reward", "check", str(f), "--track", "Oval_track"]) == 0
    out = capsys.readouterr().out
    assert "r.py: ok on Oval_track" in out and "calls/s" in out


def test_check_invalid_file_exit_1_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reward", "check", str(BAD / "returns_nan.py")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pitstop: error: returns_nan.py: returned nan for params {")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_check_json_has_reason_and_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reward", "check", str(BAD / "returns_huge.py"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["problems"][0]["rule"] == "range"
    assert doc["problems"][0]["params"]["speed"] == 4.0


def test_check_missing_file_and_unknown_track_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reward", "check", "no_such_file.py"]) == 2
    assert capsys.readouterr().err == "pitstop: error: no_such_file.py: no such file\n"
    assert main(["reward", "check", str(BAD / "returns_nan.py"), "--track", "Moon"]) == 2
    assert "unknown track 'Moon'" in capsys.readouterr().err


def test_check_track_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pitstop import tracks

    npy = tmp_path / "my_track.npy"
    np.save(npy, tracks.load("Oval_track").waypoints)
    f = tmp_path / "r.py"
    f.write_text("def reward_function(params):\n    return params['track_width']\n")
    assert main(["reward", "check", str(f), "--track-file", str(npy)]) == 0
    assert "ok on my_track" in capsys.readouterr().out
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((5, 2)))
    assert main(["reward", "check", str(f), "--track-file", str(bad)]) == 2
    assert "expected a waypoint array of shape (N, 6)" in capsys.readouterr().err


def test_bad_usage_is_exit_2_via_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", "reward", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "error: the following arguments are required: file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_show_json_has_the_name_summary_and_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reward", "show", "centerline", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "centerline" and doc["summary"]
    assert "def reward_function(params)" in doc["source"]


def test_new_json_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine.py"
    assert main(["reward", "new", str(target), "--from", "combined", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"out": str(target), "from": "combined"}
    assert target.read_text().endswith(catalog.get("combined").source())
