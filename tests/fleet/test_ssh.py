"""SSH against a real sshd on loopback: output and exit codes, host-key checks, parallel exec,\nthe interactive shell (piped and on a pty) and `logs --live`."""

from __future__ import annotations

import fcntl
import os
import pty
import queue
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from pitstop.cli.main import main
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.fleet.ssh import SshOptions, Target, run, run_many, shell
from tests.e2e.harness import jobs_store
from tests.fleet.conftest import Sshd, start_sshd


def _opts(tmp_path: Path, sshd: Sshd, **kw: object) -> SshOptions:
    return SshOptions(
        known_hosts=tmp_path / "known_hosts",
        identity=str(sshd.user_key),
        config=None,
        timeout_s=5,
        **kw,
    )  # type: ignore[arg-type]


def _target(sshd: Sshd, name: str = "box") -> Target:
    return Target(name, "127.0.0.1", sshd.port, sshd.user, str(sshd.user_key))


def test_command_output_and_exit_code(sshd: Sshd, tmp_path: Path) -> None:
    opts = _opts(tmp_path, sshd, accept_new_host_key=True)
    res = run(_target(sshd), "echo hello; echo oops >&2; exit 3", opts)
    assert res.error is None
    assert (res.stdout, res.stderr, res.exit_code) == ("hello\n", "oops\n", 3)
    # the key was saved: the next connection needs no --accept-new-host-key
    assert f"[127.0.0.1]:{sshd.port}" in (tmp_path / "known_hosts").read_text()
    again = run(_target(sshd), "true", _opts(tmp_path, sshd))
    assert again.exit_code == 0 and again.error is None


def test_unknown_host_key_is_refused_without_accept_new(sshd: Sshd, tmp_path: Path) -> None:
    res = run(_target(sshd), "echo never", _opts(tmp_path, sshd))
    assert res.exit_code is None
    assert "unknown host key" in (res.error or "") and "--accept-new-host-key" in (res.error or "")
    assert not (tmp_path / "known_hosts").exists()


def test_changed_host_key_is_refused_even_with_accept_new(sshd: Sshd, tmp_path: Path) -> None:
    run(_target(sshd), "true", _opts(tmp_path, sshd, accept_new_host_key=True))
    # the "replacement instance": a new host key on the same address
    sshd.proc.terminate()
    sshd.proc.wait(10)
    known = (tmp_path / "known_hosts").read_text()
    other = start_sshd(tmp_path / "other")
    try:
        line = known.replace(f"[127.0.0.1]:{sshd.port}", f"[127.0.0.1]:{other.port}")
        (tmp_path / "known_hosts").write_text(line)
        opts = SshOptions(
            known_hosts=tmp_path / "known_hosts",
            identity=str(other.user_key),
            config=None,
            timeout_s=5,
            accept_new_host_key=True,
        )
        res = run(Target("box", "127.0.0.1", other.port, other.user), "echo never", opts)
        assert res.exit_code is None and "HOST KEY CHANGED" in (res.error or "")
        assert (tmp_path / "known_hosts").read_text() == line  # not overwritten
    finally:
        other.proc.terminate()
        other.proc.wait(10)


def test_run_many_runs_in_parallel_with_a_result_per_host(sshd: Sshd, tmp_path: Path) -> None:
    opts = _opts(tmp_path, sshd, accept_new_host_key=True)
    run(_target(sshd), "true", opts)  # learn the key once, so parallel runs do not race on the file
    targets = [_target(sshd, f"i-{n}") for n in range(4)]
    targets.append(Target("i-down", "127.0.0.1", 1, sshd.user, str(sshd.user_key)))
    start = time.monotonic()
    results = run_many(targets, "sleep 1; echo $((6*7))", opts)
    elapsed = time.monotonic() - start
    assert [r.target for r in results] == ["i-0", "i-1", "i-2", "i-3", "i-down"]
    assert all(r.stdout == "42\n" and r.exit_code == 0 for r in results[:4])
    assert results[4].exit_code is None and results[4].error
    assert elapsed < 3.5, f"not parallel: {elapsed:.1f}s for 4 x 1 s"


def _ssh_config(tmp_path: Path, sshd: Sshd) -> Path:
    cfg = tmp_path / "ssh_config"
    cfg.write_text(
        f"Host i-*\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.user_key}\n"
    )
    return cfg


def test_cli_fleet_ssh_prints_output_and_returns_the_exit_code(
    sshd: Sshd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = [
        "--ssh-config",
        str(_ssh_config(tmp_path, sshd)),
        "--known-hosts",
        str(tmp_path / "kh"),
    ]
    assert main(["fleet", "ssh", "i-0abc", *flags, "--", "echo hi; exit 4"]) == 1
    assert "unknown host key" in capsys.readouterr().err
    assert (
        main(["fleet", "ssh", "i-0abc", *flags, "--accept-new-host-key", "--", "echo hi; exit 4"])
        == 4
    )
    assert capsys.readouterr().out == "hi\n"


def test_cli_fleet_exec_all_gives_a_result_per_instance(
    sshd: Sshd,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings_env: dict[str, str],
    aws: object,
    ami: str,
    fleet_name: str,
    moto_server: object,
) -> None:
    endpoint = settings_env["PITSTOP_S3_ENDPOINT_URL"]
    common = ["--name", fleet_name, "--endpoint-url", endpoint]
    assert (
        main(
            [
                "fleet",
                "up",
                "--instances",
                "3",
                "--types",
                "g4dn.xlarge",
                "--zones",
                "us-east-1a",
                *common,
            ]
        )
        == 0
    )
    capsys.readouterr()
    flags = [
        "--ssh-config",
        str(_ssh_config(tmp_path, sshd)),
        "--known-hosts",
        str(tmp_path / "kh"),
        "--accept-new-host-key",
    ]
    rc = main(["fleet", "exec", "--all", *flags, *common, "--json", "--", "echo", "up"])
    import json

    results = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert len(results) == 3 and len({r["target"] for r in results}) == 3
    assert all(r["stdout"] == "up\n" and r["exit_code"] == 0 for r in results)
    main(["fleet", "down", "--delete", *common])


def _cli(argv: list[str], stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_fleet_ssh_without_a_command_runs_a_shell_on_piped_stdin(
    sshd: Sshd, tmp_path: Path
) -> None:
    flags = [
        "--ssh-config",
        str(_ssh_config(tmp_path, sshd)),
        "--known-hosts",
        str(tmp_path / "kh"),
    ]
    script = "echo hello-$((40+2)); echo oops >&2; exit 3\n"
    refused = _cli(["fleet", "ssh", "i-0abc", *flags], script)
    assert refused.returncode == 1 and "unknown host key" in refused.stderr
    r = _cli(["fleet", "ssh", "i-0abc", *flags, "--accept-new-host-key"], script)
    assert r.returncode == 3, r.stderr
    # no pty for a pipe (as `ssh host < file`): no echo, no prompt, stderr apart
    assert "hello-42" in r.stdout and "oops" in r.stderr and "$((40+2))" not in r.stdout
    # the shell ends at the end of stdin too, with the last command's status
    r = _cli(["fleet", "ssh", "i-0abc", *flags], "echo again; false\n")
    assert (r.returncode, r.stdout) == (1, "again\n")


def test_shell_on_a_terminal_gets_a_pty_of_its_size_and_restores_the_terminal(
    sshd: Sshd, tmp_path: Path
) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 101, 0, 0))
    before = termios.tcgetattr(slave)
    opts = _opts(tmp_path, sshd, accept_new_host_key=True)
    result: dict[str, object] = {}

    def go() -> None:
        try:
            result["code"] = shell(_target(sshd), opts, stdin=slave, stdout=slave, stderr=slave)
        except Exception as e:
            result["error"] = e

    t = threading.Thread(target=go, daemon=True)
    t.start()
    out = b""
    sent = False
    deadline = time.monotonic() + 30
    while (t.is_alive() or select.select([master], [], [], 0)[0]) and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            out += os.read(master, 65536)
        if not sent and t.is_alive() and termios.tcgetattr(slave) != before:
            # raw mode is on: type like a user, Enter is a carriage return
            os.write(master, b"stty size; tty; echo hello-$((40+2)); exit 3\r")
            sent = True
    t.join(5)
    text = out.decode(errors="replace")
    assert result.get("code") == 3, (result, text)
    assert "hello-42" in text and "31 101" in text and "/dev/pts/" in text, text
    assert termios.tcgetattr(slave) == before  # the local terminal is cooked again
    os.close(master)
    os.close(slave)


def _history_on_sshd(tmp_path: Path, sshd: Sshd, job_id: str, lines: int) -> list[str]:
    """The live log layout of the `history` job (attempt 3 on i-abc) under a state dir."""
    log = tmp_path / "state" / "jobs" / job_id / "attempt-3.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {n}\n" for n in range(1, lines + 1)))
    return [
        "--state-dir",
        str(tmp_path / "state"),
        "--ssh-config",
        str(_ssh_config(tmp_path, sshd)),
        "--known-hosts",
        str(tmp_path / "kh"),
        "--accept-new-host-key",
    ]


def test_cli_logs_live_tails_the_current_attempts_log_on_its_instance(
    sshd: Sshd, tmp_path: Path, history: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = _history_on_sshd(tmp_path, sshd, history, 300)
    assert main(["logs", history, "--live", *flags]) == 0
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "state" / "jobs" / history / "attempt-3.log"
    assert out[0] == f"==> i-abc:{path} <=="
    assert out[1:] == [f"line {n}" for n in range(101, 301)]  # the last 200 lines


def test_cli_logs_live_without_a_live_owner_is_one_line_exit_1(
    sshd: Sshd, tmp_path: Path, history: str, settings_env: dict[str, str]
) -> None:
    flags = _history_on_sshd(tmp_path, sshd, history, 3)
    jobs_store(settings_env).update(
        history, lambda s: s.model_copy(update={"state": JobState.SUCCEEDED})
    )
    r = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", "logs", history, "--live", *flags],
        capture_output=True,
        text=True,
        env={**os.environ, **settings_env},
        timeout=60,
    )
    assert r.returncode == 1 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert "no instance is running it" in line and f"pitstop logs {history}" in line


def test_cli_logs_live_follow_moves_to_the_next_attempt_and_ends_with_the_job(
    sshd: Sshd, tmp_path: Path, history: str, settings_env: dict[str, str]
) -> None:
    flags = _history_on_sshd(tmp_path, sshd, history, 2)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pitstop.cli.main",
            "logs",
            history,
            "--live",
            "-f",
            *flags,
            "--interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **settings_env},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(ln) for ln in proc.stdout or []], daemon=True
    ).start()

    def until(text: str) -> list[str]:
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.5).rstrip("\n"))
            except queue.Empty:
                continue
            if seen[-1] == text:
                return seen
        raise AssertionError(f"no {text!r} in {seen}")

    try:
        jobs = jobs_store(settings_env)
        job_dir = tmp_path / "state" / "jobs" / history
        assert until("line 2")[-2:] == ["line 1", "line 2"]  # from the start (-n +1)
        with (job_dir / "attempt-3.log").open("a") as f:
            f.write("line 3, appended\n")
        until("line 3, appended")
        # a new attempt (a restart on the same instance): its log is followed instead
        (job_dir / "attempt-4.log").write_text("attempt four\n")

        def fourth(s: JobStatus) -> JobStatus:
            s.attempts.append(s.attempts[-1].model_copy(update={"n": 4}))
            return s

        jobs.update(history, fourth)
        assert until("attempt four")[-2:] == [
            f"==> i-abc:{job_dir / 'attempt-4.log'} <==",
            "attempt four",
        ]
        jobs.update(history, lambda s: s.model_copy(update={"state": JobState.CANCELLED}))
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
