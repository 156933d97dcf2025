"""The preview PNG is real: track drawn, a reward gradient, a colour bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitstop import tracks
from pitstop.cli.main import main
from pitstop.reward_funcs import catalog, preview

BAD = Path(__file__).parent / "bad"


def test_centerline_grid_has_a_gradient_from_centre_to_border() -> None:
    track = tracks.load("Oval_track")
    grid = preview.compute(catalog.get("centerline").source(), "centerline.py", track, speed=2.0)
    vals = grid.values[grid.mask]
    assert np.isfinite(vals).all() and vals.size > 5000
    assert vals.max() > 0.95 and vals.min() < 0.2  # 1.0 on the centre line, ~0 at the borders
    assert np.isnan(grid.values[~grid.mask]).all()  # nothing drawn off the road
    # the cell nearest a centre waypoint scores more than the one nearest its border
    c, o = track.centre[5], (track.centre[5] + track.outer[5]) / 2.0 * 0.1 + track.outer[5] * 0.9

    def at(p: np.ndarray) -> float:
        ix = int(np.argmin(abs(grid.xs - p[0])))
        iy = int(np.argmin(abs(grid.ys - p[1])))
        return float(grid.values[iy, ix])

    assert at(c) > 0.9 > at(o)


@pytest.mark.slow
def test_heading_offset_changes_a_heading_reward() -> None:
    track = tracks.load("Oval_track")
    src = catalog.get("heading_alignment").source()
    along = preview.compute(src, "h.py", track, heading_offset=0.0)
    across = preview.compute(src, "h.py", track, heading_offset=60.0)
    assert np.nanmean(along.values) > 0.8 > 0.01 >= np.nanmax(across.values)


@pytest.mark.slow
def test_cli_writes_a_png_with_colour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib.image as mpimg

    out = tmp_path / "reward.png"
    lib = tmp_path / "c.py"
    lib.write_text(catalog.get("centerline").source())
    rc = main(
        ["reward", "preview", str(lib), "--track", "Oval_track", "--out", str(out), "--speed", "3"]
    )
    assert rc == 0, capsys.readouterr().err
    img = mpimg.imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 600
    rgb = img[..., :3].reshape(-1, 3)
    colours = np.unique((rgb * 255).astype(int), axis=0)
    assert len(colours) > 50  # a heat map and a colour bar, not a blank canvas


@pytest.mark.slow
def test_cli_html_page_with_several_speeds(tmp_path: Path) -> None:
    lib = tmp_path / "s.py"
    lib.write_text(catalog.get("all_wheels_speed").source())
    out = tmp_path / "page.html"
    rc = main(
        [
            "reward",
            "preview",
            str(lib),
            "--track",
            "Straight_track",
            "--out",
            str(out),
            "--speeds",
            "1,4",
        ]
    )
    assert rc == 0
    page = out.read_text()
    assert "page-1mps.png" in page and "page-4mps.png" in page
    assert (tmp_path / "page-1mps.png").stat().st_size > 1000


def test_cli_preview_of_a_bad_file_is_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.png"
    rc = main(
        ["reward", "preview", str(BAD / "import_os.py"), "--track", "Oval_track", "--out", str(out)]
    )
    assert rc == 1
    assert "import of 'os' is not allowed" in capsys.readouterr().err
    assert not out.exists()
    rc = main(
        [
            "reward",
            "preview",
            str(BAD / "returns_none.py"),
            "--track",
            "Oval_track",
            "--out",
            str(out),
        ]
    )
    assert rc == 1
    assert "returned None, not a float for params" in capsys.readouterr().err
    rc = main(["reward", "preview", str(BAD / "returns_nan.py"), "--out", str(tmp_path / "x.jpg")])
    assert rc == 2


@pytest.mark.slow
def test_the_colour_bar_is_as_tall_as_the_map_and_the_legend_shows_every_line() -> None:
    track = tracks.load("reInvent2019_track")
    grid = preview.compute(catalog.get("centerline").source(), "c.py", track, speed=2.0)
    fig = preview.draw(grid, track, title="t")
    fig.canvas.draw()
    ax, cax = fig.axes
    m, b = ax.get_window_extent(), cax.get_window_extent()
    assert abs(m.height - b.height) <= 0.01 * m.height and abs(m.y0 - b.y0) <= 2
    legend = ax.get_legend()
    assert legend.get_window_extent().y1 < m.y0  # below the map, never over the road
    frame = legend.get_frame().get_facecolor()
    centre = next(
        h
        for h, t in zip(legend.legend_handles, legend.get_texts(), strict=True)
        if t.get_text() == "centre line"
    )
    from matplotlib.colors import to_rgb

    contrast = abs(sum(to_rgb(centre.get_color())) - sum(frame[:3])) / 3
    assert contrast > 0.2  # the white centre line stands out on the legend's background


@pytest.mark.slow
def test_several_speeds_share_one_colour_scale(tmp_path: Path) -> None:
    track = tracks.load("Oval_track")
    src = catalog.get("combined").source()
    ranges = [preview.value_range([preview.compute(src, "c.py", track, speed=s)]) for s in (1, 4)]
    assert ranges[0] != ranges[1]  # each speed alone would get its own scale
    lines: list[str] = []
    out, scale = preview.preview_html(
        src, "c.py", track, tmp_path / "p.html", speeds=[1.0, 4.0], progress=lines.append
    )
    assert scale == (min(r[0] for r in ranges), max(r[1] for r in ranges))
    assert f"reward {scale[0]:.3g} to {scale[1]:.3g}" in out.read_text()
    assert any("(2 of 2)" in line for line in lines)  # progress for the seconds it takes
    grid = preview.compute(src, "c.py", track, speed=4.0)
    fig = preview.draw(grid, track, title="t", scale=scale, scale_label="shared")
    assert fig.axes[0].images[0].get_clim() == scale
    assert fig.axes[1].get_ylabel() == "shared"
