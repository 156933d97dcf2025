"""``simulate --plot``: a run far longer than the shipped policy's stays off the x axis
(its end and cost written at the edge), and a policy on the shipped one's path leaves it
visible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pitstop.simulate import engine
from pitstop.simulate.plot import CLIP, figure, x_span
from pitstop.simulate.traces import load_trace

pytest.importorskip("matplotlib")


def _trace(tmp_path: Path) -> Path:
    # unavailable-is-1: 0 = spot. An hour of spot, 20 minutes without, thirty times, then
    # a long stretch: only there does a job restarted from scratch get its 2 hours in one go
    data = ([0] * 6 + [1] * 2) * 30 + [0] * 40
    p = tmp_path / "t.json"
    p.write_text(json.dumps({"metadata": {"gap_seconds": 600}, "data": data}))
    return p


def _results(tmp_path: Path) -> tuple[object, list[engine.Result]]:
    trace = load_trace(_trace(tmp_path))
    setup = engine.Setup(job=engine.TrainingJob(2, 15, 5), record=True)
    return trace, [engine.simulate(p, trace, setup) for p in engine.POLICIES]


def test_a_run_far_longer_than_pitstops_is_off_the_scale_and_annotated(tmp_path: Path) -> None:
    trace, results = _results(tmp_path)
    by = {r.policy: r for r in results}
    pitstop, scratch = by["pitstop"], by["restart-from-scratch"]
    assert scratch.wall_h > 3 * CLIP * pitstop.wall_h  # the case of the issue
    span, off = x_span(results, hours=2)
    assert off == [scratch] and span < scratch.wall_h
    fig = figure(trace, results, offset_h=0, hours=2)  # type: ignore[arg-type]
    _, ax_p, ax_c = fig.axes
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        assert lo == 0 and hi == pytest.approx(span)
        # every run that is not off the scale ends inside the axis
        assert all(r.wall_h <= hi for r in results if r is not scratch)
    # the off-scale run's end and its total, at the edge of both panels, in its colour
    for ax, total in ((ax_p, f"{scratch.trained_h:.1f} h trained"), (ax_c, f"${scratch.cost:.2f}")):
        (note,) = [t for t in ax.texts if t.get_text().startswith("restart-from-scratch")]
        assert f"at {scratch.wall_h:.1f} h" in note.get_text() and total in note.get_text()
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert any(s.startswith("restart-from-scratch") and "off the scale" in s for s in labels)
    # the cost axis fits what is shown, not the off-scale run's total
    assert ax_c.get_ylim()[1] < scratch.cost


def test_the_pitstop_line_is_wide_and_underneath_the_others_dashed_on_top(tmp_path: Path) -> None:
    trace, results = _results(tmp_path)
    fig = figure(trace, results, offset_h=0, hours=2)  # type: ignore[arg-type]
    _, ax_p, ax_c = fig.axes
    for ax in (ax_p, ax_c):
        lines = {str(ln.get_color()): ln for ln in ax.get_lines()}
        green, red = lines["tab:green"], lines["tab:red"]
        assert green.get_linestyle() == "-" and red.get_linestyle() != "-"
        assert green.get_linewidth() > red.get_linewidth()
        assert green.get_zorder() < red.get_zorder()  # red drawn over it, thinner: both show


def test_without_the_shipped_policy_nothing_is_clipped() -> None:
    class R:
        def __init__(self, policy: str, wall_h: float) -> None:
            self.policy, self.wall_h = policy, wall_h

    runs = [R("on-demand", 2.0), R("restart-from-scratch", 50.0)]
    span, off = x_span(runs, hours=2)  # type: ignore[arg-type]
    assert off == [] and span >= 50.0
