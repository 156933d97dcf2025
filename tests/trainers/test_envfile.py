"""Values pitstop writes into DRfC's shell-read run.env/system.env: a strict grammar per key.

DRfC's activate.sh word-splits each file and runs ``eval "export $var=$val"``, so a value
with shell syntax in it is a command. Each test below is a value that would have reached
the file on main (which only refused whitespace).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pitstop.errors import EnvValueRefused, TrainerError
from pitstop.trainers.drfc import render_env_files
from pitstop.trainers.envfile import GRAMMAR, check_env_file, check_value
from tests.trainers.test_drfc import plan

SHELL = [
    "x;touch${IFS}INJECTED;",
    "$(id)",
    "`id`",
    "a|b",
    "a&b",
    "a>b",
    "a'b",
    'a"b',
    "a\\b",
    "a*",
    "a?",
    "[a]",
    "~root",
    "a=b",
    "a\nb",
    "a b",
    "a\tb",
    "a#b",
    "{a,b}",
    "!a",
]


@pytest.mark.parametrize(
    "field",
    ["model_prefix", "pretrained_prefix", "custom_files_prefix", "bucket", "region"],
)
@pytest.mark.parametrize("value", ["models/x;touch${IFS}INJECTED;/attempt-1", "a$(id)b"])
def test_plan_values_with_shell_syntax_are_refused(field: str, value: str, tmp_path: Path) -> None:
    bad = dataclasses.replace(plan(tmp_path), **{field: value})
    with pytest.raises(EnvValueRefused) as e:
        render_env_files(bad)
    msg = str(e.value)
    assert "\n" not in msg and (msg.startswith("run.env: ") or msg.startswith("system.env: "))
    assert repr(value.rstrip("/")) in msg or repr(value) in msg


def test_spec_values_are_checked_too(tmp_path: Path) -> None:
    p = plan(tmp_path)
    spec = p.spec.model_copy(update={"world": "Oval;id", "race_type": "TIME_TRIAL"})
    with pytest.raises(EnvValueRefused, match="DR_WORLD_NAME"):
        render_env_files(dataclasses.replace(p, spec=spec))
    spec = p.spec.model_copy(update={"race_type": "TIME_TRIAL$(id)"})
    with pytest.raises(EnvValueRefused, match="DR_RACE_TYPE"):
        render_env_files(dataclasses.replace(p, spec=spec))
    with pytest.raises(EnvValueRefused, match="DR_WORKERS"):
        render_env_files(p, workers=100)


@pytest.mark.parametrize("key", sorted(GRAMMAR))
@pytest.mark.parametrize("value", SHELL)
def test_no_key_admits_shell_syntax(key: str, value: str) -> None:
    with pytest.raises(EnvValueRefused):
        check_value("run.env", key, value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DR_LOCAL_S3_MODEL_PREFIX", "models/my-job-1/attempt-2"),
        ("DR_LOCAL_S3_PRETRAINED_PREFIX", ""),
        ("DR_LOCAL_S3_PRETRAINED_CHECKPOINT", "last"),
        ("DR_LOCAL_S3_PRETRAINED", "True"),
        ("DR_WORLD_NAME", "2022_reinvent_champ_ccw"),
        ("DR_RACE_TYPE", "HEAD_TO_BOT"),
        ("DR_AWS_APP_REGION", "us-gov-west-1"),
        ("DR_LOCAL_S3_BUCKET", "my.deepracer-bucket"),
        ("DR_WORKERS", "4"),
        ("DR_EVAL_OFF_TRACK_PENALTY", "2.5"),
        ("DR_CLOUD", "aws"),
    ],
)
def test_ordinary_values_pass(key: str, value: str) -> None:
    assert check_value("run.env", key, value) == value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DR_LOCAL_S3_MODEL_PREFIX", "models/../other"),
        ("DR_LOCAL_S3_MODEL_PREFIX", "/models/x"),
        ("DR_LOCAL_S3_MODEL_PREFIX", "models//x"),
        ("DR_LOCAL_S3_MODEL_PREFIX", ""),
        ("DR_LOCAL_S3_PRETRAINED", "yes"),
        ("DR_RACE_TYPE", "DRAG_RACE"),
        ("DR_WORKERS", "0"),
        ("DR_LOCAL_S3_BUCKET", "Bucket"),
        ("DR_AWS_APP_REGION", "moon"),
    ],
)
def test_values_outside_their_grammar_are_refused(key: str, value: str) -> None:
    with pytest.raises(EnvValueRefused, match=key):
        check_value("run.env", key, value)


def test_a_file_with_an_unknown_key_or_a_stray_line_is_refused() -> None:
    check_env_file("run.env", "# managed by pitstop\nDR_WORKERS=2\n\n")
    with pytest.raises(EnvValueRefused, match=r"DR_SOMETHING_NEW.*no grammar"):
        check_env_file("run.env", "DR_SOMETHING_NEW=1\n")
    with pytest.raises(EnvValueRefused, match="line 2"):
        check_env_file("run.env", "DR_WORKERS=2\ntouch INJECTED\n")
    with pytest.raises(EnvValueRefused, match="line 1"):
        check_env_file("run.env", "export DR_WORKERS=2\n")


def test_refusals_are_trainer_errors() -> None:
    assert issubclass(EnvValueRefused, TrainerError)


def test_drfc_home_reaches_bash_as_an_argument_not_as_shell_text(tmp_path: Path) -> None:
    """The checkout path (a setting) travels as ``$1``: a path with shell syntax runs nothing."""

    from pitstop.trainers.drfc import DrfcTrainer

    home = tmp_path / "dr'fc $(touch PWNED) `touch PWNED2`"
    (home / "bin").mkdir(parents=True)
    # the smallest checkout: an activate.sh defining the dr-* commands the backend calls
    (home / "bin" / "activate.sh").write_text(
        "function dr-start-training { :; }\n"
        'function dr-upload-custom-files { echo "dr-upload-custom-files $PWD" >> calls.log; }\n'
    )
    (home / "system.env").write_text("DR_CLOUD=local\n")
    (home / "run.env").write_text("DR_RUN_ID=0\n")
    (home / "custom_files").mkdir()
    trainer = DrfcTrainer.__new__(DrfcTrainer)
    trainer.home = home
    argv = trainer._dr("dr-upload-custom-files")
    r = subprocess.run(
        argv,
        cwd=tmp_path,
        env={**os.environ, "DR_DIR": str(home), "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert "dr-upload-custom-files" in (home / "calls.log").read_text()
    assert not list(tmp_path.rglob("PWNED*"))
