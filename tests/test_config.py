"""Settings: TOML + PITSTOP_* variables, validated; bad values are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitstop.config import load_settings
from pitstop.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pitstop.toml"
    p.write_text(text)
    return p


def test_defaults_from_the_contract(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, 'bucket = "my-bucket"\n'))
    assert (s.prefix, s.trainer, s.spot_poll_interval_s, s.idle_shutdown_s) == (
        "pitstop",
        "drfc",
        5.0,
        0.0,
    )
    assert s.imds_endpoint == "http://169.254.169.254"
    assert s.command_argv("reboot") == ["systemctl", "reboot"]
    assert s.command_argv("shutdown") == ["systemctl", "poweroff"]


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'bucket = "file-bucket"\npoll_interval_s = 10\n')
    monkeypatch.setenv("PITSTOP_POLL_INTERVAL_S", "2.5")
    s = load_settings(path)
    assert s.bucket == "file-bucket" and s.poll_interval_s == 2.5


def test_pitstop_table_is_accepted(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[pitstop]\nbucket = "tbl-bucket"\n'))
    assert s.bucket == "tbl-bucket"


def test_shutdown_command_is_split_shell_style(tmp_path: Path) -> None:
    s = load_settings(
        write(tmp_path, 'bucket = "b-1"\nshutdown_command = "sh -c \'echo off > /tmp/x\'"\n')
    )
    assert s.command_argv("shutdown") == ["sh", "-c", "echo off > /tmp/x"]


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("bucket = \n", {}, "not valid TOML"),
        ('prefix = "x"\n', {}, "required setting 'bucket' is missing"),
        (
            'bucket = "ok-bucket"\npoll_interval_s = -1\n',
            {},
            "poll_interval_s: Input should be greater than or equal to 0.01",
        ),
        (
            'bucket = "ok-bucket"\n',
            {"PITSTOP_STALL_TIMEOUT_S": "-5"},
            "PITSTOP_STALL_TIMEOUT_S: stall_timeout_s",
        ),
        ('bucket = "Bad_Bucket"\n', {}, "not a valid S3 bucket name"),
        ('bucket = "ok-bucket"\nbogus = 1\n', {}, "unknown setting 'bogus'"),
        ('bucket = "ok-bucket"\ntrainer = "sagemaker"\n', {}, "trainer"),
        (
            'bucket = "ok-bucket"\nbackoff_base_s = 100\nbackoff_max_s = 10\n',
            {},
            "backoff_max_s must be >= backoff_base_s",
        ),
        (
            'bucket = "ok-bucket"\nheartbeat_interval_s = 400\n',
            {},
            "heartbeat_interval_s must be at most half of lease_ttl_s",
        ),
        (
            'bucket = "ok-bucket"\nreboot_command = "\'unclosed"\n',
            {},
            "cannot split as a shell command",
        ),
        (
            'bucket = "ok-bucket"\ns3_endpoint_url = "localhost:9000"\n',
            {},
            "must be an http:// or https:// URL",
        ),
    ],
)
def test_bad_settings_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict[str, str], expected: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, text))
    msg = str(e.value)
    assert expected in msg and "\n" not in msg


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such settings file"):
        load_settings(tmp_path / "nope.toml")


def test_supervisor_refuses_a_power_command_that_does_not_exist(tmp_path: Path) -> None:
    s = load_settings(
        write(tmp_path, 'bucket = "ok-bucket"\nshutdown_command = "/no/such/off now"\n')
    )
    with pytest.raises(ConfigError) as e:
        s.check_supervisor()
    assert "shutdown_command: '/no/such/off' is not an executable on PATH" in str(e.value)
    ok = load_settings(
        write(
            tmp_path, 'bucket = "ok-bucket"\nshutdown_command = "true"\nreboot_command = "true"\n'
        )
    )
    ok.check_supervisor()  # no error
