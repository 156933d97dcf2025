"""``pitstop hyperparameters generate``'s rules: what each ``--KEY`` allows, and DRfC's
defaults overridden by the values given, checked against the console's ranges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pitstop.action_space.hyperparameter_specs import Spec
from pitstop.errors import UsageError


def allowed(spec: Spec) -> str:
    """``0.0..1`` / ``> 0`` / ``32|64|128`` / ``any``: what ``--KEY`` accepts, for its help."""
    if spec.choices:
        return "|".join(str(c) for c in spec.choices)
    if spec.low is not None and spec.high is not None:
        return f"{spec.low:g}..{spec.high:g}"
    if spec.low is not None:
        return f"{'>' if spec.above_low else '>='} {spec.low:g}"
    return "any"


def hyperparameters_with(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """DRfC's defaults with each value of ``overrides`` that is not None; a value outside
    the console's ranges is bad usage (the first problem, and how many more)."""
    from pitstop.action_space.hyperparameters import check_hyperparameters, default_hyperparameters

    doc = default_hyperparameters()
    doc.update({k: v for k, v in overrides.items() if v is not None})
    problems = check_hyperparameters(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"{problems[0]}{more}")
    return doc
