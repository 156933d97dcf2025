"""Every `$ pitstop ...` example in docs/action-space.md runs and succeeds, in order."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from pitstop.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "action-space.md"


def examples() -> list[str]:
    return [line[2:] for line in DOC.read_text().splitlines() if line.startswith("$ pitstop ")]


def test_docs_examples_run_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = examples()
    assert len(commands) >= 15
    groups = {shlex.split(c)[1:3][0] + " " + shlex.split(c)[2] for c in commands}
    for command in ("generate", "check", "edit", "from-track", "show"):
        assert f"action-space {command}" in groups, command
    assert {"hyperparameters generate", "hyperparameters check"} <= groups
    monkeypatch.chdir(tmp_path)
    for command in commands:
        code = main(shlex.split(command)[1:])
        out, err = capsys.readouterr()
        assert code == 0, f"{command}\n{out}\n{err}"
    assert Path("oval.png").read_bytes()[:4] == b"\x89PNG"
