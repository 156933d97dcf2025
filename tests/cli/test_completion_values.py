"""The shell completes job ids (from the bucket's job listing) and world names (issue 27),
through argcomplete's own protocol against the real CLI and moto's S3 server; with no
bucket to read, a job id completes to nothing (never an error in the user's prompt)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.test_structure import _complete as complete
from tests.e2e.harness import submit


def test_job_ids_complete_from_the_bucket(settings_env: dict[str, str], tmp_path: Path) -> None:
    ids = [
        submit(settings_env, name, {"checkpoints": 2})
        for name in ("alpha-one", "alpha-two", "beta")
    ]
    alphas = {i for i in ids if i.startswith("alpha")}
    for command in ("job", "logs", "cancel", "export"):
        assert set(complete(f"pitstop {command} alp", tmp_path, settings_env)) == alphas, command
    offered = complete("pitstop job ", tmp_path, settings_env)
    assert {c for c in offered if not c.startswith("-")} == set(ids)
    assert complete("pitstop job zzz", tmp_path, settings_env) == []


def test_no_bucket_completes_no_job_id(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITSTOP_")}
    env["PITSTOP_BUCKET"] = "no-such-bucket-for-completion"
    env["PITSTOP_S3_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens there
    assert complete("pitstop job a", tmp_path, env) == []


def test_world_names_complete(tmp_path: Path) -> None:
    got = complete("pitstop evaluate some-job --world reInvent20", tmp_path)
    assert "reInvent2019_track" in got and all(w.startswith("reInvent20") for w in got)
    assert "reInvent2019_track" in complete("pitstop leaderboard reInvent2019_t", tmp_path)


def test_the_printed_bash_code_completes_in_a_real_bash(tmp_path: Path) -> None:
    # README: eval "$(pitstop completion bash)"; then a Tab is a call of the function it
    # registered, with bash's COMP_* variables set
    import shutil
    import subprocess
    import sys

    bash = shutil.which("bash")
    assert bash is not None
    script = r"""
eval "$(pitstop completion bash)"
complete -p pitstop
tab() {
    COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< "$1"
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _python_argcomplete pitstop
    printf '%s|' "${COMPREPLY[@]}"; echo
}
tab "pitstop sub"
tab "pitstop fleet watch --dr"
tab "pitstop leaderboard reInvent2019_t"
"""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(
        [bash, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    registered, *offered = r.stdout.splitlines()
    assert registered.endswith("-F _python_argcomplete pitstop")
    got = [[c.strip() for c in line.split("|") if c.strip()] for line in offered]
    assert got[:2] == [["submit"], ["--dry-run"]], r.stdout
    assert "reInvent2019_track" in got[2] and all(w.startswith("reInvent2019_t") for w in got[2])
