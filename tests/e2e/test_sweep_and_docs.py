"""``pitstop sweep`` end to end, and docs/client.md's notebook example, run for real."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from pitstop.cli.main import main
from tests.e2e.harness import kill_trainers, start_fleet

pytestmark = pytest.mark.e2e
DOCS = Path(__file__).resolve().parents[2] / "docs" / "client.md"

TEMPLATE = (
    "def reward_function(params):\n"
    "    return float({{ w }} * (1.0 + params['speed']) + {{ bias }})  # {{ tag }}\n"
)


def test_sweep_runs_a_grid_and_writes_results(
    e2e_env, supervisors, tmp_path: Path, capsys, monkeypatch
) -> None:
    for k, v in e2e_env.items():
        monkeypatch.setenv(k, v)
    (tmp_path / "reward.py").write_text(TEMPLATE)
    (tmp_path / "grid.yaml").write_text(
        "name: grid\n"
        "reward_template: reward.py\n"
        "parameters:\n  w: [0.5, 2.0]\n  bias: [0.0, 1.0]\n  tag: ['"
        + e2e_env["PITSTOP_BUCKET"]
        + "']\n"
        "speed_scale: [1.0]\n"
        "job: {simulation: {checkpoint_interval_s: 0.1, checkpoints: 2}}\n"
    )
    assert main(["sweep", str(tmp_path / "grid.yaml"), "--dry-run", "--json"]) == 0
    points = json.loads(capsys.readouterr().out)["points"]
    assert len(points) == 4 and {p["w"] for p in points} == {0.5, 2.0}
    start_fleet(supervisors, e2e_env, "sw")
    out = tmp_path / "out"
    code = main(
        [
            "sweep",
            str(tmp_path / "grid.yaml"),
            "--max-parallel",
            "2",
            "--poll",
            "0.2",
            "--out",
            str(out),
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    supervisors.job_ids.extend(r["job_id"] for r in doc["rows"])
    assert code == 0, doc["rows"]
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [int(r["n"]) for r in rows] == [0, 1, 2, 3]
    assert all(r["state"] == "succeeded" and r["metric"] not in ("", None) for r in rows)
    assert (out / "metric.png").stat().st_size > 1000
    kill_trainers([r["job_id"] for r in rows])


def test_sweep_file_errors_are_one_line(tmp_path: Path, capsys, settings_env) -> None:
    (tmp_path / "reward.py").write_text("def reward_function(params):\n    return {{ nope }}\n")
    (tmp_path / "grid.yaml").write_text("reward_template: reward.py\nparameters: {w: [1]}\n")
    assert main(["sweep", str(tmp_path / "grid.yaml"), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "placeholder 'nope' has no values" in err and "\n" not in err
    (tmp_path / "grid.yaml").write_text("reward_template: reward.py\nparameters: {w: []}\n")
    assert main(["sweep", str(tmp_path / "grid.yaml"), "--dry-run"]) == 2
    assert "parameters.w: needs at least one value" in capsys.readouterr().err


def test_the_notebook_example_in_docs_client_md_runs(e2e_env, supervisors, capsys) -> None:
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)]
    start_fleet(supervisors, e2e_env, "sw")
    code = code.replace('"name": f"power-{power}"', '"name": f"power-{power}-" + TAG')
    exec(
        compile(code, str(DOCS), "exec"),
        {
            "BUCKET": e2e_env["PITSTOP_BUCKET"],
            "ENDPOINT": e2e_env["PITSTOP_S3_ENDPOINT_URL"],
            "TAG": e2e_env["PITSTOP_BUCKET"][-8:],
        },
    )
    lines = [ln for ln in capsys.readouterr().out.splitlines() if " succeeded " in ln]
    assert sorted(int(ln.split()[0]) for ln in lines) == [1, 2, 3]
    supervisors.job_ids.extend(ln.split()[1] for ln in lines)
