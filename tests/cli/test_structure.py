"""The command tree: every command says what it does, required options are shown as
required, bare groups are bad usage, and shells can complete commands and options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pitstop.cli.main import _parsers, build_parser, main


def test_every_command_has_a_description() -> None:
    missing = [p.prog for p in _parsers(build_parser()) if not (p.description or "").strip()]
    assert missing == []


@pytest.mark.parametrize(
    ("argv", "required"),
    [
        (["fleet", "up"], ["--instances", "--types"]),
        (["report"], ["--out"]),
        (["action-space", "from-track"], ["--actions"]),
    ],
)
def test_required_options_are_listed_as_required(
    argv: list[str], required: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = capsys.readouterr().out
    section = text.split("required options:")[1].split("\n\n")[0]
    for option in required:
        assert option in section
    assert "--json" not in section


@pytest.mark.parametrize("group", ["action-space", "reward", "fleet", "image", "hyperparameters"])
def test_a_bare_group_prints_its_help_and_is_bad_usage(
    group: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([group]) == 2
    assert "COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize(("shell", "needle"), [("bash", "complete "), ("zsh", "compdef"),
                                               ("fish", "complete ")])  # fmt: skip
def test_completion_prints_the_shell_code(
    shell: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", shell]) == 0
    code = capsys.readouterr().out
    assert needle in code and "pitstop" in code


def _complete(line: str, tmp_path: Path, env: dict[str, str] | None = None) -> list[str]:
    """What the shell is offered for ``line`` (argcomplete's protocol, the real CLI)."""
    out = tmp_path / "completions"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        **(env or {}),
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\n",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
    }
    r = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main"], env=env, timeout=60, capture_output=True
    )
    assert b"Traceback" not in r.stderr, r.stderr
    return out.read_text().split() if out.exists() else []


def test_the_shell_completes_commands_subcommands_and_options(tmp_path: Path) -> None:
    assert {"submit", "status", "supervise", "simulate"} <= set(_complete("pitstop s", tmp_path))
    assert "action-space" in _complete("pitstop act", tmp_path)
    assert set(_complete("pitstop fleet s", tmp_path)) == {"scale", "status", "ssh"}
    assert "--max-speed" in _complete("pitstop action-space generate --max-s", tmp_path)
