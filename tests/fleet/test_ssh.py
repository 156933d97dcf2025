"""SSH against a real sshd on loopback: output and exit codes, host-key checks, parallel exec."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pitstop.cli.main import main
from pitstop.fleet.ssh import SshOptions, Target, run, run_many
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
