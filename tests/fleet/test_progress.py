"""`pitstop status | report | logs` and `fleet watch --once | status` over the S3 and AWS servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pitstop.cli.main import main
from pitstop.core.states import JobState
from tests.e2e.harness import jobs_store
from tests.helpers import wait_for


def test_status_table_has_attempts_progress_and_cost(
    history: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--spot-price", "0.5", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["id"] == history and row["state"] == "running"
    assert (row["attempts"], row["restarts"], row["preemptions"]) == (3, 1, 1)
    assert row["instance_hours"] > 2.0  # two closed hours and the open attempt's time so far
    assert row["cost"] == pytest.approx(row["instance_hours"] * 0.5, abs=0.01)
    assert row["progress"].startswith("ckpt 12")
    assert main(["status", "--spot-price", "0.5"]) == 0
    table = capsys.readouterr().out
    assert "PREEMPTED" in table and history in table and "$" in table


def test_report_has_a_chart_per_job_attempts_events_and_cost(
    history: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out), "--spot-price", "0.75", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["out"] == str(out) and [j["id"] for j in doc["jobs"]] == [history]
    html = out.read_text()
    assert html.count('<img class="chart"') == 1 and "data:image/png;base64," in html
    assert "run.preempted" in html and "run.crashed" in html and "models/" in html
    assert "$0.75/h" in html and "http://" not in html.replace("http://www.w3.org", "")


def test_report_curves_mark_restarts_and_preemptions(
    history: str, settings_env: dict[str, str]
) -> None:
    from pitstop.fleet.progress import curves

    jobs = jobs_store(settings_env)
    status, _ = jobs.status(history)
    cs = curves(jobs, status.attempts)
    assert [c.outcome for c in cs] == ["crashed", "preempted", "running"]
    # laid end to end: each attempt starts where the previous one ended
    assert min(cs[1].episodes) == 30 and min(cs[2].episodes) == 60
    assert len(cs[0].eval_episodes) == 6


def test_logs_prints_the_jobs_logs(history: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", history]) == 0
    assert capsys.readouterr().out == "==> attempt-1-trainer.log <==\nloading\ncheckpoint 1\n"


def test_logs_follow_prints_new_logs_until_the_job_ends(
    history: str, settings_env: dict[str, str]
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pitstop.cli.main",
            "logs",
            history,
            "--follow",
            "--interval",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **settings_env},
    )
    try:
        jobs = jobs_store(settings_env)
        jobs.put_log(history, "attempt-2-trainer.log", b"attempt two\n")
        jobs.update(history, lambda s: s.model_copy(update={"state": JobState.CANCELLED}))
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "loading" in out and "==> attempt-2-trainer.log <==\nattempt two\n" in out


def test_fleet_status_and_watch_once(
    settings_env: dict[str, str], ami: str, fleet_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pitstop.fleet.aws import AwsClients
    from pitstop.fleet.runner import REBOOT_TAG

    endpoint = settings_env["PITSTOP_S3_ENDPOINT_URL"]
    common = ["--name", fleet_name, "--endpoint-url", endpoint]
    assert (
        main(["fleet", "up", "--instances", "2", "--types", "g4dn.xlarge,g5.xlarge", *common]) == 0
    )
    capsys.readouterr()
    aws = AwsClients(endpoint_url=endpoint)
    ids = sorted(
        i["InstanceId"]
        for i in aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[fleet_name])[
            "AutoScalingGroups"
        ][0]["Instances"]
    )
    assert len(ids) == 2
    jobs = jobs_store(settings_env)
    jobs.store.put(
        jobs.layout.instance(ids[0]),
        json.dumps(
            {
                "instance_id": ids[0],
                "state": "running",
                "job_id": None,
                "last_checkpoint": "3_Step-9.ckpt",
            }
        ).encode(),
    )

    assert main(["fleet", "status", *common, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["instance_id"]: r for r in doc["instances"]}
    assert doc["group"]["desired"] == 2 and set(rows) == set(ids)
    assert rows[ids[0]]["heartbeat_age_s"] is not None and rows[ids[0]]["supervisor"] == "running"
    assert (
        rows[ids[1]]["heartbeat_age_s"] is None and "type" in rows[ids[1]]
    )  # moto leaves it empty

    # ids[1] never spoke and the boot grace is 0: it is rebooted (and tagged), ids[0] is healthy
    watch = [
        "fleet",
        "watch",
        "--once",
        "--boot-grace",
        "0",
        "--silent-after",
        "600",
        "--reboot-grace",
        "0",
        *common,
    ]
    assert main([*watch, "--json"]) == 0
    actions = json.loads(capsys.readouterr().out)["actions"]
    assert [(a["action"], a["instance_id"]) for a in actions] == [("reboot", ids[1])]
    tags = aws.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ids[1]]}])["Tags"]
    assert any(t["Key"] == REBOOT_TAG for t in tags)

    # still silent after the reboot: terminated through the group, which replaces it
    # the reboot tag has 1 s resolution: wait until S3's clock is past it
    first = jobs.store.server_time()
    wait_for(
        lambda: (jobs.store.server_time() - first).total_seconds() >= 1.0, 5, "the next second"
    )
    assert main([*watch, "--json"]) == 0
    actions = json.loads(capsys.readouterr().out)["actions"]
    assert [(a["action"], a["instance_id"]) for a in actions] == [("terminate", ids[1])]
    main(["fleet", "down", "--delete", *common])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fleet", "up", "--instances", "-1", "--types", "g5.xlarge"], "--instances must be >= 0"),
        (["fleet", "up", "--instances", "1", "--types", "not a type"], "--types"),
        (
            ["fleet", "up", "--instances", "1", "--types", "g5.xlarge", "--tag", "novalue"],
            "KEY=VALUE",
        ),
        (["fleet", "scale", "two"], "N must be a number"),
        (["fleet", "scale", "1", "--name", "x"], "--name"),
        (["fleet", "iam-policy", "--account-id", "12"], "12 digits"),
        (["fleet", "ssh", "i-1", "--json"], "--json needs a command"),
        (["fleet", "exec", "--", "true"], "--all or instance"),
        (["report", "--out", "r.pdf"], ".html"),
        (["status", "--spot-price", "cheap"], "--spot-price must be a number"),
        (["logs", "no-such-job"], "no job"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, settings_env: dict[str, str]
) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **settings_env},
        timeout=60,
    )
    # argparse's usage may come first (the project's convention); then one error line
    lines = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert "Traceback" not in r.stderr and r.stderr.rstrip().endswith(lines[-1])
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert r.returncode == (1 if argv[0] == "logs" else 2)


def test_logs_of_a_job_without_logs_says_when_they_come(
    settings_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reward = tmp_path / "r.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    assert main(["submit", str(reward), "--json"]) == 0
    job_id = json.loads(capsys.readouterr().out)["id"]
    assert main(["logs", job_id]) == 0
    err = capsys.readouterr().err
    assert f"job {job_id}: no logs yet" in err and "on every heartbeat" in err
    assert "when an attempt ends" not in err
