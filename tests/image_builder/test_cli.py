"""``pitstop image``: bad input is one line and exit 2; render writes every document."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitstop.cli.main import main


@pytest.fixture(autouse=True)
def _no_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PITSTOP_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parent", "windows-2022"], "unknown parent image 'windows-2022'"),
        (["--component-version", "1.0"], "bad semantic version '1.0'"),
        (["--pitstop-source", "pitstop>=0.1"], "pitstop source 'pitstop>=0.1'"),
        (["--instance-type", "big"], "instance types"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["image", "render", "--out", str(tmp_path / "o"), "--bucket", "my-bucket", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err


def test_missing_bucket_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "render", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "required setting 'bucket' is missing" in err and len(err.strip().splitlines()) == 1


def test_render_writes_every_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    rc = main(["image", "render", "--out", str(out), "--bucket", "my-bucket", "--parent", "dlami"])
    assert rc == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 6 and all(Path(p).is_file() for p in printed)
    assert "ssm:/aws/service/deeplearning/" in (out / "image-recipe.json").read_text()
    argv = ["image", "render", "--out", str(out), "--bucket", "my-bucket", "--json"]
    assert main(argv) == 0
    import json

    assert json.loads(capsys.readouterr().out)["files"] == printed


def test_bare_group_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image"]) == 2  # bad usage, as a bare `pitstop` is
    assert "render" in capsys.readouterr().out
