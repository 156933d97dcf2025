"""``pitstop report``'s job chart: a stall, a crash and a preemption each get their own line
style and marker, named in a legend."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from pitstop.fleet.progress import Curve
from pitstop.fleet.report import chart_figure, chart_png, event_style

pytest.importorskip("matplotlib")


def _curves() -> list[Curve]:
    out = []
    for n, outcome in enumerate(["stalled", "crashed", "preempted", "stop_failed", None], 1):
        eps = list(range((n - 1) * 20, n * 20))
        out.append(
            Curve(
                attempt=n,
                outcome=outcome,
                episodes=eps,
                reward=[float(e % 20) for e in eps],
                completion=[min(100.0, 5.0 * (e % 20)) for e in eps],
            )
        )
    return out


def _events(ax: Any) -> list[Any]:
    return [ln for ln in ax.get_lines() if str(ln.get_gid() or "").startswith("event:")]


def test_stall_crash_and_preemption_each_have_their_own_style_and_legend_entry() -> None:
    fig = chart_figure(_curves(), "job")
    ax1, ax2 = fig.axes
    by_kind: dict[str, set[tuple[str, str, str]]] = {}
    for ln in _events(ax1):
        kind = ln.get_gid().removeprefix("event:")
        if ln.get_marker() not in ("None", None, ""):  # the marker on the top edge
            key = (str(ln.get_marker()), str(ln.get_color()), str(ln.get_linestyle()))
            by_kind.setdefault(kind, set()).add(key)
    # four boundaries: after the stall, the crash, the preemption and the failed stop (a crash)
    assert set(by_kind) == {"stall", "crash", "preemption"}
    assert all(len(v) == 1 for v in by_kind.values())  # one style per kind
    styles = [next(iter(v)) for v in by_kind.values()]
    assert len({m for m, _, _ in styles}) == 3  # three markers
    assert len({c for _, c, _ in styles}) == 3  # three colours
    assert len({s for _, _, s in styles}) == 3  # three line styles
    # the vertical lines, in both panels, carry their kind's colour and style
    for ax in (ax1, ax2):
        lines = [ln for ln in _events(ax) if ln.get_marker() in ("None", None, "")]
        assert len(lines) == 4
        stall = [ln for ln in lines if ln.get_gid() == "event:stall"]
        crash = [ln for ln in lines if ln.get_gid() == "event:crash"]
        assert len(stall) == 1 and len(crash) == 2
        assert stall[0].get_linestyle() != crash[0].get_linestyle()
        assert stall[0].get_color() != crash[0].get_color()
    legend = ax2.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["stall", "crash", "preemption"]
    markers = [h.get_marker() for h in legend.legend_handles]
    assert len(set(markers)) == 3


def test_event_style_sorts_outcomes_into_kinds() -> None:
    assert event_style("stalled")[0] == "stall"
    assert event_style("crashed")[0] == event_style("stop_failed")[0] == "crash"
    assert event_style("lease_lost")[0] == event_style("interrupted")[0] == "preemption"
    assert event_style(None)[0] == event_style("succeeded")[0] == "attempt ended"


def test_chart_png_is_a_png_data_uri(tmp_path: Path) -> None:
    uri = chart_png(_curves(), "job")
    head, data = uri.split(",", 1)
    assert head == "data:image/png;base64"
    png = base64.b64decode(data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "chart.png").write_bytes(png)
