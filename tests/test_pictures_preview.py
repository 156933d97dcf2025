"""``reward preview --speeds``: the page lays its heat maps out in a balanced grid, never one
panel alone on a row of its own (four speeds: 2 x 2)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from pitstop.cli.main import main
from pitstop.reward_funcs import catalog, preview


@pytest.mark.parametrize(
    ("n", "cols"), [(1, 1), (2, 2), (3, 3), (4, 2), (5, 3), (6, 3), (7, 4), (8, 4), (9, 3)]
)
def test_columns_keep_the_rows_balanced(n: int, cols: int) -> None:
    assert preview.columns(n) == cols


@pytest.mark.parametrize("n", range(2, 13))
def test_no_panel_is_alone_on_its_row(n: int) -> None:
    cols = preview.columns(n)
    rows = math.ceil(n / cols)
    last = n - (rows - 1) * cols
    assert last >= 2 or n == 1
    assert rows * cols - n < cols  # no empty row


def _grid_columns(page: str) -> int:
    m = re.search(r"\.grid\{display:grid;grid-template-columns:repeat\((\d+),", page)
    assert m, page[:400]
    return int(m.group(1))


def test_page_puts_its_figures_in_the_grid() -> None:
    figs = [(float(s), f"p-{s}mps.png") for s in (1, 2, 3, 4)]
    page = preview.page_html("r.py", "Oval_track", 0.0, (0.0, 1.0), figs)
    assert _grid_columns(page) == 2
    grid = page[page.index("<div class='grid'>") :]
    assert grid.count("<figure>") == 4 and "flex" not in page


@pytest.mark.slow
def test_cli_four_speeds_make_a_two_by_two_page(tmp_path: Path) -> None:
    lib = tmp_path / "s.py"
    lib.write_text(catalog.get("all_wheels_speed").source())
    out = tmp_path / "page.html"
    args = ["reward", "preview", str(lib), "--track", "Straight_track", "--out", str(out)]
    assert main([*args, "--speeds", "1,2,3,4"]) == 0
    page = out.read_text()
    assert _grid_columns(page) == 2
    assert re.findall(r'<img src="([^"]+)"', page) == [f"page-{s}mps.png" for s in (1, 2, 3, 4)]
    assert main([*args, "--speeds", "1,2,3"]) == 0
    assert _grid_columns(out.read_text()) == 3
