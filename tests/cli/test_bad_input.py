"""Bad input through the real command: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def pitstop(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(r: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert r.returncode == code, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pitstop: error:"), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def objects(s3, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_malformed_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text("bucket = [\n")
    assert_one_line_error(pitstop("jobs", "--config", str(cfg)), 2, str(cfg), "not valid TOML")


def test_missing_bucket(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('prefix = "x"\n')
    assert_one_line_error(pitstop("supervise", "--config", str(cfg), "--check"), 2, "bucket")


def test_negative_duration_from_environment() -> None:
    r = pitstop(
        "supervise", "--check", env={"PITSTOP_BUCKET": "ok-bucket", "PITSTOP_STALL_TIMEOUT_S": "-3"}
    )
    assert_one_line_error(r, 2, "PITSTOP_STALL_TIMEOUT_S")


def test_check_accepts_good_settings() -> None:
    r = pitstop(
        "supervise", "--check", env={"PITSTOP_BUCKET": "ok-bucket", "PITSTOP_TRAINER": "simulated"}
    )
    assert r.returncode == 0 and "settings OK" in r.stdout, r.stderr
    r = pitstop(
        "supervise",
        "--check",
        "--json",
        env={"PITSTOP_BUCKET": "ok-bucket", "PITSTOP_TRAINER": "simulated"},
    )
    import json

    doc = json.loads(r.stdout)
    assert (doc["bucket"], doc["trainer"], doc["poll_interval_s"]) == (
        "ok-bucket",
        "simulated",
        30.0,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PITSTOP_POLL_INTERVALL_S": "5"}, "did you mean PITSTOP_POLL_INTERVAL_S?"),
        ({"PITSTOP_STARTUP_GRACE_S": "0.1"}, "startup_grace_s must be >= poll_interval_s"),
        ({"PITSTOP_TRAINER": "drfc", "PITSTOP_DRFC_HOME": "/no/drfc"}, "drfc_home: /no/drfc"),
        ({"PITSTOP_STALL_TIMEOUT_S": "1e9"}, "PITSTOP_STALL_TIMEOUT_S"),
    ],
)
def test_check_refuses_settings_that_cannot_work(env: dict[str, str], needle: str) -> None:
    base = {"PITSTOP_BUCKET": "ok-bucket", "PITSTOP_TRAINER": "simulated"}
    assert_one_line_error(pitstop("supervise", "--check", env={**base, **env}), 2, needle)


@pytest.mark.parametrize(
    "make", ["missing", "not-python", "syntax", "py310", "no-function", "directory"]
)
def test_submit_bad_reward_file_writes_nothing(
    make: str, tmp_path: Path, settings_env: dict[str, str], s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "reward.py"
    expected = {
        "missing": "no such reward function file",
        "not-python": "must be a .py file",
        "syntax": "reward.py",
        "py310": "reward.py",
        "no-function": "reward_function",
        "directory": "is a directory, not a reward function file",
    }[make]
    if make == "not-python":
        path = tmp_path / "reward.txt"
        path.write_text("def reward_function(params):\n    return 1.0\n")
    elif make == "syntax":
        path.write_text("def reward_function(params)\n    return 1.0\n")
    elif make == "py310":
        path.write_text(
            "def reward_function(params):\n    match params:\n        case _:\n            return 1.0\n"
        )
    elif make == "no-function":
        path.write_text("def reward(params):\n    return 1.0\n")
    elif make == "directory":
        path.mkdir()
    r = pitstop("submit", str(path), env=settings_env)
    assert_one_line_error(r, 2, expected)
    assert objects(s3, bucket) == []


def test_submit_bad_job_file(tmp_path: Path, settings_env: dict[str, str], s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    reward = tmp_path / "r.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    job = tmp_path / "job.json"
    job.write_text('{"max_hours": -2}')
    assert_one_line_error(
        pitstop("submit", str(reward), "--job", str(job), env=settings_env),
        2,
        "job.json",
        "max_hours",
    )
    job.write_text('{"colour": "red"}')
    assert_one_line_error(
        pitstop("submit", str(reward), "--job", str(job), env=settings_env),
        2,
        "unknown field 'colour'",
    )
    assert objects(s3, bucket) == []


def test_submit_then_jobs_then_cancel(tmp_path: Path, settings_env: dict[str, str]) -> None:
    reward = tmp_path / "my_reward.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    r = pitstop("submit", str(reward), "--json", env=settings_env)
    assert r.returncode == 0, r.stderr
    import json

    job_id = json.loads(r.stdout)["id"]
    assert job_id.startswith("my-reward-")
    again = pitstop("submit", str(reward), "--json", env=settings_env)
    assert json.loads(again.stdout) == {"id": job_id, "created": False}  # same content, same job
    listed = json.loads(pitstop("jobs", "--json", env=settings_env).stdout)
    assert [j["id"] for j in listed] == [job_id] and listed[0]["state"] == "pending"
    doc = json.loads(pitstop("job", job_id, "--json", env=settings_env).stdout)
    for key in ("id", "state", "reason", "instance_id", "attempts", "events"):
        assert key in doc
    assert doc["events"][0]["event"] == "job.submitted"
    text = pitstop("job", job_id, env=settings_env).stdout.splitlines()
    assert "TIME (UTC)           EVENT          ATTEMPT  DETAIL" in text  # a header, no attempt 0
    assert any(line.endswith("  job.submitted  -        -") for line in text), text
    assert all(len(line) <= 100 and "\033[" not in line for line in text)  # piped: plain
    assert pitstop("cancel", job_id, env=settings_env).returncode == 0
    assert (
        json.loads(pitstop("job", job_id, "--json", env=settings_env).stdout)["state"]
        == "cancelled"
    )
    again = pitstop("cancel", job_id, env=settings_env)  # idempotent: says so, exit 0
    assert again.returncode == 0 and "already cancelled" in again.stdout, again.stderr
    assert_one_line_error(
        pitstop("job", "no-such-job", env=settings_env), 1, "no job 'no-such-job'"
    )


def test_jobs_lists_bad_job_directories_as_notes_without_crashing(
    tmp_path: Path, settings_env: dict[str, str], s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    import json

    reward = tmp_path / "ok.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    good = json.loads(pitstop("submit", str(reward), "--json", env=settings_env).stdout)["id"]
    bad = "x;touch${IFS}INJECTED;"
    for d, spec_id in ((bad, "any"), ("liar-1", "someone-else")):
        s3.put_object(
            Bucket=bucket,
            Key=f"pitstop/jobs/{d}/spec.json",
            Body=json.dumps({"id": spec_id, "name": "x", "submitted_at": "2020-01-01T00:00:00Z"}),
        )
        s3.put_object(
            Bucket=bucket,
            Key=f"pitstop/jobs/{d}/state.json",
            Body=json.dumps({"id": d, "state": "pending", "created_at": "2020-01-01T00:00:00Z"}),
        )
    r = pitstop("jobs", "--json", env=settings_env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert rows[good]["state"] == "pending" and not rows[good].get("invalid")
    for d, needle in ((bad, "not a valid job id"), ("liar-1", "'someone-else'")):
        assert rows[d]["state"] == "invalid" and rows[d]["invalid"] is True
        assert needle in rows[d]["reason"]
    table = pitstop("jobs", env=settings_env)
    assert table.returncode == 0, table.stderr
    assert "invalid" in table.stdout and repr(bad) in table.stdout
    assert_one_line_error(pitstop("job", bad, env=settings_env), 2, "not a valid job id")


def test_submit_refuses_a_run_script_outside_scripts(
    tmp_path: Path, settings_env: dict[str, str], s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    import json

    reward = tmp_path / "r.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    job = tmp_path / "job.json"
    for key in ("pitstop/inbox/processed/payload-0123456789/run.sh", "pitstop/jobs/j/run.sh"):
        job.write_text(json.dumps({"run_script": key}))
        assert_one_line_error(
            pitstop("submit", str(reward), "--job", str(job), env=settings_env),
            2,
            str(job),
            f"run_script '{key}'",
            f"s3://{bucket}/pitstop/scripts/",
        )
    assert objects(s3, bucket) == []
    job.write_text('{"run_script": "pitstop/scripts/train.sh"}')
    assert pitstop("submit", str(reward), "--job", str(job), env=settings_env).returncode == 0


def test_submit_refuses_an_unknown_world_naming_the_nearest(
    tmp_path: Path, settings_env: dict[str, str], s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    import json

    reward = tmp_path / "r.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    job = tmp_path / "job.json"
    job.write_text('{"world": "reInvent2019_trak"}')
    assert_one_line_error(
        pitstop("submit", str(reward), "--job", str(job), env=settings_env),
        2,
        f"{job}: world: unknown world 'reInvent2019_trak'",
        "did you mean reInvent2019_track",
    )
    assert objects(s3, bucket) == []
    job.write_text('{"world": "REINVENT2019_TRACK"}')  # one case-insensitive match: taken
    r = pitstop("submit", str(reward), "--job", str(job), "--json", env=settings_env)
    assert r.returncode == 0, r.stderr
    job_id = json.loads(r.stdout)["id"]
    spec = json.loads(
        s3.get_object(Bucket=bucket, Key=f"pitstop/jobs/{job_id}/spec.json")["Body"].read()
    )
    assert spec["world"] == "reInvent2019_track"
