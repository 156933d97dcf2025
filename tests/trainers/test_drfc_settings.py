"""Settings the drfc trainer writes into DRfC's shell-read env files (issue 22, item 7).

``prefix`` ends up in ``DR_LOCAL_S3_CUSTOM_FILES_PREFIX`` (and the reward, metadata and
hyperparameter keys under it); DRfC evaluates run.env as shell, so the env-file grammar
refuses a prefix such as ``x;id``, ``../x`` or ``a//b``. Before the fix that refusal came
at every attempt start (every attempt crashed) while ``supervise --check`` said OK; now
``supervise --check`` and the start refuse it in one line naming the setting (exit 2).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pitstop.config import load_settings
from pitstop.errors import ConfigError, EnvValueRefused
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store
from pitstop.trainers.drfc import DrfcTrainer, check_settings, render_env_files
from tests.cli.test_bad_input import assert_one_line_error, pitstop
from tests.trainers.test_drfc import plan

BAD_PREFIXES = {
    "x;id": "';' not allowed",
    "../x": "'..' segment",
    "a//b": "empty segment",
    "x$(id)": "'$' '(' ')' not allowed",
    "a/.hidden": "starts with '.'",
}


@pytest.fixture
def drfc_home(tmp_path: Path) -> Path:
    home = tmp_path / "drfc"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "activate.sh").write_text("# a stand-in: never sourced here\n")
    return home


def _env(drfc_home: Path, prefix: str, **more: str) -> dict[str, str]:
    return {
        "PITSTOP_BUCKET": "ok-bucket",
        "PITSTOP_TRAINER": "drfc",
        "PITSTOP_DRFC_HOME": str(drfc_home),
        "PITSTOP_PREFIX": prefix,
        "PITSTOP_REBOOT_COMMAND": "true",
        "PITSTOP_SHUTDOWN_COMMAND": "true",
        **more,
    }


@pytest.mark.parametrize("prefix", sorted(BAD_PREFIXES))
def test_supervise_check_refuses_a_prefix_run_env_would_refuse(
    prefix: str, drfc_home: Path
) -> None:
    r = pitstop("supervise", "--check", env=_env(drfc_home, prefix))
    assert_one_line_error(r, 2, f"prefix: {prefix!r}", BAD_PREFIXES[prefix], "run.env")


@pytest.mark.parametrize("prefix", ["x;id", "../x", "a//b"])
def test_supervise_refuses_to_start_with_it(
    prefix: str, drfc_home: Path, tmp_path: Path, s3_endpoint: str
) -> None:
    env = _env(
        drfc_home,
        prefix,
        PITSTOP_S3_ENDPOINT_URL=s3_endpoint,
        PITSTOP_INSTANCE_ID="i-start",
        PITSTOP_IMDS_ENDPOINT="http://127.0.0.1:9",
        PITSTOP_STATE_DIR=str(tmp_path / "state"),
    )
    r = pitstop("supervise", "--log-format", "json", env=env)  # would run until stopped
    assert_one_line_error(r, 2, f"prefix: {prefix!r}")


@pytest.mark.parametrize("prefix", ["x;id", "../x", "a//b"])
def test_the_settings_refuse_it_where_the_trainer_is_made(
    prefix: str, drfc_home: Path, s3_endpoint: str
) -> None:
    settings = load_settings(
        None, bucket="ok-bucket", trainer="drfc", drfc_home=drfc_home, prefix=prefix
    )
    store = S3Store("ok-bucket", region="us-east-1", endpoint_url=s3_endpoint)
    with pytest.raises(ConfigError) as e:
        DrfcTrainer(settings, store, Layout(settings.prefix))
    assert str(e.value).startswith(f"prefix: {prefix!r}: ") and "\n" not in str(e.value)


@pytest.mark.parametrize("prefix", ["pitstop", "team-a/pitstop", "x.y/z_1"])
def test_plain_prefixes_pass(prefix: str, drfc_home: Path) -> None:
    r = pitstop("supervise", "--check", env=_env(drfc_home, prefix))
    assert r.returncode == 0 and "settings OK" in r.stdout, r.stderr


@pytest.mark.parametrize(
    "prefix",
    [*BAD_PREFIXES, "pitstop", "a/b/c", "a-b_c.d", "a/-b", "a/b;c", "a/..b", "x" * 300],
)
def test_the_check_refuses_exactly_what_rendering_an_attempt_refuses(
    prefix: str, tmp_path: Path
) -> None:
    settings = load_settings(None, bucket="my-bucket", region="eu-west-1", prefix=prefix)
    attempt = dataclasses.replace(
        plan(tmp_path), custom_files_prefix=Layout(settings.prefix).custom_files("oval-abc123")
    )
    try:
        render_env_files(attempt)
        renders = True
    except EnvValueRefused:
        renders = False
    try:
        check_settings(settings)
        passes = True
    except ConfigError:
        passes = False
    assert passes == renders


@pytest.mark.parametrize(
    ("extra", "needle"),
    [({"PITSTOP_REGION": "local"}, "region: 'local': not an AWS region")],
)
def test_other_values_drfc_writes_are_checked_too(
    extra: dict[str, str], needle: str, drfc_home: Path
) -> None:
    r = pitstop("supervise", "--check", env=_env(drfc_home, "pitstop", **extra))
    assert_one_line_error(r, 2, needle, "system.env")


def test_other_trainers_are_not_held_to_drfc_grammar(drfc_home: Path) -> None:
    env = {**_env(drfc_home, "a//b"), "PITSTOP_TRAINER": "simulated"}
    r = pitstop("supervise", "--check", env=env)
    assert r.returncode == 0, r.stderr
