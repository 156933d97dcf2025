"""``pitstop tune``'s search against a brute-force sweep, on the simulated lap model.

For each track and action space, every candidate speed scale is evaluated as the fleet
would (N evaluations of 3 laps, seeded: lap times differ run to run), first by the tune
search, then by a brute-force sweep of scales 1.00 to 3.00 in steps of 0.05. Prints, per
case, the winners' *expected* lap time (the lap model's clean lap plus its expected
off-track cost, so luck does not flatter either) and the evaluations each used.

    python benchmarks/tune_speed.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pitstop.evaluation import laps, tune

CASES = [
    ("reInvent2019_track", [0.6] * 5, "the console's default (5 x 0.6 m/s)"),
    ("reInvent2019_track", [0.5, 0.8, 1.0, 1.0, 0.8, 0.5], "mixed 0.5-1.0 m/s"),
    ("Oval_track", [0.6] * 5, "the console's default"),
    ("Spain_track", [0.7, 1.0, 1.2], "three actions 0.7-1.2 m/s"),
    ("2022_reinvent_champ_ccw", [0.6] * 5, "the console's default"),
]
PENALTY_S = 5.0
N = 3


def evaluator(world: str, speeds: list[float], seed: str):  # type: ignore[no-untyped-def]
    def evaluate(scale: float, n: int) -> tune.Candidate:
        bests: list[int | None] = []
        total = off = 0
        for i in range(n):
            run = laps.simulate(world, [v * scale for v in speeds], 3, f"{seed}-{scale}-{i}")
            done = [x.time_ms for x in run if x.status == laps.LAP_COMPLETE]
            bests.append(min(done) if done else None)
            total += len(run)
            off += sum(x.off_tracks for x in run)
        return tune.Candidate(scale, bests, total, off)

    return evaluate


def expected_s(world: str, speeds: list[float], scale: float) -> float:
    clean, rate = laps.expected(world, [v * scale for v in speeds])
    return clean + rate * (PENALTY_S + laps.RESET_S)


def main() -> None:
    print(
        f"{'track':26} {'actions':36} {'tune scale':>10} {'lap s':>7} {'evals':>6}"
        f" {'sweep scale':>11} {'lap s':>7} {'evals':>6} {'gap %':>6}"
    )
    gaps, ratios = [], []
    for world, speeds, what in CASES:
        policy = tune.TunePolicy(evaluations=N)
        history, best = tune.tune(policy, evaluator(world, speeds, "tune"))
        grid = [round(1.0 + 0.05 * i, 2) for i in range(41)]
        ev = evaluator(world, speeds, "sweep")
        brute = tune.winner([ev(s, N) for s in grid], policy.max_off_track_rate)
        assert best is not None and brute is not None
        t, b = expected_s(world, speeds, best.scale), expected_s(world, speeds, brute.scale)
        gap = 100 * (t - b) / b
        gaps.append(gap)
        ratios.append(len(history) / len(grid))
        print(
            f"{world:26} {what:36} {best.scale:10.3f} {t:7.2f} {len(history) * N:6d}"
            f" {brute.scale:11.2f} {b:7.2f} {len(grid) * N:6d} {gap:6.1f}"
        )
    print(
        f"worst gap {max(gaps):.1f} % (limit 10 %); tune used {100 * statistics.fmean(ratios):.0f} %"
        " of the sweep's evaluations on average"
    )


if __name__ == "__main__":
    main()
