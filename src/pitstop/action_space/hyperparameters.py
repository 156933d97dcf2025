"""hyperparameters.json: DRfC's defaults, the console's ranges, a checker and a model.

Facts from REFERENCE.md section 5. Each key is described once in ``SPECS``
(``hyperparameter_specs``, free of pydantic for the CLI's --help); the
checker, the defaults and the CLI's ``--KEY`` options are all built from that table.
Unknown keys are kept (the trainer ignores them) and reported as warnings, not problems,
so a typo is visible without rejecting a job.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, ConfigDict

from pitstop.action_space.check import fmt, is_number
from pitstop.action_space.hyperparameter_specs import SPEC_BY_KEY, SPECS, Spec
from pitstop.action_space.io import loads_json, read_text
from pitstop.errors import CheckFailed


class Hyperparameters(BaseModel):
    """hyperparameters.json; unknown keys are kept so a file round-trips unchanged."""

    model_config = ConfigDict(extra="allow")

    batch_size: int | None = None
    beta_entropy: float | None = None
    discount_factor: float | None = None
    e_greedy_value: float | None = None
    epsilon_steps: int | None = None
    exploration_type: str | None = None
    loss_type: str | None = None
    lr: float | None = None
    num_episodes_between_training: int | None = None
    num_epochs: int | None = None
    stack_size: int | None = None
    term_cond_avg_score: float | None = None
    term_cond_max_episodes: int | None = None
    sac_alpha: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=4) + "\n"


def default_hyperparameters() -> dict[str, Any]:
    """DRfC's default hyperparameters.json (REFERENCE.md section 5), a fresh dict."""
    return {s.key: s.default for s in SPECS}


def _problem(spec: Spec, value: object) -> str | None:
    if spec.kind is str:
        if value not in spec.choices:
            return f"{value!r} is not one of {', '.join(repr(c) for c in spec.choices)}"
        return None
    if not is_number(value):
        return f"expected a number, got {value!r}"
    x = float(value)  # type: ignore[arg-type]
    if spec.kind is int and not x.is_integer():
        return f"{fmt(x)} is not a whole number"
    if spec.choices:
        if x not in spec.choices:
            allowed = ", ".join(str(c) for c in spec.choices)
            return f"{fmt(x)}; the console allows {allowed}"
        return None
    if spec.above_low and spec.low is not None and x <= spec.low:
        return f"{fmt(x)} must be above {fmt(spec.low)}"
    if spec.low is not None and x < spec.low:
        if spec.high is None:
            return f"{fmt(x)} is below {fmt(spec.low)}"
        return f"{fmt(x)}; the console allows {fmt(spec.low)} to {fmt(spec.high)}"
    if spec.high is not None and x > spec.high:
        low = "" if spec.low is None else f"{fmt(spec.low)} to "
        return f"{fmt(x)}; the console allows {low}{fmt(spec.high)}"
    return None


def check_hyperparameters(doc: object) -> list[str]:
    """One line per problem of a hyperparameters.json document, naming its key.

    Missing keys are fine (the trainer uses its defaults); unknown keys are not problems
    (see ``hyperparameter_warnings``).
    """
    if not isinstance(doc, dict):
        return [f"(document): expected a JSON object, got {type(doc).__name__}"]
    problems = []
    for key, value in doc.items():
        spec = SPEC_BY_KEY.get(key)
        if spec is None:
            continue
        message = _problem(spec, value)
        if message:
            problems.append(f"{key}: {message}")
    return problems


def hyperparameter_warnings(doc: object) -> list[str]:
    """Keys the trainer does not know (often a typo: ``learning_rate`` for ``lr``)."""
    if not isinstance(doc, dict):
        return []
    known = ", ".join(SPEC_BY_KEY)
    return [
        f"{key}: unknown key, ignored by the trainer (known: {known})"
        for key in doc
        if key not in SPEC_BY_KEY
    ]


def parse_hyperparameters(text: str, source: str) -> Hyperparameters:
    """Parse and check hyperparameters.json text (``InvalidInput`` / ``CheckFailed``)."""
    doc = loads_json(text, source)
    problems = check_hyperparameters(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckFailed(f"{source}: {problems[0]}{more}")
    return Hyperparameters.model_validate(doc)


def load_hyperparameters(path: str | os.PathLike[str]) -> Hyperparameters:
    return parse_hyperparameters(read_text(path), str(path))
