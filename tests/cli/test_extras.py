"""A command whose optional dependency is missing says exactly what to install, in one line.

The dependency is hidden from a real ``pitstop`` process (``sys.modules[name] = None`` makes
its import fail as if it were not installed); nothing is uninstalled.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_bad_input import assert_one_line_error

RUN_WITHOUT = (
    "import sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    sys.modules[name] = None\n"
    "from pitstop.cli.main import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def pitstop_without(
    modules: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT, modules, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_demo_without_the_demo_extra_names_the_install_line(tmp_path: Path) -> None:
    import os

    env_tmp = tmp_path / "tmp"
    env_tmp.mkdir()
    r = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT, "moto,moto.server", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(env_tmp)},
    )
    assert_one_line_error(r, 1, "embedded S3 server", "pip install '.[demo]' in pitstop's clone")
    assert list(env_tmp.iterdir()) == []  # nothing left behind


@pytest.mark.parametrize("module", ["matplotlib"])
def test_a_plot_without_the_plot_extra_names_the_install_line(module: str, tmp_path: Path) -> None:
    meta = tmp_path / "m.json"
    gen = pitstop_without(
        module, "action-space", "generate", "--max-speed", "3", "--out", str(meta)
    )
    assert gen.returncode == 0, gen.stderr  # no picture: no matplotlib needed
    r = pitstop_without(
        module, "action-space", "show", str(meta), "--plot", str(tmp_path / "a.png")
    )
    assert_one_line_error(
        r, 1, "plotting an action space", "pip install '.[plot]' in pitstop's clone"
    )
    assert not (tmp_path / "a.png").exists()
    assert json.loads(meta.read_text())["action_space_type"] == "discrete"


def test_ssh_without_the_ssh_extra_names_the_install_line(tmp_path: Path) -> None:
    r = pitstop_without(
        "paramiko", "fleet", "ssh", "127.0.0.1", "--known-hosts", str(tmp_path / "kh"), "--", "true"
    )
    assert_one_line_error(r, 1, "SSH to instances", "pip install '.[ssh]' in pitstop's clone")
