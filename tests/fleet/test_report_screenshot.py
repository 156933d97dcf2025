"""The HTML report opened in headless Chromium: the charts are visible (skipped without Chromium).

Set ``PITSTOP_REPORT_SCREENSHOT=/some/file.png`` to keep the screenshot and look at it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pitstop.cli.main import main
from tests.serve.browser import CHROMIUM, headless


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_screenshot_shows_the_charts(history: str, tmp_path: Path) -> None:
    from matplotlib import image

    report = tmp_path / "report.html"
    assert main(["report", "--out", str(report), "--spot-price", "0.6"]) == 0
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                *headless(profile),
                f"--screenshot={shot}",
                "--window-size=1400,2000",
                f"file://{report}",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert shot.is_file(), "chromium wrote no screenshot"
    if os.environ.get("PITSTOP_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["PITSTOP_REPORT_SCREENSHOT"])
    pixels = image.imread(str(shot))
    # the chart's coloured lines (attempt colours, restart/preemption markers) are on the page
    rgb = pixels[..., :3]
    coloured = ((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.3).sum()
    assert coloured > 2000, f"only {coloured} coloured pixels: no chart visible"
