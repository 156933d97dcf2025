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
