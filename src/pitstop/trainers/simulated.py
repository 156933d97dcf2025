"""The simulated backend: a real child process (``simulated_run``) writing the DRfC layout."""

from __future__ import annotations

import sys

from pitstop.core.records import Simulation
from pitstop.trainers.base import AttemptPlan
from pitstop.trainers.processes import ProcessTrainer


class SimulatedTrainer(ProcessTrainer):
    def argv(self, plan: AttemptPlan) -> list[str]:
        return [sys.executable, "-m", "pitstop.trainers.simulated_run"]

    def extra_env(self, plan: AttemptPlan) -> dict[str, str]:
        sim = plan.spec.simulation or Simulation()
        return {"PITSTOP_SIMULATION": sim.model_dump_json()}
