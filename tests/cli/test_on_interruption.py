"""``on_interruption`` reaches the job spec from ``pitstop submit --on-interruption`` and from
a ``--job`` file (S3 on moto's server, the real command in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitstop.cli.main import main


def _submit(tmp_path: Path, *extra: str, fields: dict[str, object] | None = None) -> list[str]:
    reward = tmp_path / "fast.py"
    reward.write_text("def reward_function(params):\n    return 1.0\n")
    argv = ["submit", str(reward), "--json", *extra]
    if fields is not None:
        job = tmp_path / "job.json"
        job.write_text(json.dumps(fields))
        argv += ["--job", str(job)]
    return argv


def _spec(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, object]:
    assert main(argv) == 0
    job_id = json.loads(capsys.readouterr().out)["id"]
    assert main(["job", job_id, "--json"]) == 0
    spec = json.loads(capsys.readouterr().out)["spec"]
    assert isinstance(spec, dict)
    return spec


@pytest.mark.parametrize(
    ("extra", "fields", "expected"),
    [
        ((), None, "resume"),
        (("--on-interruption", "stop"), None, "stop"),
        ((), {"on_interruption": "stop"}, "stop"),
        (("--on-interruption", "resume"), {"on_interruption": "stop"}, "resume"),
    ],
    ids=["default", "option", "job-file", "option-wins"],
)
def test_on_interruption_reaches_the_spec(
    tmp_path: Path,
    settings_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    fields: dict[str, object] | None,
    expected: str,
) -> None:
    assert _spec(capsys, _submit(tmp_path, *extra, fields=fields))["on_interruption"] == expected


def test_a_bad_on_interruption_is_refused_in_one_line(
    tmp_path: Path, settings_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_submit(tmp_path, fields={"on_interruption": "pause"})) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "on_interruption" in err[0] and "job.json" in err[0], err
    with pytest.raises(SystemExit) as exc:
        main(_submit(tmp_path, "--on-interruption", "pause"))
    assert exc.value.code == 2
    assert "invalid choice: 'pause'" in capsys.readouterr().err
    assert main(["jobs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing was written
