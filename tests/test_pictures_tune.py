"""tune.png: a candidate rejected for leaving the track is drawn as rejected, never starred,
and the star sits on the chosen candidate with the reason in the title."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitstop.evaluation.tune import Candidate, winner
from pitstop.evaluation.tune_files import plot_tune, tune_figure

pytest.importorskip("matplotlib")


def _c(scale: float, best_ms: int | None, off: int, laps: int = 9) -> Candidate:
    return Candidate(scale, [best_ms], laps, off)


# x2.86 is faster than x2.69 but leaves the track 7 times in 9 laps (limit 0.5 a lap)
HISTORY = [
    _c(1.0, 36000, 0),
    _c(2.0, 18000, 0),
    _c(2.86, 13000, 7),
    _c(2.69, 14000, 3),
    _c(2.5, 15000, 0),
]


def _line(ax, label_start: str):  # type: ignore[no-untyped-def]
    found = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith(label_start)]
    assert len(found) == 1, [ln.get_label() for ln in ax.get_lines()]
    return found[0]


def test_the_faster_candidate_rejected_for_off_tracks_is_shown_rejected_and_not_starred() -> None:
    best = winner(HISTORY, 0.5)
    assert best is not None and best.scale == 2.69
    fig = tune_figure(HISTORY, best, max_off_track_rate=0.5)
    laps_ax, off_ax = fig.axes
    star = _line(laps_ax, "chosen")
    assert list(star.get_xdata()) == [2.69] and star.get_marker() == "*"
    assert list(star.get_ydata()) == [14.0]
    for ax in (laps_ax, off_ax):
        rejected = _line(ax, "rejected")
        assert list(rejected.get_xdata()) == [2.86]
        kept = _line(ax, "kept")
        assert 2.86 not in list(kept.get_xdata()) and 2.69 in list(kept.get_xdata())
        assert rejected.get_marker() != kept.get_marker()
        assert rejected.get_color() != kept.get_color()
    # the limit is drawn where the rejection happens, and the title says why
    limit = _line(off_ax, "the limit")
    assert list(limit.get_ydata()) == [0.5, 0.5]
    title = laps_ax.get_title()
    assert "x2.69" in title and "x2.86" in title and "rejected" in title
    assert {t.get_text() for t in laps_ax.get_legend().get_texts()} >= {
        "rejected: off-track/lap > 0.5",
        "chosen x2.69: the fastest kept",
    }


def test_no_winner_says_so_and_stars_nothing() -> None:
    history = [_c(2.0, 15000, 9), _c(2.5, None, 9)]
    fig = tune_figure(history, None, max_off_track_rate=0.5)
    laps_ax = fig.axes[0]
    assert not [ln for ln in laps_ax.get_lines() if ln.get_marker() == "*"]
    assert laps_ax.get_title().startswith("no winner")


def test_plot_tune_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "tune.png"
    assert plot_tune(HISTORY, winner(HISTORY, 0.5), out, pytest.fail, max_off_track_rate=0.5)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
