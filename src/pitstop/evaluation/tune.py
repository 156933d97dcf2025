"""Speed tuning without retraining: raise every action's speed until laps stop improving.

The same model gives a different lap each time, so each candidate speed scale is evaluated
``evaluations`` times and judged by its best complete lap. The search (pure, in
``next_scale``) grows the scale geometrically while laps improve; once a candidate is no
better than the best so far, or leaves the track more than ``max_off_track_rate`` times a
lap, it tries once between the best and its neighbours, then stops. ``tune`` drives it with
any way of evaluating a scale: evaluation jobs on the fleet (the CLI), or the lap model
directly (the benchmark).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    scale: float
    best_laps_ms: list[int | None]  # each evaluation's best complete lap (None: none)
    laps: int  # laps driven over every evaluation
    off_tracks: int
    job_ids: list[str] = field(default_factory=list)

    @property
    def best_ms(self) -> int | None:
        done = [t for t in self.best_laps_ms if t is not None]
        return min(done) if done else None

    @property
    def off_track_rate(self) -> float:
        return self.off_tracks / self.laps if self.laps else 0.0


@dataclass(frozen=True)
class TunePolicy:
    start: float = 1.0
    growth: float = 0.15  # each step multiplies the scale by 1 + growth
    evaluations: int = 3  # per candidate
    max_off_track_rate: float = 0.5  # off-tracks per lap beyond which a candidate is out
    max_scale: float = 3.0
    max_candidates: int = 20

    def __post_init__(self) -> None:
        if not (0 < self.start <= self.max_scale <= 3.0):
            raise ValueError("scales must satisfy 0 < start <= max_scale <= 3")
        if not (0.01 <= self.growth <= 1.0):
            raise ValueError("growth must be between 0.01 and 1")
        if self.evaluations < 1 or self.max_candidates < 1:
            raise ValueError("evaluations and max_candidates must be at least 1")


def _key(c: Candidate) -> tuple[int, float]:
    """Smaller is better: a complete lap first, then its time, then fewer off-tracks."""
    return (c.best_ms if c.best_ms is not None else 1 << 62, c.off_track_rate)


def winner(history: list[Candidate], max_off_track_rate: float = 0.5) -> Candidate | None:
    """The best candidate with a complete lap that stays on the track often enough."""
    usable = [
        c for c in history if c.best_ms is not None and c.off_track_rate <= max_off_track_rate
    ]
    return min(usable, key=_key) if usable else None


def next_scale(policy: TunePolicy, history: list[Candidate]) -> float | None:
    """The next scale to evaluate, or None: done."""
    if not history:
        return policy.start
    if len(history) >= policy.max_candidates:
        return None
    tried = {round(c.scale, 3) for c in history}
    best = winner(history, policy.max_off_track_rate)
    last = history[-1]
    growing = best is last
    if growing:
        nxt = round(min(policy.max_scale, last.scale * (1 + policy.growth)), 3)
        return nxt if nxt not in tried else None
    if best is None:
        return None
    # refine once: halfway towards each neighbour of the best that was tried
    ordered = sorted(c.scale for c in history)
    i = ordered.index(best.scale)
    for j in (i + 1, i - 1):
        if 0 <= j < len(ordered):
            mid = round((best.scale + ordered[j]) / 2, 3)
            if mid not in tried and abs(mid - best.scale) >= 0.005:
                return mid
    return None


def tune(
    policy: TunePolicy,
    evaluate: Callable[[float, int], Candidate],
    on_candidate: Callable[[Candidate], None] | None = None,
) -> tuple[list[Candidate], Candidate | None]:
    """Run the search; ``evaluate(scale, n)`` evaluates one candidate ``n`` times."""
    history: list[Candidate] = []
    while (scale := next_scale(policy, history)) is not None:
        cand = evaluate(scale, policy.evaluations)
        history.append(cand)
        if on_candidate is not None:
            on_candidate(cand)
    return history, winner(history, policy.max_off_track_rate)
