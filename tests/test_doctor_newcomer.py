"""What a newcomer meets on a fresh instance (issue 27): the doctor's GPU line when Docker
fails, /tmp/sagemaker advice only once something ran, the settings file it read named in
its fix, ``supervise --check --json`` printing a document on error, one ``drfc_home``
default that the README shows, the demo's supervisor settings, and tune's waiting line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pitstop.config import load_settings
from pitstop.doctor import checks
from pitstop.doctor.checks import Doctor
from tests.test_demo import assert_readable_timeline

ROOT = Path(__file__).resolve().parents[1]


def cli(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PITSTOP_", "AWS_"))}
    return {**env, "PITSTOP_IMDS_ENDPOINT": "http://127.0.0.1:9", **extra}


def drfc_checkout(home: Path) -> Path:
    """Enough of a DRfC checkout for the doctor to reach Docker: activate.sh defining the
    dr-* commands, run.env and system.env."""
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "activate.sh").write_text("dr-start-training() { :; }\n")
    (home / "run.env").write_text("DR_WORLD_NAME=reInvent2019_track\n")
    (home / "system.env").write_text("DR_SIMAPP_SOURCE=awsdeepracercommunity/deepracer-simapp\n")
    return home


def test_without_docker_the_gpu_line_says_it_was_not_checked(tmp_path: Path) -> None:
    # a PATH with bash and git but no docker: `docker info` fails as on a bare instance
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "git"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    env = clean_env(
        PATH=str(bin_dir),
        PITSTOP_BUCKET="pitstop-doctor",
        PITSTOP_TRAINER="drfc",
        PITSTOP_DRFC_HOME=str(drfc_checkout(tmp_path / "drfc")),
        PITSTOP_STATE_DIR=str(tmp_path / "state"),
        PITSTOP_S3_ENDPOINT_URL="http://127.0.0.1:9",
        PITSTOP_INSTANCE_ID="i-doctor",
    )
    r = cli("doctor", "--json", env=env)
    assert r.returncode == 1
    found = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert found["activate"]["status"] == "ok"
    assert found["docker"]["status"] == "fail" and "docker: not found" in found["docker"]["detail"]
    assert found["gpu"]["status"] == "warn"
    assert found["gpu"]["detail"] == "not checked: needs Docker"
    text = cli("doctor", env=env).stdout.splitlines()
    assert any(re.match(r"warn +gpu +not checked: needs Docker$", line) for line in text), text


@pytest.fixture
def sagemaker_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The doctor's /tmp/sagemaker, moved where this test decides whether it exists."""
    path = tmp_path / "sagemaker"
    monkeypatch.setattr(checks, "SAGEMAKER_TMP", path)
    return path


def doctor_on(tmp_path: Path) -> Doctor:
    settings = load_settings(
        None, bucket="pitstop-doctor", trainer="simulated", state_dir=tmp_path / "state"
    )
    return Doctor(settings)


def test_no_private_tmp_advice_before_anything_ran(tmp_path: Path, sagemaker_tmp: Path) -> None:
    check = doctor_on(tmp_path).check_sagemaker_tmp()
    assert check.status == "ok" and "first attempt" in check.detail
    assert "PrivateTmp" not in check.line()


def test_private_tmp_advice_once_an_attempt_ran(tmp_path: Path, sagemaker_tmp: Path) -> None:
    log = tmp_path / "state" / "jobs" / "job-a" / "attempt-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("INFO: starting\n")
    check = doctor_on(tmp_path).check_sagemaker_tmp()
    assert check.status == "warn" and "an attempt ran here" in check.detail
    assert "PrivateTmp" in check.fix
    sagemaker_tmp.mkdir()
    assert doctor_on(tmp_path).check_sagemaker_tmp().status == "ok"


def test_bad_settings_name_the_file_to_fix(tmp_path: Path) -> None:
    bad = tmp_path / "pitstop.toml"
    bad.write_text("bucket = 3\n")
    r = cli("doctor", "--config", str(bad), env=clean_env())
    first = r.stdout.splitlines()[0]
    assert r.returncode == 1 and first.startswith("fail  settings")
    assert first.endswith(f"-> fix {bad}"), first
    # no file at all: the variables are what to fix
    r = cli("doctor", env=clean_env(PITSTOP_BUCKET="Not_A_Bucket"))
    first = r.stdout.splitlines()[0]
    assert r.returncode == 1 and "-> fix the PITSTOP_* variables" in first, first


def test_supervise_check_json_prints_a_document_on_error(tmp_path: Path) -> None:
    r = cli("supervise", "--check", "--json", env=clean_env(PITSTOP_BUCKET="Not_A_Bucket"))
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and "not a valid S3 bucket name" in doc["error"]
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("pitstop: error: ")
    # without --json: the one line only, nothing on stdout
    r = cli("supervise", "--check", env=clean_env(PITSTOP_BUCKET="Not_A_Bucket"))
    assert r.returncode == 2 and r.stdout == ""


def test_the_drfc_home_default_is_the_one_the_readme_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PITSTOP_DRFC_HOME", raising=False)
    monkeypatch.setenv("HOME", "/root")  # as systemd starts the supervisor
    default = load_settings(None, bucket="pitstop-doctor").drfc_home
    assert default == Path("/home/ubuntu/deepracer-for-cloud")
    shown = re.search(r'^drfc_home = "([^"]+)"', (ROOT / "README.md").read_text(), re.M)
    assert shown is not None and Path(shown.group(1)) == default


def test_the_kept_demos_supervisor_settings_pass_the_supervisors_check(tmp_path: Path) -> None:
    from pitstop.demo import supervisor_settings

    config = tmp_path / "supervisor.toml"
    config.write_text(supervisor_settings("http://127.0.0.1:9", tmp_path))
    r = cli("supervise", "--config", str(config), "--check", "--json", env=clean_env())
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["trainer"] == "simulated" and doc["bucket"] == "pitstop-demo"
    assert doc["s3_endpoint_url"] == "http://127.0.0.1:9"
    assert doc["state_dir"] == str(tmp_path / "state") and doc["poll_interval_s"] == 0.5


def test_tune_says_when_no_supervisor_has_claimed_its_evaluations() -> None:
    from pitstop.evaluation.runner import _waiting_line

    idle = _waiting_line(1.5, 3, {"a": "pending", "b": "pending", "c": "pending"})
    assert idle.startswith("scale 1.5: waiting for 3 of 3 evaluation(s) (pending 3)")
    assert "pitstop supervise" in idle
    busy = _waiting_line(1.5, 3, {"a": "pending", "b": "running"})
    assert "pending 1, running 1" in busy and "supervise" not in busy


def ctrl_c(proc: subprocess.Popen[str]) -> None:
    """Interrupt ``proc`` as a user would: Ctrl-C, and again if it is still there after
    30 s (CPython drops a KeyboardInterrupt that lands inside a ``__del__``); if it outlives
    both, it is killed and the test fails with what it printed on stderr."""
    import signal

    for _ in range(2):
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    rest = proc.stderr.read() if proc.stderr else ""
    raise AssertionError(f"{proc.args} outlived two Ctrl-C; its stderr: {rest[-2000:]}")


@pytest.mark.e2e
def test_the_supervisor_demo_keep_prints_runs_what_is_queued_after_it(tmp_path: Path) -> None:
    """``demo --keep``: its timeline, the settings that reach its kept S3 server (``pitstop
    jobs`` there), its folder and the dashboard line; then ``pitstop evaluate`` on its job:
    the supervisor line it printed takes the evaluation to succeeded (nothing else would:
    the demo's supervisor ended).
    ``pitstop tune`` meanwhile says on stderr what it queued and, with no supervisor, what it
    waits for and why."""
    import signal

    from tests.helpers import wait_for

    env = clean_env(TMPDIR=str(tmp_path))
    demo = subprocess.Popen(
        [sys.executable, "-m", "pitstop.cli.main", "demo", "--keep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    supervisor: subprocess.Popen[str] | None = None
    try:
        lines: list[str] = []

        def printed_supervisor() -> bool:
            lines.append(demo.stdout.readline())  # type: ignore[union-attr]
            return "pitstop supervise --config" in lines[-1]

        wait_for(printed_supervisor, 240, "demo --keep's supervisor line")
        text = "".join(lines)
        assert_readable_timeline(text)  # the timeline, printed before the settings
        export = next(line for line in lines if line.strip().startswith("export "))
        env.update(re.findall(r"(\w+)=(\S+)", export))
        job = re.search(r"pitstop job (\S+)", text)
        assert job is not None
        # the kept server answers pitstop's commands: the training job and the evaluation
        # it queued when it succeeded
        jobs = json.loads(cli("jobs", "--json", env=env).stdout)
        assert len(jobs) == 2 and {j["state"] for j in jobs} == {"succeeded"}
        (kept,) = tmp_path.glob("pitstop-demo-*")  # --keep keeps the folder, and says where
        assert (kept / "supervisor.log").is_file() and str(kept) in text
        assert any(line.strip().startswith("pitstop serve --port") for line in lines), text
        command = lines[-1].split()
        assert command[:3] == ["pitstop", "supervise", "--config"]
        r = cli("evaluate", job.group(1), "--world", "Oval_track", env=env)
        assert r.returncode == 0, r.stderr
        eval_id = r.stdout.split()[-1]
        # tune with no supervisor: it says what it queued, then what it waits for and why
        tune = subprocess.Popen(
            [sys.executable, "-m", "pitstop.cli.main", "tune", job.group(1), "--world",
             "Oval_track", "--evaluations", "1", "--out", str(tmp_path / "tune")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        said: list[str] = []
        try:

            def waiting() -> bool:
                said.append(tune.stderr.readline())  # type: ignore[union-attr]
                return "waiting for" in said[-1] or tune.poll() is not None

            wait_for(waiting, 60, "tune's waiting line")
        finally:
            ctrl_c(tune)
        assert said[0].startswith("scale 1: 1 evaluation(s) queued"), said
        assert said[-1].startswith("scale 1: waiting for 1 of 1 evaluation(s) (pending 1)"), said
        assert "is a supervisor running on this bucket (pitstop supervise)?" in said[-1]
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "pitstop.cli.main", *command[1:]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )

        def state() -> str | None:
            jobs = json.loads(cli("jobs", "--json", env=env).stdout)
            found = [j["state"] for j in jobs if j["id"] == eval_id]
            return found[0] if found and found[0] in ("succeeded", "failed") else None

        assert wait_for(state, 120, "the evaluation to end", interval=0.5) == "succeeded"
    finally:
        for p in (supervisor, demo):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGINT)
                p.wait(60)
