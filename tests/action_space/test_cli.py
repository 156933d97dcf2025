"""The CLI: every command, bad files as one-line errors with exit 1 or 2, the PNG plot."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from pitstop.action_space import check_metadata, default_metadata
from pitstop.cli.main import main

SAMPLES = Path(str(resources.files("pitstop.action_space").joinpath("samples")))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_prints_the_console_grid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "action-space",
        "generate",
        "--max-steering",
        "30",
        "--steering-steps",
        "5",
        "--max-speed",
        "3",
        "--speed-steps",
        "3",
    )
    doc = json.loads(out)
    assert code == 0 and check_metadata(doc) == []
    assert [(a["steering_angle"], a["speed"]) for a in doc["action_space"]][:4] == [
        (-30, 1),
        (-30, 2),
        (-30, 3),
        (-15, 1),
    ]


@pytest.mark.parametrize(
    "options",
    [
        ["--max-speed", "2"],
        ["--max-speed", "4", "--steering-steps", "7", "--speed-steps", "3", "--min-speed", "1"],
        ["--max-speed", "3", "--min-steering", "-15", "--steering-steps", "4"],
        ["--max-speed", "4", "--corner-speed", "1.5", "--speed-steps", "2"],
        ["--speed-band", "10:4", "--speed-band", "30:1.5", "--speed-steps", "2"],
        ["--action=-30:1", "--action", "0:3", "--action", "30:1", "--index"],
        ["--steering-angles=-20,0,20", "--speeds", "1.5,3"],
        ["--continuous", "--max-speed", "3", "--algorithm", "sac"],
        ["--max-speed", "2", "--sensor", "STEREO_CAMERAS", "--sensor", "LIDAR"],
    ],
)
def test_every_generated_file_passes_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, options: list[str]
) -> None:
    out_file = tmp_path / "m.json"
    code, out, _ = run(capsys, "action-space", "generate", *options, "--out", str(out_file))
    assert code == 0 and out.startswith(f"wrote {out_file}")
    code, out, _ = run(capsys, "action-space", "check", str(out_file))
    assert code == 0 and "valid" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-speed", "5"], "action_space[1].speed: 5 m/s is above the console's 4"),
        (["--max-speed", "3", "--algorithm", "sac"], "training_algorithm: sac needs a continuous"),
        (["--max-speed", "3", "--steering-steps", "11", "--speed-steps", "3"], "33 actions"),
        (
            ["--max-speed", "2", "--sensor", "FRONT_FACING_CAMERA", "--sensor", "LEFT_CAMERA"],
            "sensor: exactly one camera needed",
        ),
        (["--steering-steps", "5"], "give --max-speed"),
        (["--action", "0:1", "--steering-steps", "3"], "explicit actions exclude the grid options"),
    ],
)
def test_generate_with_bad_options_is_usage_exit_2(
    capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    code, out, err = run(capsys, "action-space", "generate", *options)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("pitstop: error: ") and message in err


def bad_files() -> list[tuple[str, str, int, str]]:
    d = default_metadata
    cases: list[tuple[str, object, int, str]] = []

    def with_(**changes: object) -> dict[str, object]:
        doc = d()
        doc.update(changes)
        return doc

    wrong_type = d()
    wrong_type["action_space"][0]["speed"] = "fast"  # type: ignore[index]
    cases += [
        ("not JSON", "{oops", 2, "not JSON"),
        ("wrong types", wrong_type, 1, "action_space[0].speed: expected a finite number"),
        ("0 actions", with_(action_space=[]), 1, "action_space: 0 actions"),
        (
            "31 actions",
            with_(action_space=[{"steering_angle": i - 15, "speed": 1} for i in range(31)]),
            1,
            "action_space: 31 actions",
        ),
        (
            "speed 5",
            with_(
                action_space=[{"steering_angle": 0, "speed": 5}, {"steering_angle": 10, "speed": 1}]
            ),
            1,
            "action_space[0].speed: 5 m/s",
        ),
        ("SAC + discrete", with_(training_algorithm="sac"), 1, "training_algorithm: sac needs"),
        (
            "two cameras",
            with_(sensor=["FRONT_FACING_CAMERA", "STEREO_CAMERAS"]),
            1,
            "exactly one camera",
        ),
        ("a list", [1, 2], 1, "(document): expected a JSON object"),
    ]
    return [
        (name, doc if isinstance(doc, str) else json.dumps(doc), code, msg)
        for name, doc, code, msg in cases
    ]


BAD = bad_files()


@pytest.mark.parametrize(("text", "code", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
@pytest.mark.parametrize("command", ["check", "show", "edit"])
def test_bad_files_give_one_line_errors(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: str,
    text: str,
    code: int,
    message: str,
) -> None:
    f = tmp_path / "model_metadata.json"
    f.write_text(text)
    extra = ["--sort"] if command == "edit" else []
    got, out, err = run(capsys, "action-space", command, str(f), *extra)
    assert got == code
    if command == "check" and code == 1:
        # check lists every problem on stdout, one line each, naming the file and path
        assert message in out.splitlines()[0] and out.startswith(f"{f}: ")
        assert err == ""
    else:
        lines = err.splitlines()
        assert (
            len(lines) == 1 and lines[0].startswith(f"pitstop: error: {f}") and message in lines[0]
        )
        assert "Traceback" not in err


def test_missing_file_and_directory_are_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "action-space", "check", str(tmp_path / "none.json"))[0] == 2
    code, _, err = run(capsys, "action-space", "show", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_check_json_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "m.json"
    f.write_text(json.dumps({**default_metadata(), "training_algorithm": "sac"}))
    code, out, _ = run(capsys, "action-space", "check", str(f), "--json")
    doc = json.loads(out)
    assert (
        code == 1 and doc["valid"] is False and doc["problems"][0].startswith("training_algorithm")
    )


def test_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    f = tmp_path / "m.json"
    f.write_text('{"action_space": 3, "version": "5"}')
    proc = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", "action-space", "show", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "action_space: expected a list of actions or an object of ranges" in proc.stderr


def test_edit_shift_in_place_keeps_console_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "m.json"
    f.write_text((SAMPLES / "console-export.json").read_text())
    code, out, _ = run(
        capsys,
        "action-space",
        "edit",
        str(f),
        "--speed-shift",
        "0.5",
        "--drop",
        "0",
        "--out",
        str(f),
    )
    assert code == 0 and "9 actions" in out
    doc = json.loads(f.read_text())
    assert doc["action_space"][0] == {"steering_angle": -30.0, "speed": 2.5, "index": 0}
    assert doc["preprocess_type"] is None and doc["version"] == "4"


def test_edit_repairs_a_speed_above_the_limit_by_clamping(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = default_metadata()
    doc["action_space"][2]["speed"] = 5
    f = tmp_path / "m.json"
    f.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "action-space", "edit", str(f), "--speed-shift", "0")
    assert code == 0 and json.loads(out)["action_space"][2]["speed"] == 4.0


def test_edit_without_version_needs_set_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = default_metadata()
    del doc["version"]
    f = tmp_path / "old.json"
    f.write_text(json.dumps(doc))
    code, _, err = run(capsys, "action-space", "edit", str(f), "--sort")
    assert code == 1 and "version: missing" in err and "--set-version" in err
    code, out, _ = run(capsys, "action-space", "edit", str(f), "--set-version", "5")
    assert code == 0 and json.loads(out)["version"] == "5"


def test_edit_that_breaks_a_rule_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "m.json"
    f.write_text(json.dumps(default_metadata()))
    code, out, err = run(
        capsys,
        "action-space",
        "edit",
        str(f),
        "--drop",
        "0",
        "--drop",
        "1",
        "--drop",
        "2",
        "--drop",
        "3",
    )
    assert code == 1 and out == "" and "action_space: 1 actions" in err


def test_from_track_oval(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "action-space", "from-track", "Oval_track", "--actions", "7")
    doc = json.loads(out)
    assert code == 0 and check_metadata(doc) == []
    assert {"steering_angle": 0.0, "speed": 4.0} in doc["action_space"]
    # what stderr says is what the file holds: the widest action covers the tightest corner
    need = float(err.split(" deg;")[0].rsplit("-> ", 1)[1])
    widest = max(abs(a["steering_angle"]) for a in doc["action_space"])
    assert f"widest action {widest:g} deg" in err and widest >= need


def test_from_track_help_states_its_assumptions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["action-space", "from-track", "--help"])
    out = capsys.readouterr().out
    for word in (
        "bicycle",
        "wheelbase",
        "0.164",
        "a_lat",
        "sqrt(a_lat * r)",
        "curvature",
        "moving average",
        "k-means",
    ):
        assert word in out, word


def test_from_track_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "action-space", "from-track", "Nowhere", "--actions", "5")
    assert code == 2 and "unknown track" in err
    code, _, err = run(capsys, "action-space", "from-track", "--actions", "5")
    assert code == 2 and "give a TRACK" in err


def test_show_table_and_png_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from matplotlib.image import imread

    png = tmp_path / "actions.png"
    code, out, _ = run(
        capsys, "action-space", "show", str(SAMPLES / "console-export.json"), "--plot", str(png)
    )
    assert code == 0
    assert "10 actions" in out and "-30" in out and f"plot: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(png)
    assert img.shape[0] > 400 and img.shape[1] > 600
    # the action dots are tab:blue (31, 119, 180): there must be a fair number of such pixels
    rgb = (img[:, :, :3] * 255).round()
    blue = (
        (abs(rgb[:, :, 0] - 31) < 8) & (abs(rgb[:, :, 1] - 119) < 8) & (abs(rgb[:, :, 2] - 180) < 8)
    ).sum()
    assert blue > 10 * 50


def test_show_continuous_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "action-space", "show", str(SAMPLES / "drfc-sac.json"))
    assert code == 0 and "continuous, sac" in out and "speed (m/s)" in out
    code, out, _ = run(capsys, "action-space", "show", str(SAMPLES / "drfc-sac.json"), "--json")
    assert json.loads(out)["metadata"]["training_algorithm"] == "sac"


def test_hyperparameters_generate_and_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "h.json"
    code, _, _ = run(
        capsys,
        "hyperparameters",
        "generate",
        "--lr",
        "0.0001",
        "--batch-size",
        "128",
        "--out",
        str(f),
    )
    doc = json.loads(f.read_text())
    assert code == 0 and doc["lr"] == 0.0001 and doc["batch_size"] == 128 and doc["num_epochs"] == 5
    code, out, _ = run(capsys, "hyperparameters", "check", str(f))
    assert code == 0 and "valid" in out
    code, _, err = run(capsys, "hyperparameters", "generate", "--num-epochs", "20")
    assert code == 2 and "num_epochs: 20; the console allows 3 to 10" in err
    f.write_text(json.dumps({"lr": 1, "learning_rate": 0.1}))
    code, out, err = run(capsys, "hyperparameters", "check", str(f))
    assert code == 1 and out.startswith(f"{f}: lr: 1;") and "learning_rate: unknown key" in err
    f.write_text("[")
    assert run(capsys, "hyperparameters", "check", str(f))[0] == 2


def test_bare_groups_print_help_and_exit_2_like_pitstop(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "action-space")
    assert code == 2 and "from-track" in out
    code, out, _ = run(capsys, "hyperparameters")
    assert code == 2 and "generate" in out
    assert main([]) == 2


def test_from_track_help_offers_only_what_it_takes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["action-space", "from-track", "--help"])
    text = capsys.readouterr().out
    assert "--continuous" not in text
    assert "sac needs a continuous space" in " ".join(text.split())


@pytest.mark.parametrize(("sample", "low"), [("drfc-sac.json", 0.5), ("drfc-discrete.json", 0.1)])
def test_a_plot_draws_the_console_speed_limit_of_its_kind(sample: str, low: float) -> None:
    from pitstop.action_space.io import parse_metadata
    from pitstop.action_space.plot import figure

    meta = parse_metadata((SAMPLES / sample).read_text(), sample)
    (box,) = [p for p in figure(meta).axes[0].patches if "console limits" in p.get_label()]
    assert box.get_y() == low and box.get_y() + box.get_height() == 4.0
    assert f"({low:g}..4 m/s)" in box.get_label()
