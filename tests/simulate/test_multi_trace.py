"""The fleet's zones at once: spot is up where any zone is up, an attempt runs in one zone at
that zone's price, and a move to another zone is one more restart. Hand-worked traces,
then the CLI (repeated --trace, a folder, FILE@PRICE, bad input), then the real traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitstop.cli.main import main
from pitstop.simulate.deadline import (
    DeadlineSetup,
    Zone,
    plan,
    simulate_deadline,
    spot_lower_bound,
)
from pitstop.simulate.engine import TrainingJob
from pitstop.simulate.traces import Trace, find_traces, load_trace

GAP = 600.0  # 10-minute ticks
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "spot-traces"


def _trace(pattern: str, name: str, repeat: int = 1) -> Trace:
    """'1' = spot capacity for one tick, '0' = none."""
    return Trace(name, GAP, tuple(c == "1" for c in pattern * repeat))


def _setup(hours: float, deadline_h: float) -> DeadlineSetup:
    """Every second billed (no first-hour refund): a move's cost is then its paid boot,
    which keeps the hand counts simple; the refund's own tests are in test_deadline.py."""
    return DeadlineSetup(
        TrainingJob(hours, checkpoint_minutes=15, boot_minutes=5), deadline_h, refunds=False
    )


def test_a_job_moves_to_the_zone_still_up_and_pays_one_restart_for_it() -> None:
    # zone a: 30 min of capacity, then none; zone b: none for 30 min, then capacity
    a = _trace("111" + "0" * 60, "a")
    b = _trace("000" + "1" * 60, "b")
    zones = [Zone(a, 0.9), Zone(b, 0.5)]
    r = simulate_deadline("greedy-deadline", zones, _setup(2, 4))
    # a: boot 5 min, 25 min trained, 15 kept (one checkpoint); b from minute 30: one more
    # boot of 5 min, then the 105 min left: done at minute 140
    assert r.met and r.moves == 1 and r.preemptions == 1
    assert r.wall_h == pytest.approx(140 / 60)
    assert r.spot_h == pytest.approx(140 / 60) and r.on_demand_h == 0
    assert r.cost == pytest.approx(0.9 * 30 / 60 + 0.5 * 110 / 60)


def test_ping_pong_between_two_zones_is_one_restart_per_move() -> None:
    # 20 minutes of capacity in turn: each window is a boot of 5 and one checkpoint of 15
    a = _trace("1100", "a", repeat=30)
    b = _trace("0011", "b", repeat=30)
    s = _setup(1, 2)
    r = simulate_deadline("spot-only", [Zone(a, 0.9), Zone(b, 0.9)], s)
    assert r.met and r.trained_h == pytest.approx(1.0)
    assert r.moves == 3 and r.preemptions == 3  # four attempts, a b a b
    assert r.spot_h == pytest.approx(4 * 20 / 60)  # each paid its boot
    assert r.wall_h == pytest.approx(80 / 60)
    # one zone alone trains 15 min in 40: its fourth checkpoint comes at 2 h 20 min, late
    alone = simulate_deadline("spot-only", a, s)
    assert not alone.met and alone.moves == 0


def test_the_cheapest_zone_up_takes_the_job() -> None:
    always = "1" * 40
    zones = [Zone(_trace(always, "dear"), 1.2), Zone(_trace(always, "cheap"), 0.4)]
    r = simulate_deadline("pitstop-deadline", zones, _setup(2, 3))
    assert r.met and r.moves == 0
    assert r.cost == pytest.approx(0.4 * (2 + 5 / 60))


def test_one_zone_is_the_single_trace_run() -> None:
    t = _trace("110001110000111111", "t", repeat=10)
    s = _setup(2, 4)
    for policy in ("pitstop-deadline", "greedy-deadline", "uniform-progress-deadline"):
        one = simulate_deadline(policy, t, s)
        zone = simulate_deadline(policy, [Zone(t, s.spot_price)], s)
        assert (one.cost, one.wall_h, one.met) == (zone.cost, zone.wall_h, zone.met)


def test_the_bound_uses_every_zone_and_the_cheapest_price() -> None:
    a = _trace("1100", "a", repeat=30)
    b = _trace("0011", "b", repeat=30)
    s = _setup(2, 3)
    # in 3 h, b is up 80 min and a 100 min: all of b's at 0.5, then 40 of a's at 0.9
    assert spot_lower_bound([Zone(a, 0.9), Zone(b, 0.5)], s) == pytest.approx(
        80 / 60 * 0.5 + 40 / 60 * 0.9
    )
    alone = spot_lower_bound(a, s)  # a's 100 min of spot, 20 min on-demand
    assert alone == pytest.approx(100 / 60 * s.spot_price + 20 / 60 * s.on_demand_price)


def test_plan_over_zones_meets_more_than_over_one() -> None:
    a = _trace("1100", "a", repeat=60)
    b = _trace("0011", "b", repeat=60)
    s = _setup(2, 3)
    both = plan([Zone(a, s.spot_price), Zone(b, s.spot_price)], s, starts=6)
    one = plan(a, s, starts=6)
    assert both.met_share == 1.0 and one.met_share == 1.0
    assert both.cost_mean < one.cost_mean
    assert both.trace.startswith("2 zones")


def _write(tmp_path: Path, name: str, data: list[int]) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps({"metadata": {"gap_seconds": 600}, "data": data}))
    return p


def test_cli_takes_repeated_traces_a_folder_and_prices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    # unavailable-is-1: 0 is capacity
    a = _write(zones, "a.json", [0, 0, 0] + [1] * 60)
    b = _write(zones, "b.json", [1, 1, 1] + [0] * 60)
    job = ["--hours", "2", "--deadline-hours", "4", "--policy", "greedy-deadline", "--json"]
    assert main(["simulate", "--trace", f"{a}@0.9", "--trace", f"{b}@0.5", *job]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [z["spot_price"] for z in doc["zones"]] == [0.9, 0.5]
    (r,) = doc["results"]
    assert (
        r["moves"] == 1
        and r["met"]
        # 30 min in a, which EC2 ends inside its first hour: free (AWS billing); then the
        # boot and the rest in b, let go when the job is done: billed
        and r["cost"] == pytest.approx(0.5 * 11 / 6, abs=1e-4)
    )
    assert main(["simulate", "--trace", str(zones), *job]) == 0  # the folder: the same zones
    doc = json.loads(capsys.readouterr().out)
    assert [z["trace"] for z in doc["zones"]] == ["zones/a", "zones/b"]
    assert doc["results"][0]["moves"] == 1
    plan_args = ["plan", "--trace", str(zones), "--hours", "2", "--deadline-hours", "3"]
    assert main([*plan_args, "--starts", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trace"].startswith("2 zones")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--trace", "{dir}/missing.json"], "trace file not found: {dir}/missing.json"),
        (["--trace", "{dir}/bad.json"], "{dir}/bad.json: not valid JSON"),
        (["--trace", "{dir}/a.json@cheap"], "the price after @ must be a number, got 'cheap'"),
        (["--trace", "{dir}/empty"], "no *.json traces under {dir}/empty"),
    ],
)
def test_cli_bad_zone_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    _write(tmp_path, "a.json", [0] * 40)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    args = [x.format(dir=tmp_path) for x in extra]
    job = ["--hours", "2", "--deadline-hours", "4"]
    for cmd in (["simulate", "--trace", str(tmp_path / "a.json"), *args, *job],
                ["plan", "--trace", str(tmp_path / "a.json"), *args, *job]):  # fmt: skip
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says.format(dir=tmp_path) in err[0], err


def test_several_traces_without_a_deadline_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _write(tmp_path, "a.json", [0] * 40)
    assert main(["simulate", "--trace", str(a), "--trace", str(a), "--hours", "1",
                 "--checkpoint-minutes", "15"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "work with --deadline-hours" in err[0]


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared/data/spot-traces is not beside the clone"
)
def test_real_zones_cost_less_and_finish_sooner_than_one() -> None:
    coll = SHARED / "availability" / "1-node" / "aws-02-15-2023"
    traces = [load_trace(p) for p in find_traces(coll)][:4]
    runs: dict[int, list[tuple[bool, float, float]]] = {1: [], 4: []}
    for offset in range(0, 1000, 100):
        s = DeadlineSetup(TrainingJob(8, 15, 5), 16, start_offset_h=offset)
        for k in runs:
            zones = [Zone(t, s.spot_price) for t in traces[:k]]
            r = simulate_deadline("pitstop-deadline", zones, s)
            runs[k].append((r.met, r.cost, r.wall_h))
    for k, rs in runs.items():
        assert all(met for met, _, _ in rs), k
    # on average over the start times, four zones are cheaper and sooner than one
    assert sum(c for _, c, _ in runs[4]) < sum(c for _, c, _ in runs[1])
    assert sum(w for _, _, w in runs[4]) < sum(w for _, _, w in runs[1])
