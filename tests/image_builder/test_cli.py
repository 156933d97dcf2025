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
    wheel = tmp_path / "pitstop-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")
    args = ["--bucket", "my-bucket", "--parent", "dlami", "--wheel", str(wheel)]
    rc = main(["image", "render", "--out", str(out), *args])
    assert rc == 0
    captured = capsys.readouterr()
    printed = captured.out.split()
    assert len(printed) == 7 and all(Path(p).is_file() for p in printed)
    assert printed[-1] == str(out / "wheels" / wheel.name)  # to upload with the stack
    assert "ssm:/aws/service/deeplearning/" in (out / "image-recipe.json").read_text()
    assert main(["image", "render", "--out", str(out), *args, "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["files"] == printed
    # the component installs that wheel from the bucket, under its content hash
    component = (out / "components" / "pitstop-supervisor.yaml").read_text()
    assert "s3://my-bucket/pitstop/image-builder/wheels/" in component
    assert f"/{wheel.name}" in component and "pitstop==" not in component
    assert (
        "upload " in captured.err and "s3://my-bucket/pitstop/image-builder/wheels/" in captured.err
    )


def test_no_package_index_by_default() -> None:
    from pitstop.errors import UsageError
    from pitstop.image_builder.options import ImageOptions
    from pitstop.image_builder.render import render_components

    assert ImageOptions().source is None
    with pytest.raises(UsageError, match="no pitstop to install"):
        render_components(ImageOptions(), "[Unit]\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parent", "ubuntu-24.04", "--drfc-ref", "v5.3.3"], "Ubuntu 24.04, but DRfC v5.3.3"),
        (["--parent", "dlami-ubuntu-24.04", "--drfc-ref", "v5.3.3"], "--drfc-ref v6.0.4"),
    ],
)
def test_a_parent_drfc_cannot_install_on_is_refused(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["image", "render", "--out", str(tmp_path / "o"), "--bucket", "my-bucket", *args])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert "--parent ubuntu-22.04" in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("parent", "ref"),
    [
        ("ubuntu-22.04", "v5.3.3"),
        ("ubuntu-22.04", "v6.0.4"),
        ("ubuntu-24.04", "v6.0.4"),
        ("ami-0123456789abcdef0", "v5.3.3"),  # its Ubuntu is unknown here
        ("ubuntu-24.04", "0123abcd"),  # a commit: nothing to check against
    ],
)
def test_combinations_that_can_install_are_accepted(parent: str, ref: str) -> None:
    from pitstop.image_builder.options import ImageOptions

    assert ImageOptions(parent=parent, drfc_ref=ref).parent == parent


@pytest.mark.slow
def test_render_builds_a_wheel_of_this_checkout_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert main(["image", "render", "--out", str(out), "--bucket", "my-bucket"]) == 0
    wheel = Path(capsys.readouterr().out.split()[-1])
    assert wheel.parent == out / "wheels" and wheel.name.startswith("pitstop-")
    assert wheel.name in (out / "components" / "pitstop-supervisor.yaml").read_text()


def test_bare_group_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image"]) == 2  # bad usage, as a bare `pitstop` is
    assert "render" in capsys.readouterr().out
