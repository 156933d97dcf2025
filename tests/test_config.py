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
        1.0,  # DESIGN.md's contract says 5; issue 29 made it 1 (p99 notice-to-stop <= 2 s)
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
        (
            'bucket = "ok-bucket"\npoll_interval_s = 30\nstartup_grace_s = 10\n',
            {},
            "startup_grace_s must be >= poll_interval_s",
        ),
        ('bucket = "ok-bucket"\nstall_timeout_s = 1e9\n', {}, "stall_timeout_s"),
        (
            'bucket = "ok-bucket"\n',
            {"PITSTOP_POLL_INTERVALL_S": "5"},
            "PITSTOP_POLL_INTERVALL_S: unknown setting; did you mean PITSTOP_POLL_INTERVAL_S?",
        ),
        (
            'bucket = "ok-bucket"\nstall_timeout = 60\n',
            {},
            "unknown setting 'stall_timeout'; did you mean 'stall_timeout_s'?",
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
            tmp_path,
            'bucket = "ok-bucket"\ntrainer = "simulated"\n'
            'shutdown_command = "true"\nreboot_command = "true"\n',
        )
    )
    ok.check_supervisor(environ={})  # no error


def _ok(tmp_path: Path, extra: str = "") -> str:
    return 'bucket = "ok-bucket"\nshutdown_command = "true"\nreboot_command = "true"\n' + extra


def test_supervisor_refuses_any_pitstop_variable_it_does_not_know(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, _ok(tmp_path, 'trainer = "simulated"\n')))
    with pytest.raises(ConfigError) as e:
        s.check_supervisor(environ={"PITSTOP_COLOUR": "red"})
    assert str(e.value).startswith("PITSTOP_COLOUR: unknown setting; not one of pitstop's")
    # what pitstop itself sets for a trainer's attempt, and the settings themselves, pass
    s.check_supervisor(environ={"PITSTOP_JOB_ID": "j-1", "PITSTOP_BUCKET": "ok-bucket"})


def test_supervisor_with_the_drfc_trainer_needs_a_drfc_checkout(tmp_path: Path) -> None:
    missing = tmp_path / "no-drfc"
    s = load_settings(write(tmp_path, _ok(tmp_path, f'drfc_home = "{missing}"\n')))
    with pytest.raises(ConfigError) as e:
        s.check_supervisor(environ={})
    assert f"drfc_home: {missing}: no such directory; the drfc trainer needs" in str(e.value)
    missing.mkdir()
    with pytest.raises(ConfigError, match=r"it has no bin/activate\.sh"):
        s.check_supervisor(environ={})
    (missing / "bin").mkdir()
    (missing / "bin" / "activate.sh").write_text("# a checkout's activation script\n")
    ok = load_settings(write(tmp_path, _ok(tmp_path, f'drfc_home = "{missing}"\n')))
    ok.check_supervisor(environ={})
    # a CLI on a laptop reads the same settings without a DRfC checkout
    assert load_settings(write(tmp_path, _ok(tmp_path))).trainer == "drfc"


def test_money_settings_default_to_a_small_cap_and_no_inbox_deadlines(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, 'bucket = "my-bucket"\n'))
    assert (s.max_on_demand_instances, s.inbox_deadlines) == (2, False)
    s = load_settings(
        write(tmp_path, 'bucket = "b-b"\nmax_on_demand_instances = 0\ninbox_deadlines = true\n')
    )
    assert (s.max_on_demand_instances, s.inbox_deadlines) == (0, True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "must be between 0 and 100 on-demand instances, got -1"),
        ("101", "must be between 0 and 100 on-demand instances, got 101"),
        ("true", "must be a whole number of on-demand instances, got True"),
        ("2.5", "max_on_demand_instances"),
    ],
)
def test_the_on_demand_cap_is_bounded_with_a_clear_message(
    tmp_path: Path, value: str, message: str
) -> None:
    path = write(tmp_path, f'bucket = "my-bucket"\nmax_on_demand_instances = {value}\n')
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    assert str(e.value).startswith(f"{path}: max_on_demand_instances: "), e.value
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_on_demand_cap_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PITSTOP_MAX_ON_DEMAND_INSTANCES", "1000")
    with pytest.raises(ConfigError, match=r"^PITSTOP_MAX_ON_DEMAND_INSTANCES: .*between 0 and 100"):
        load_settings(write(tmp_path, 'bucket = "my-bucket"\n'))
