"""Output *folders* (``tune --out``, ``sweep --out``, ``analysis --out``, ``export --droa``,
``image render --out``) are checked before any work: a tune or a sweep runs for hours and
writes only at the end. One line naming the option and the problem, exit 2, nothing queued."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitstop.cli.common import out_dir
from pitstop.errors import UsageError
from tests.cli.test_bad_input import assert_one_line_error, objects
from tests.cli.test_newcomer_errors import pitstop, submitted


def bad_places(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Folders no command can write into, and what the message says of each."""
    (tmp_path / "a-file").write_text("x")
    return {
        "a file": (str(tmp_path / "a-file"), "is a file, not a directory"),
        "under a file": (str(tmp_path / "a-file" / "deeper" / "out"), "is a file, not a directory"),
        "read-only": ("/proc/pitstop-out", "cannot write in /proc"),
    }


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only"])
def test_a_folder_that_cannot_be_written_is_refused(where: str, tmp_path: Path) -> None:
    path, needle = bad_places(tmp_path)[where]
    with pytest.raises(UsageError, match=needle) as e:
        out_dir(path, "--out")
    assert str(e.value).startswith(f"--out {path}: ")


def test_a_new_folder_under_new_folders_is_taken_and_not_created(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "today" / "tune"
    assert out_dir(str(out)) == out
    assert not (tmp_path / "runs").exists()  # the check leaves nothing behind
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_taken_unless_it_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("keep me")
    assert out_dir(str(tmp_path)) == tmp_path
    with pytest.raises(UsageError, match="not empty; give a new directory"):
        out_dir(str(tmp_path), "--droa", empty=True)
    assert (tmp_path / "old.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]  # no probe left


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["tune", "{job}", "--world", "reInvent2019_track"], "--out"),
        (["analysis", "{job}"], "--out"),
        (["export", "{job}", "--checkpoint", "last"], "--droa"),
    ],
)
def test_a_job_command_refuses_the_folder_before_it_queues_or_writes(
    command: list[str], option: str, tmp_path: Path, settings_env: dict[str, str], s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    job_id = submitted(tmp_path, settings_env)
    before = objects(s3, bucket)
    path, needle = bad_places(tmp_path)["under a file"]
    args = [a.replace("{job}", job_id) for a in command]
    r = pitstop(*args, option, path, env=settings_env)
    assert_one_line_error(r, 2, f"{option} {path}", needle)
    assert objects(s3, bucket) == before  # no evaluation queued, nothing written


def test_sweep_refuses_its_folder_before_it_submits(
    tmp_path: Path, settings_env: dict[str, str], s3, bucket: str
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "reward.py").write_text("def reward_function(params):\n    return float({{ w }})\n")
    grid = tmp_path / "grid.yaml"
    grid.write_text("name: g\nreward_template: reward.py\nparameters:\n  w: [1.0, 2.0]\n")
    path, needle = bad_places(tmp_path)["read-only"]
    r = pitstop("sweep", str(grid), "--out", path, env=settings_env)
    assert_one_line_error(r, 2, f"--out {path}", needle)
    assert objects(s3, bucket) == []  # no job submitted


def test_image_render_refuses_a_file_as_its_folder(tmp_path: Path) -> None:
    path, needle = bad_places(tmp_path)["a file"]
    r = pitstop("image", "render", "--out", path, "--bucket", "my-bucket")
    assert_one_line_error(r, 2, f"--out {path}", needle)
    assert (tmp_path / "a-file").read_text() == "x"


def test_export_droa_refuses_a_folder_with_files_before_reading_the_model(
    tmp_path: Path, settings_env: dict[str, str]
) -> None:
    job_id = submitted(tmp_path, settings_env)  # no model yet: the folder is refused first
    out = tmp_path / "droa"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    r = pitstop("export", job_id, "--checkpoint", "last", "--droa", str(out), env=settings_env)
    assert_one_line_error(r, 2, f"--droa {out}", "not empty; give a new directory")
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert (out / "mine.txt").read_text() == "keep me"
