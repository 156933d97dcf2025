"""The fault-injection suite: a few seeds of chaos in CI; ``benchmarks/chaos.py`` runs more."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.chaos import check, run_chaos

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEEDS = [101, 102]  # both broke an invariant on the supervisor before issue 12


@pytest.mark.parametrize("seed", SEEDS)
def test_every_invariant_holds_under_seeded_chaos(
    seed: int, settings_env: dict[str, str], moto_server, tmp_path: Path
) -> None:
    run = run_chaos(seed, settings_env, moto_server.port, tmp_path, window_s=15.0)
    injected = sum(v for k, v in run.injected.items() if k != "leftover_trainers")
    assert injected >= 5, run.injected  # chaos happened
    assert check(run) == [], (run.injected, {j: d["state"] for j, d in run.docs.items()})
