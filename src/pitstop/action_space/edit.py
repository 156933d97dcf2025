"""Editing an existing action space: shift or scale speeds, add, drop, sort, re-index.

Each edit is a pure function ``ModelMetadata -> ModelMetadata`` that keeps every other
key of the file. Speeds are clamped to the simulator's 0.1..4 m/s for discrete actions
(the console's 0.5..4 for continuous ranges): raising speed step by step on a model
that already drives well should stop at the limit, not produce an invalid file.

When the file's actions carry ``index`` keys, edits that move actions renumber them in
list order (the simulator ignores ``index`` and uses list order; the console reads it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pitstop.action_space import limits as L
from pitstop.action_space.generate import DECIMALS
from pitstop.action_space.models import Action, ContinuousSpace, ModelMetadata, Range, make_action
from pitstop.errors import UsageError


def _clamp(x: float, low: float, high: float) -> float:
    return round(min(max(x, low), high), DECIMALS) + 0.0


def _has_index(meta: ModelMetadata) -> bool:
    return any(a.index is not None for a in meta.actions)


def _renumber(actions: list[Action], indexed: bool) -> list[Action]:
    out = []
    for i, a in enumerate(actions):
        doc = a.model_dump(mode="json", exclude_unset=True)
        doc.pop("index", None)
        if indexed:
            doc["index"] = i
        out.append(Action.model_validate(doc))
    return out


def _replace(
    meta: ModelMetadata, actions: list[Action], indexed: bool | None = None
) -> ModelMetadata:
    keep = _has_index(meta) if indexed is None else indexed
    return meta.with_actions(_renumber(actions, keep))


def _set_speed(action: Action, speed: float) -> Action:
    doc = action.model_dump(mode="json", exclude_unset=True)
    doc["speed"] = speed
    return Action.model_validate(doc)


def dedupe(actions: Sequence[Action]) -> tuple[list[Action], int]:
    """Drop repeated (steering, speed) pairs, keeping the first; returns (actions, dropped)."""
    seen: set[tuple[float, float]] = set()
    out = []
    for a in actions:
        key = (a.steering_angle, a.speed)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out, len(actions) - len(out)


def map_speeds(meta: ModelMetadata, f: Callable[[float], float]) -> tuple[ModelMetadata, int]:
    """Apply ``f`` to every speed, clamp, and drop actions that became duplicates.

    Returns the new metadata and how many duplicate actions were dropped.
    """
    space = meta.action_space
    if isinstance(space, ContinuousSpace):
        lo = _clamp(f(space.speed.low), L.MIN_CONTINUOUS_SPEED, L.MAX_SPEED)
        hi = _clamp(f(space.speed.high), L.MIN_CONTINUOUS_SPEED, L.MAX_SPEED)
        doc = meta.to_dict()
        speed_doc = space.speed.model_dump(mode="json", exclude_unset=True)
        speed_doc.update(low=lo, high=hi)
        doc["action_space"]["speed"] = Range.model_validate(speed_doc).model_dump(mode="json")
        return ModelMetadata.model_validate(doc), 0
    moved = [_set_speed(a, _clamp(f(a.speed), L.MIN_SPEED, L.MAX_SPEED)) for a in space]
    kept, dropped = dedupe(moved)
    return _replace(meta, kept), dropped


def shift_speeds(meta: ModelMetadata, delta: float) -> tuple[ModelMetadata, int]:
    """Add ``delta`` m/s to every speed (clamped)."""
    return map_speeds(meta, lambda v: v + delta)


def scale_speeds(meta: ModelMetadata, factor: float) -> tuple[ModelMetadata, int]:
    """Multiply every speed by ``factor`` (clamped)."""
    if factor <= 0:
        raise UsageError(f"--speed-scale must be above 0, got {factor:g}")
    return map_speeds(meta, lambda v: v * factor)


def _discrete_only(meta: ModelMetadata, what: str) -> None:
    if meta.is_continuous:
        raise UsageError(f"{what} applies to discrete action spaces; this one is continuous")


def add_actions(meta: ModelMetadata, pairs: Sequence[tuple[float, float]]) -> ModelMetadata:
    """Append actions (steering, speed) at the end of the list."""
    _discrete_only(meta, "adding actions")
    added = [make_action(round(s, DECIMALS) + 0.0, round(v, DECIMALS) + 0.0) for s, v in pairs]
    return _replace(meta, [*meta.actions, *added])


def drop_actions(meta: ModelMetadata, positions: Sequence[int]) -> ModelMetadata:
    """Remove the actions at these list positions (0-based, as the console's index)."""
    _discrete_only(meta, "dropping actions")
    n = len(meta.actions)
    bad = [p for p in positions if not 0 <= p < n]
    if bad:
        raise UsageError(f"--drop {bad[0]}: no such action; positions run 0..{n - 1}")
    drop = set(positions)
    return _replace(meta, [a for i, a in enumerate(meta.actions) if i not in drop])


def sort_actions(meta: ModelMetadata) -> ModelMetadata:
    """Order actions by steering angle (right to left), then speed (slow to fast)."""
    _discrete_only(meta, "sorting")
    return _replace(meta, sorted(meta.actions, key=lambda a: (a.steering_angle, a.speed)))


def reindex(meta: ModelMetadata, with_index: bool = True) -> ModelMetadata:
    """Write ``index`` = list position on every action (or remove all indexes)."""
    _discrete_only(meta, "re-indexing")
    return _replace(meta, list(meta.actions), indexed=with_index)


def set_version(meta: ModelMetadata, version: str) -> ModelMetadata:
    doc = meta.to_dict()
    doc["version"] = version
    return ModelMetadata.model_validate(doc)


@dataclass(frozen=True)
class Edits:
    """The edits of ``pitstop action-space edit``; None / empty: not asked for."""

    drop: tuple[int, ...] = ()
    add: tuple[tuple[float, float], ...] = ()
    speed_shift: float | None = None
    speed_scale: float | None = None
    sort: bool = False
    reindex: bool = False
    no_index: bool = False
    set_version: str | None = None


def apply_edits(meta: ModelMetadata, e: Edits) -> tuple[ModelMetadata, list[str]]:
    """Apply the edits in their one order: drop (positions of the input), add, shift or
    scale the speeds, sort, (re)index, set the version. Returns the result and notes for
    the user (actions merged at a speed limit)."""
    if e.speed_shift is not None and e.speed_scale is not None:
        raise UsageError("give --speed-shift or --speed-scale, not both")
    notes = []
    if e.drop:
        meta = drop_actions(meta, e.drop)
    if e.add:
        meta = add_actions(meta, e.add)
    dropped = 0
    if e.speed_shift is not None:
        meta, dropped = shift_speeds(meta, e.speed_shift)
    if e.speed_scale is not None:
        meta, dropped = scale_speeds(meta, e.speed_scale)
    if dropped:
        notes.append(f"{dropped} action(s) became duplicates at the speed limit and were dropped")
    if e.sort:
        meta = sort_actions(meta)
    if e.reindex:
        meta = reindex(meta, True)
    if e.no_index:
        meta = reindex(meta, False)
    if e.set_version is not None:
        meta = set_version(meta, e.set_version)
    return meta, notes
