"""A job's deadline: refused at submit unless it leaves the training plus one restart,
shown with its slack in ``pitstop jobs`` (S3 on moto's server, the real command in-process)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pitstop.cli.main import main


def _submit(tmp_path: Path, fields: dict[str, object], *extra: str) -> list[str]:
    reward = tmp_path / "fast.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    job = tmp_path / "job.json"
    job.write_text(json.dumps(fields))
    return ["submit", str(reward), "--job", str(job), *extra]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize(
    ("fields", "needles"),
    [
        (
            {"max_hours": 8, "deadline_hours": 8},
            ["job.json", "deadline_hours leaves 8.00 h", "need 8.17 h"],
        ),
        ({"deadline_hours": 8}, ["job.json", "needs max_hours"]),
        ({"max_hours": 1, "deadline": "2030-01-01T10:00:00"}, ["deadline", "no time zone"]),
        ({"max_hours": 1, "deadline": "friday"}, ["deadline", "not an ISO 8601 time"]),
        ({"max_hours": 1, "deadline": "2030-01-01T10:00:00Z", "deadline_hours": 5}, ["not both"]),
        (
            {"max_hours": 2, "deadline": "2020-01-01T10:00:00Z"},
            ["deadline 2020-01-01T10:00:00Z is in the past"],
        ),
        (
            {"max_hours": 2, "deadline_hours": -1},
            ["deadline_hours: Input should be greater than 0"],
        ),
    ],
)
def test_submit_refuses_a_deadline_without_room(
    tmp_path: Path,
    settings_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, object],
    needles: list[str],
) -> None:
    assert main(_submit(tmp_path, fields)) == 2
    line = _one_line(capsys)
    for n in needles:
        assert n in line, line
    assert main(["jobs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing was written


def test_jobs_shows_the_deadline_and_its_slack(
    tmp_path: Path, settings_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(timezone.utc)
    assert main(_submit(tmp_path, {"max_hours": 8, "deadline_hours": 10}, "--json")) == 0
    job_id = json.loads(capsys.readouterr().out)["id"]
    due = datetime(2099, 1, 1, tzinfo=timezone.utc)
    assert main(_submit(tmp_path, {"max_hours": 1, "deadline": "2099-01-01T00:00:00+00:00"})) == 0
    capsys.readouterr()
    assert main(["jobs", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    row = rows[job_id]
    deadline = datetime.fromisoformat(row["deadline"])
    assert timedelta(hours=10) <= deadline - before < timedelta(hours=10, minutes=1)
    assert 1.9 < row["slack_h"] <= 2.0  # 10 h to go, 8 h of training
    (other,) = [r for r in rows.values() if r["id"] != job_id]
    assert datetime.fromisoformat(other["deadline"]) == due
    assert main(["jobs"]) == 0
    out = capsys.readouterr().out
    assert "DEADLINE (UTC)" in out and "SLACK" in out and "2.0h" in out
