"""Each key of hyperparameters.json: DRfC's default, the console's range, a short help.

Facts from REFERENCE.md section 5 (plus ``additive_noise``, the exploration type SAC
uses). Plain dataclasses, so the CLI can build its ``--KEY`` options without pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spec:
    key: str
    default: float | int | str
    help: str
    kind: type = float  # float, int or str
    low: float | None = None  # inclusive bounds for numbers
    high: float | None = None
    choices: tuple[Any, ...] = ()
    above_low: bool = False  # ``low`` itself is refused: the value must be above it


SPECS: tuple[Spec, ...] = (
    Spec("batch_size", 64, "experiences per gradient step", int, choices=(32, 64, 128, 256, 512)),
    Spec("beta_entropy", 0.01, "entropy bonus (exploration)", float, 0.0, 1.0),
    Spec("discount_factor", 0.99, "how far ahead rewards count", float, 0.0, 1.0),
    Spec("e_greedy_value", 0.05, "random-action share for e-greedy", float, 0.0, 1.0),
    Spec("epsilon_steps", 10000, "steps over which e-greedy decays", int, 1, None),
    Spec(
        "exploration_type",
        "categorical",
        "categorical (PPO), e-greedy, or additive_noise (SAC)",
        str,
        choices=("categorical", "e-greedy", "additive_noise"),
    ),
    Spec("loss_type", "huber", "loss function", str, choices=("huber", "mean squared error")),
    Spec("lr", 0.0003, "learning rate", float, 1e-8, 1e-3),
    Spec("num_episodes_between_training", 20, "episodes collected per training round", int, 1, 100),
    Spec("num_epochs", 5, "passes over the data per training round", int, 3, 10),
    Spec("stack_size", 1, "camera frames stacked per observation", int, 1, None),
    Spec(
        "term_cond_avg_score",
        350.0,
        "stop when the average reward reaches this",
        float,
        0.0,
        above_low=True,
    ),
    Spec("term_cond_max_episodes", 1000, "stop after this many episodes", int, 1, None),
    Spec("sac_alpha", 0.2, "SAC entropy temperature", float, 0.0, None),
)
SPEC_BY_KEY = {s.key: s for s in SPECS}
