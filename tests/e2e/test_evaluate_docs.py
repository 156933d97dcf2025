"""docs/evaluate.md's commands, run as written (plus the simulated trainer's pace) against
moto's S3 server with two supervisors: the docs cannot drift from the code."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import ENDED, jobs_store, start_fleet, submit
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "evaluate.md"
PACE = ["--simulation", json.dumps({"checkpoint_interval_s": 0.1})]


def test_the_commands_in_docs_evaluate_md_run(e2e_env, supervisors, tmp_path: Path) -> None:
    (block,) = re.findall(r"```bash\n(.*?)```", DOCS.read_text(), re.S)
    commands = [shlex.split(line) for line in block.splitlines() if line.startswith("pitstop ")]
    assert len(commands) >= 8
    start_fleet(supervisors, e2e_env, "ed")
    job = submit(e2e_env, "docs-eval", {"checkpoint_interval_s": 0.1, "checkpoints": 4})
    supervisors.job_ids.append(job)
    jobs = jobs_store(e2e_env)
    wait_for(lambda: jobs.status(job)[0].state.value == "succeeded", 60, "training to succeed")
    env = {**os.environ, **e2e_env}
    evals: list[str] = []
    outputs: dict[str, str] = {}
    for argv in commands:
        args = [a.replace("$JOB", job) for a in argv[1:]]
        if args[0] == "results" and evals:  # the docs say: once they ended
            for e in evals:
                wait_for(lambda e=e: jobs.status(e)[0].state.value in ENDED, 60, f"{e} to end")
            args = [a.replace("$EVAL", evals[0]) for a in args]
        if args[0] in ("evaluate", "tune"):
            args += PACE
        if args[0] == "tune":
            # three candidates (1, 1.3, 1.69), not the eight the search would go to with the
            # simulated trainer's laps: the docs' command, a third of the evaluations
            args += ["--poll", "0.3", "--max-scale", "1.69"]
        r = subprocess.run(
            [sys.executable, "-m", "pitstop.cli.main", *args],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert r.returncode == 0, (argv, r.stderr)
        if args[0] == "evaluate":
            evals += r.stdout.split()
            supervisors.job_ids.extend(r.stdout.split())
        outputs[" ".join(argv[:2])] = r.stdout
    assert len(evals) == 3  # --repeat 2, then one more
    assert "best" in outputs["pitstop results"] and job in outputs["pitstop leaderboard"]
    assert job in outputs["pitstop models"]
    tuned = json.loads((tmp_path / "tune-results" / "tune.json").read_text())
    assert tuned["winner"] is not None and tuned["winner"]["scale"] > 1.0
    assert len(tuned["candidates"]) >= 3 and tuned["evaluations"] == 2 * len(tuned["candidates"])
    assert (tmp_path / "car.tar.gz").stat().st_size > 0
    assert (tmp_path / "droa-model" / "model" / "model_metadata.json").is_file()
