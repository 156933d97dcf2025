"""Issue 27's newcomer mistakes through the real command: one line on stderr naming the path
or option and the problem, the right exit code, never a traceback, nothing half-written."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_bad_input import assert_one_line_error, objects


def pitstop(
    *args: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with ``env`` added to this environment and the ``drop`` variables unset."""
    full = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in drop}
    return subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
    )


def reward_file(tmp_path: Path) -> Path:
    path = tmp_path / "r.py"
    path.write_text("def reward_function(params):\n    return 1.0\n")
    return path


def submitted(tmp_path: Path, env: dict[str, str]) -> str:
    r = pitstop("submit", str(reward_file(tmp_path)), "--json", env=env)
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["id"])


# -- 1. an --out that cannot be written ------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("missing", "no such directory"),
        ("proc", "cannot write in /proc"),
        ("under-file", "is a file, not a directory"),
    ],
)
def test_export_out_that_cannot_be_written(
    where: str, needle: str, tmp_path: Path, settings_env: dict[str, str], s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    job_id = submitted(tmp_path, settings_env)
    before = objects(s3, bucket)
    (tmp_path / "somefile").write_text("x")
    out = {
        "missing": str(tmp_path / "nonexistent" / "dir" / "car.tar.gz"),
        "proc": "/proc/x.tar.gz",
        "under-file": str(tmp_path / "somefile" / "car.tar.gz"),
    }[where]
    r = pitstop("export", job_id, "--out", out, env=settings_env)
    assert_one_line_error(r, 2, f"--out {out}", needle)
    assert objects(s3, bucket) == before
    assert not [p for p in tmp_path.rglob("*") if ".tar.gz" in p.name]  # nor a temporary
    assert (tmp_path / "somefile").read_text() == "x"


def test_report_out_in_proc(settings_env: dict[str, str]) -> None:
    r = pitstop("report", "--out", "/proc/report.html", env=settings_env)
    assert_one_line_error(r, 2, "--out /proc/report.html", "cannot write in /proc")


def test_reward_preview_out_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file")
    out = str(blocker / "reward.png")
    r = pitstop("reward", "preview", str(reward_file(tmp_path)), "--out", out)
    assert_one_line_error(r, 2, f"--out {out}", f"{blocker} is a file, not a directory")
    assert blocker.read_text() == "I am a file"


def test_simulate_plot_under_a_file_and_a_jpg(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    r = pitstop("simulate", "--plot", str(blocker / "sim.png"))
    assert_one_line_error(r, 2, "--plot", "is a file, not a directory")
    # 7. another suffix: say what is supported, without suggesting sim.jpg.png
    r = pitstop("simulate", "--plot", str(tmp_path / "sim.jpg"))
    assert_one_line_error(r, 2, "--plot", "use a .png path")
    assert "sim.jpg.png" not in r.stderr
    assert not (tmp_path / "sim.jpg").exists() and not (tmp_path / "sim.jpg.png").exists()


def test_action_space_show_plot_under_a_file(tmp_path: Path) -> None:
    meta = tmp_path / "model_metadata.json"
    r = pitstop(
        "action-space", "generate", "--max-speed", "3", "--speed-steps", "3", "--out", str(meta)
    )
    assert r.returncode == 0, r.stderr
    (tmp_path / "blocker").write_text("x")
    plot = str(tmp_path / "blocker" / "a.png")
    r = pitstop("action-space", "show", str(meta), "--plot", plot)
    assert_one_line_error(r, 2, f"--plot {plot}", "is a file, not a directory")


def test_any_other_unwritable_path_is_one_line_not_a_traceback() -> None:
    """The entry point's last resort for a file error no command checked up front."""
    from pitstop.cli.failures import one_line

    err = NotADirectoryError(20, "Not a directory", "/tmp/blocker/x")
    assert one_line(err) == ("/tmp/blocker/x: Not a directory", 1)
    assert one_line(ValueError("a bug")) is None  # a bug keeps its traceback


# -- 2. AWS credentials and profile ----------------------------------------------------------


def aws_files(tmp_path: Path) -> dict[str, str]:
    """Empty AWS config and credentials files: nothing from this machine's ~/.aws."""
    for name in ("config", "credentials"):
        (tmp_path / name).write_text("")
    return {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }


def test_access_key_without_secret(tmp_path: Path, settings_env: dict[str, str]) -> None:
    env = {**settings_env, **aws_files(tmp_path), "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}
    r = pitstop("jobs", env=env, drop=("AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"))
    assert_one_line_error(r, 2, "AWS_SECRET_ACCESS_KEY", "set both AWS_ACCESS_KEY_ID")


def test_profile_that_does_not_exist(tmp_path: Path, settings_env: dict[str, str]) -> None:
    env = {**settings_env, **aws_files(tmp_path), "AWS_PROFILE": "nosuchprofile"}
    r = pitstop("jobs", env=env, drop=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
    assert_one_line_error(r, 2, "AWS_PROFILE=nosuchprofile", "no such profile")


# -- 3. a bucket that does not exist names where it came from ---------------------------------


def test_missing_bucket_names_its_source(settings_env: dict[str, str]) -> None:
    r = pitstop("jobs", "--bucket", "no-such-bucket-xyz", env=settings_env)
    assert_one_line_error(r, 1, "s3://no-such-bucket-xyz", "does not exist", "--bucket")
    assert "PITSTOP_BUCKET" not in r.stderr
    r = pitstop("jobs", env={**settings_env, "PITSTOP_BUCKET": "no-such-bucket-xyz"})
    assert_one_line_error(r, 1, "does not exist", "PITSTOP_BUCKET")
    r = pitstop("jobs", "--bucket", "b", env=settings_env)
    assert_one_line_error(r, 2, "--bucket b:", "not a valid S3 bucket name")
    assert "PITSTOP_BUCKET" not in r.stderr


# -- 4. a deadline in the past; 5. no pydantic "Value error," ---------------------------------


def test_past_deadline(tmp_path: Path, settings_env: dict[str, str], s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    job = tmp_path / "job.json"
    job.write_text('{"deadline": "2020-01-01T00:00:00Z", "max_hours": 1}')
    r = pitstop("submit", str(reward_file(tmp_path)), "--job", str(job), env=settings_env)
    assert_one_line_error(r, 2, "deadline 2020-01-01T00:00:00Z is in the past", "(now 20")
    assert "leaves -" not in r.stderr
    assert objects(s3, bucket) == []


def test_no_value_error_prefix(tmp_path: Path, settings_env: dict[str, str]) -> None:
    job = tmp_path / "job.json"
    job.write_text('{"pretrained": {"model_prefix": "a/../b"}}')
    r = pitstop("submit", str(reward_file(tmp_path)), "--job", str(job), env=settings_env)
    assert_one_line_error(r, 2, "pretrained: model_prefix 'a/../b': not a plain key prefix")
    assert "Value error" not in r.stderr
    r = pitstop("supervise", "--check", env={**settings_env, "PITSTOP_STARTUP_GRACE_S": "0.1"})
    assert_one_line_error(r, 2, "startup_grace_s must be >= poll_interval_s")
    assert "Value error" not in r.stderr


# -- 6. leaderboard's positional; 8. a subcommand's own usage ---------------------------------


def test_leaderboard_unknown_world_names_the_positional(settings_env: dict[str, str]) -> None:
    r = pitstop("leaderboard", "Nope", env=settings_env)
    assert_one_line_error(r, 2, "leaderboard WORLD: unknown world 'Nope'", "'pitstop worlds'")
    assert "--world" not in r.stderr


@pytest.mark.parametrize(
    ("argv", "prog", "extra"),
    [
        (("demo", "--kep"), "pitstop demo", "--kep"),
        (("completion", "bash", "extra"), "pitstop completion", "extra"),
        (("fleet", "iam-policy", "--acount-id", "1"), "pitstop fleet iam-policy", "--acount-id"),
    ],
)
def test_unknown_argument_shows_the_subcommand_usage(
    argv: tuple[str, ...], prog: str, extra: str
) -> None:
    r = pitstop(*argv)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"usage: {prog} "), r.stderr
    assert f"{prog}: error: unrecognized arguments: {extra}" in r.stderr.splitlines()[-1]


# -- 9. cancel twice ---------------------------------------------------------------------------


def test_cancel_twice_is_not_an_error(tmp_path: Path, settings_env: dict[str, str]) -> None:
    job_id = submitted(tmp_path, settings_env)
    assert pitstop("cancel", job_id, env=settings_env).returncode == 0
    again = pitstop("cancel", job_id, env=settings_env)
    assert again.returncode == 0, again.stderr
    assert f"{job_id} is already cancelled" in again.stdout and again.stderr == ""
    doc = json.loads(pitstop("cancel", job_id, "--json", env=settings_env).stdout)
    assert (doc["state"], doc["cancel_requested"]) == ("cancelled", False)
    assert_one_line_error(pitstop("cancel", "no-such-job", env=settings_env), 1, "no-such-job")


# -- 10. iam-policy when STS cannot answer ------------------------------------------------------


def test_iam_policy_without_sts_suggests_account_id(
    tmp_path: Path, settings_env: dict[str, str]
) -> None:
    env = {**settings_env, **aws_files(tmp_path)}
    r = pitstop(
        "fleet", "iam-policy", "--endpoint-url", "http://127.0.0.1:9", env=env,
    )  # fmt: skip
    assert_one_line_error(r, 1, "sts get-caller-identity", "--account-id")
    ok = pitstop("fleet", "iam-policy", "--account-id", "123456789012", env=env)
    assert ok.returncode == 0 and "123456789012" in ok.stdout, ok.stderr


# -- 11. NO_COLOR: only a non-empty value turns colour off --------------------------------------


def on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """The command's stdout when stdout is a terminal (a pseudo-terminal)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pitstop.cli.main", *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=120,
            env={k: v for k, v in {**os.environ, **env}.items() if k != "NO_COLOR"}
            | ({"NO_COLOR": env["NO_COLOR"]} if "NO_COLOR" in env else {}),
        )
        assert proc.returncode == 0, proc.stderr
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def test_empty_no_color_keeps_colour(tmp_path: Path, settings_env: dict[str, str]) -> None:
    submitted(tmp_path, settings_env)
    base = {**settings_env, "TERM": "xterm"}
    assert "\033[" in on_a_terminal("jobs", env={**base, "NO_COLOR": ""})
    assert "\033[" not in on_a_terminal("jobs", env={**base, "NO_COLOR": "1"})
