"""`pitstop simulate`: output, plot, trace readings and bad input (one line, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitstop.cli.main import main
from pitstop.errors import InvalidInput
from pitstop.simulate.traces import find_traces, load_trace


def write_trace(tmp_path: Path, data: list[int], gap: int = 600, name: str = "t.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps({"metadata": {"gap_seconds": gap}, "data": data}))
    return p


def test_readings(tmp_path: Path) -> None:
    p = write_trace(tmp_path, [0, 1, 2])
    assert load_trace(p).available == (True, False, False)  # unavailable-is-1 (default)
    assert load_trace(p, "available-is-1").available == (False, True, True)
    assert find_traces(tmp_path) == [p]


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # unavailable-is-1: "0" is capacity; 1 h job, C = 15 min, same hand numbers as
    # test_engine's one-interruption case
    p = write_trace(tmp_path, [0, 0, 0, 1] + [0] * 20)
    args = ["simulate", "--trace", str(p), "--hours", "1", "--checkpoint-minutes", "15"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by = {r["policy"]: r for r in doc["results"]}
    assert set(by) == {"pitstop", "restart-from-scratch", "notify-only", "on-demand"}
    assert by["pitstop"]["wall_h"] == 1.5 and by["pitstop"]["outcome"] == "succeeded"
    assert by["restart-from-scratch"]["wall_h"] == 1.75
    assert doc["trace_reading"] == "unavailable-is-1"


def test_text_output_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write_trace(tmp_path, [0, 0, 0, 1] + [0] * 20)
    out = tmp_path / "out.png"
    args = ["simulate", "--trace", str(p), "--hours", "1", "--checkpoint-minutes", "15"]
    assert main([*args, "--stall-rate", "0.5", "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pitstop" in text and "goodput" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--trace", "{missing}"], "not found"),
        (["--trace", "{bad}"], "not valid JSON"),
        (["--trace", "{nogap}"], "gap_seconds"),
        (["--hours", "-8"], "--hours"),
        (["--hours", "abc"], "--hours"),
        (["--policy", "bogus"], "unknown policy"),
        (["--trace-reading", "sideways"], "--trace-reading"),
        (["--start-offset", "999"], "past the end"),
        (["--stall-rate", "-1"], "--stall-rate"),
        (["--plot", "{plotdir}"], "use a .png path"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    good = write_trace(tmp_path, [0] * 24)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "nogap.json").write_text(json.dumps({"data": [0, 1]}))
    paths = {
        "missing": str(tmp_path / "missing.json"),
        "bad": str(tmp_path / "bad.json"),
        "nogap": str(tmp_path / "nogap.json"),
        "plotdir": str(tmp_path / "plots"),
    }
    opts = {"--trace": str(good), "--hours": "1", "--checkpoint-minutes": "15"}
    for k, v in zip(extra[::2], extra[1::2], strict=True):
        opts[k] = v.format(**paths)
    argv = ["simulate"] + [x for kv in opts.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "plots.png").exists()  # nothing written under another name


def test_empty_trace_dir_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        find_traces(tmp_path)


def test_help_names_the_default_reading(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "unavailable-is-1 (default)" in text and "Can't Be Late" in text


def test_the_plot_runs_until_the_slowest_policy_ends_and_its_legend_covers_no_curve(
    tmp_path: Path,
) -> None:
    from pitstop.simulate import engine
    from pitstop.simulate.plot import figure

    trace = load_trace(write_trace(tmp_path, [0, 0, 0, 1, 1, 0, 0, 1] * 30))
    setup = engine.Setup(job=engine.TrainingJob(2, 15, 5), record=True)
    results = [engine.simulate(p, trace, setup) for p in engine.POLICIES]
    slowest = max(r.wall_h for r in results)
    assert slowest > 2 * min(r.wall_h for r in results)  # a spread worth framing
    fig = figure(trace, results, offset_h=0, hours=2)
    fig.canvas.draw()
    main = next(r.wall_h for r in results if r.policy == "pitstop")
    in_scale = max(r.wall_h for r in results if r.wall_h <= 1.6 * max(2, main))
    for ax in fig.axes:  # off-scale runs: tests/test_pictures_simulate.py
        assert ax.get_xlim()[1] >= in_scale
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert len(legend.get_texts()) == len(results)
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent())


def test_deadline_json_reports_met_missed_and_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # spot for the first half hour only, then never: spot-only misses, the shipped policy
    # pays on-demand for the rest and meets it
    p = write_trace(tmp_path, [0, 0, 0] + [1] * 60)
    args = ["simulate", "--trace", str(p), "--hours", "2", "--deadline-hours", "3"]
    assert main([*args, "--checkpoint-minutes", "15", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by = {r["policy"]: r for r in doc["results"]}
    assert by["spot-only"]["outcome"] == "missed" and not by["spot-only"]["met"]
    assert by["pitstop-deadline"]["met"] and by["pitstop-deadline"]["on_demand_h"] > 0
    assert by["on-demand"]["cost_vs_on_demand"] == 1.0
    assert by["pitstop-deadline"]["cost_vs_on_demand"] < 1.0


def test_plan_answers_cost_chance_and_on_demand_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = write_trace(tmp_path, ([0] * 6 + [1] * 12) * 30)  # spot one hour in three
    args = ["plan", "--hours", "2", "--deadline-hours", "4", "--trace", str(p), "--starts", "8"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["runs"] == 8 and doc["met_share"] == 1.0
    assert 0 < doc["on_demand_share"] < 1
    assert doc["cost_mean"] < doc["on_demand_cost"]
    assert main(args) == 0
    assert "chance of meeting the deadline  100%" in capsys.readouterr().out


def test_plan_shows_what_the_on_demand_cap_allows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    p = write_trace(tmp_path, ([0] * 6 + [1] * 12) * 30)  # spot one hour in three
    args = ["plan", "--hours", "2", "--deadline-hours", "4", "--trace", str(p), "--starts", "8"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["on_demand_cap"], doc["on_demand_running"], doc["on_demand_allowed"]) == (2, 0, 2)
    # a job the cap refuses waits for spot: on this trace it misses more often, pays less
    full = doc["if_cap_full"]
    assert full["policy"] == "spot-only" and full["met_share"] < doc["met_share"]
    monkeypatch.setenv("PITSTOP_MAX_ON_DEMAND_INSTANCES", "3")
    assert main([*args, "--on-demand-running", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["on_demand_cap"], doc["on_demand_running"], doc["on_demand_allowed"]) == (3, 3, 0)
    assert main([*args, "--on-demand-running", "3"]) == 0
    out = capsys.readouterr().out
    assert (
        "on-demand cap                   3 fleet-wide (max_on_demand_instances), 3 running" in out
    )
    assert "the cap is full" in out
    monkeypatch.setenv("PITSTOP_MAX_ON_DEMAND_INSTANCES", "-1")  # checked like every setting
    assert main(args) == 2
    assert "PITSTOP_MAX_ON_DEMAND_INSTANCES" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hours", "2", "--deadline-hours", "2"], "--deadline-hours must leave the training"),
        (["--hours", "2", "--deadline-hours", "3", "--policy", "pitstop"], "unknown policy"),
        (["--hours", "2", "--deadline-hours", "3", "--billing", "x"], "unknown --billing 'x'"),
        (
            ["--hours", "2", "--checkpoint-minutes", "15", "--billing", "per-second"],
            "--billing applies with --deadline-hours",
        ),
    ],
)
def test_deadline_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    p = write_trace(tmp_path, [0] * 10)
    assert main(["simulate", "--trace", str(p), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert main(["plan", "--trace", str(p), "--hours", "2", "--deadline-hours", "9"]) == 2
    assert "less than the deadline" in capsys.readouterr().err


def test_billing_aws_refunds_a_first_hour_interruption_and_per_second_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # spot for the first half hour only: the spot-only attempt EC2 ends at 30 min is free
    # under AWS billing, billed under per-second
    p = write_trace(tmp_path, [0, 0, 0] + [1] * 60)
    args = ["simulate", "--trace", str(p), "--hours", "2", "--deadline-hours", "3", "--json"]
    docs = {}
    for billing in ("aws", "per-second"):
        assert main([*args, "--policy", "spot-only", "--billing", billing]) == 0
        docs[billing] = json.loads(capsys.readouterr().out)
    assert docs["aws"]["billing"] == "aws" and docs["per-second"]["billing"] == "per-second"
    (aws,), (sec,) = docs["aws"]["results"], docs["per-second"]["results"]
    assert aws["cost"] == 0.0 and aws["preemptions"] == 1
    assert sec["cost"] == pytest.approx(0.918 * 0.5, abs=1e-3)
    assert main([*args[:-1], "--billing", "per-second"]) == 0
    assert "every second billed" in capsys.readouterr().out
